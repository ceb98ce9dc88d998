#!/usr/bin/env bash
# Set up a fresh machine: install what is missing (ffmpeg, fonts, a Python venv
# with Aura), then make a demo video offline. Safe to run again.
#   AURA_SKIP_DEMO=1  skip the demo video
#   PYTHON=python3.11 choose the interpreter for the venv
#   AURA_EXTRAS=sd,rag,piper optional parts: Stable Diffusion (sd), reference embeddings (rag)
#                     and the Piper neural voice (piper, GPL-3.0); set it empty for the light
#                     offline install without torch
#   AURA_TORCH=...    the torch requirement installed before the extras (default torch==2.13.0;
#                     on a GPU machine install the CUDA build of your choice first)
#   AURA_SKIP_BROWSER=1 no Chromium (the browser test of the gateway's page is then skipped)
#   AURA_POSTGRES=1   PostgreSQL too, for `deployments/local.py up --database postgres` (and its tests)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
apt_packages=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || apt_packages+=(ffmpeg)
command -v fc-list >/dev/null || apt_packages+=(fontconfig)
# grep without -q: with pipefail, an early exit of grep would fail fc-list with SIGPIPE
fc_has() { command -v fc-list >/dev/null && fc-list 2>/dev/null | grep -i "$1" >/dev/null; }
fc_has DejaVuSans || apt_packages+=(fonts-dejavu-core)
fc_has NotoSans-Bold || apt_packages+=(fonts-noto-core)  # Arabic, Devanagari, Hebrew, Thai...
fc_has NotoSansCJK || apt_packages+=(fonts-noto-cjk)     # Chinese, Japanese, Korean
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || apt_packages+=(python3-venv)
command -v melt >/dev/null || apt_packages+=(melt)  # renders the MLT timeline export (its test compares it with Aura's MP4)
# the gateway page's browser test: Debian's Chromium and its driver (AURA_SKIP_BROWSER=1: without them)
if [ "${AURA_SKIP_BROWSER:-0}" != 1 ]; then
  command -v chromium >/dev/null || apt_packages+=(chromium)
  command -v chromedriver >/dev/null || apt_packages+=(chromium-driver)
fi

# PostgreSQL for the Prefect server under load (deployments/local.py up --database postgres)
if [ "${AURA_POSTGRES:-0}" = 1 ] && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && ! command -v initdb >/dev/null; then
  apt_packages+=(postgresql)
fi

if ((${#apt_packages[@]})); then
  echo "setup: installing ${apt_packages[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_packages[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned: left to the extras' resolver, pip may pick a multi-GB build
EXTRAS=${AURA_EXTRAS-sd,rag,piper}
if [[ ",$EXTRAS," =~ ,(sd|rag), ]] && ! .venv/bin/python -c 'import torch' 2>/dev/null; then
  echo "setup: installing ${AURA_TORCH:-torch==2.13.0}"
  .venv/bin/python -m pip install -q "${AURA_TORCH:-torch==2.13.0}"
fi
# the project itself, with test tools and the chosen extras
.venv/bin/python -m pip install -q -e ".[test${EXTRAS:+,$EXTRAS}]"

# Prefect's database, made once here: a first run's server then starts in ~3 s instead of
# migrating a new database while the run waits (~9 s on 2 cores). Not for a remote server.
if [ -z "${PREFECT_API_URL:-}" ]; then
  echo "setup: preparing Prefect's database"
  if ! .venv/bin/prefect server database upgrade -y >/tmp/aura-setup-prefect-db.log 2>&1; then
    tail -5 /tmp/aura-setup-prefect-db.log >&2
    echo "setup: Prefect's database could not be prepared (above); the first run will make it" >&2
  fi
fi

if [ -z "${AURA_SKIP_DEMO:-}" ]; then
  echo "setup: making a demo video offline (45 s, 9:16)"
  .venv/bin/aura generate "How volcanoes form" --duration 45 --aspect 9:16 --out demo
fi
echo "setup: done. Run the tests with: .venv/bin/python -m pytest"
