"""Fault injection at the edge: an ffmpeg that fails, hangs or crawls on purpose, in front of the real one.

`faulty_ffmpeg(folder, fault)` writes an executable `ffmpeg` that runs the
real binary for every command except the one the fault targets:

- "crash-compose-once": the first composition (the libx264 encode) exits 1;
- "crash-loudness-once", "crash-loudness": the voice stage's first loudness
  pass, or every one, exits 1 (after the speech was paid for);
- "hang-compose": the composition never ends (it sleeps);
- "hang-loudness": the voice stage's loudness pass never ends;
- "realtime-compose": the composition runs the real ffmpeg at real-time speed
  (`-re` on every input), so there is time to cancel it mid-encode.

Each targeted call first writes `<fault>.started` in the folder with its pid,
so a test knows the stage is under way.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

from aura.media.ffmpeg import ffmpeg_path

_SCRIPT = """\
#!{python}
import os, sys, time
REAL, FOLDER, FAULT = {real!r}, {folder!r}, {fault!r}
args = sys.argv[1:]
if FAULT.endswith(("compose", "compose-once")):
    targeted = "libx264" in args  # the composition's encode
else:
    targeted = "ebur128" in " ".join(args) and "libx264" not in args  # the narration's loudness passes
if targeted:
    marker = os.path.join(FOLDER, FAULT + ".started")
    first = not os.path.exists(marker)
    with open(marker, "a") as fh:
        fh.write(str(os.getpid()) + "\\n")
    if FAULT.startswith("crash") and (first or not FAULT.endswith("-once")):
        sys.stderr.write("injected crash: ffmpeg died\\n")
        sys.exit(1)
    if FAULT.startswith("hang"):
        time.sleep(3600)
    if FAULT == "realtime-compose":
        paced = []
        for arg in args:
            if arg == "-i":
                paced.append("-re")
            paced.append(arg)
        args = paced
os.execv(REAL, [REAL, *args])
"""


def faulty_ffmpeg(folder: Path, fault: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ffmpeg"
    path.write_text(
        textwrap.dedent(_SCRIPT).format(python=sys.executable, real=_real_ffmpeg(), folder=str(folder), fault=fault)
    )
    path.chmod(0o755)
    return path


def _real_ffmpeg() -> str:
    configured = os.environ.get("AURA_FFMPEG")
    if configured and "faulty" not in configured:
        return configured
    return ffmpeg_path()


def started(folder: Path, fault: str) -> list[int]:
    """Pids of the targeted calls so far (empty until the stage reaches the fault)."""
    marker = folder / f"{fault}.started"
    return [int(line) for line in marker.read_text().split()] if marker.exists() else []
