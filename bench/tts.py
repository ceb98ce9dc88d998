"""Benchmark: the offline TTS engines on this machine: load, first audio, real-time factor, word timing.

For espeak-ng and Piper (the packaged en_US-joe-medium voice), in a fresh process each:
- load: the first call's extra cost (the library, Piper's ONNX model patched for alignments);
- first audio: seconds until a scene's first sentence is spoken (warm, the median of the corpus);
- real-time factor: synthesis seconds per second of speech over the whole corpus (lower is faster);
then the word-timing estimator's error against each engine's measured timings (bench/word_timing.py).
Not a test: it prints figures and a Markdown table for README.md. Run:
    .venv/bin/python bench/tts.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ONE_ENGINE = """
import json, statistics, sys, time
sys.path.insert(0, sys.argv[2])
from bench.word_timing import CORPUS
from aura.providers.tts.espeak import EspeakTTS
from aura.providers.tts.piper_provider import PiperTTS
from aura.providers.tts.timing import split_phrases
engine = {"piper": PiperTTS, "espeak-ng": EspeakTTS}[sys.argv[1]]()
started = time.perf_counter()
engine.synthesize("Hello there.")
cold = time.perf_counter() - started
started = time.perf_counter()
engine.synthesize("Hello there.")
warm = time.perf_counter() - started
firsts, spent, spoken = [], 0.0, 0.0
for scene in CORPUS:
    started = time.perf_counter()
    engine.synthesize(split_phrases(scene)[0])
    firsts.append(time.perf_counter() - started)
    started = time.perf_counter()
    speech = engine.synthesize(scene)
    spent += time.perf_counter() - started
    spoken += speech.duration
print(json.dumps({"load": cold - warm, "first": statistics.median(firsts), "rtf": spent / spoken, "speech": spoken}))
"""


def main() -> None:
    from bench.word_timing import measure

    print("| engine | load | first audio (median) | real-time factor | speech timed | word start error: median | p95 |")
    print("|---|---|---|---|---|---|---|")
    for name in ("espeak-ng", "piper"):
        proc = subprocess.run([sys.executable, "-c", ONE_ENGINE, name, str(ROOT)], capture_output=True, text=True, check=True)
        figures = json.loads(proc.stdout.strip().splitlines()[-1])
        timing = measure(name)
        print(f"| {name} | {figures['load']:.2f} s | {figures['first'] * 1000:.0f} ms | {figures['rtf']:.3f} | "
              f"{figures['speech']:.0f} s | {timing.median:.0f} ms | {timing.p95:.0f} ms |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
