"""What a user checks in the files they get: streams, sizes, cues, loudness."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_SRT_TIME = re.compile(r"(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)")


@dataclass
class SrtCue:
    number: int
    start: float
    end: float
    lines: list[str]


def parse_srt(path: Path) -> list[SrtCue]:
    cues = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        lines = block.split("\n")
        match = _SRT_TIME.fullmatch(lines[1])
        assert match, f"bad SRT time line: {lines[1]!r}"
        g = [int(x) for x in match.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        cues.append(SrtCue(int(lines[0]), start, end, lines[2:]))
    return cues


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types in file order (faststart puts moov before mdat)."""
    boxes = []
    with open(path, "rb") as fh:
        while True:
            header = fh.read(8)
            if len(header) < 8:
                return boxes
            size, kind = int.from_bytes(header[:4], "big"), header[4:8].decode("latin-1")
            if size == 1:
                size = int.from_bytes(fh.read(8), "big")
                fh.seek(size - 16, 1)
            elif size == 0:
                boxes.append(kind)
                return boxes
            else:
                fh.seek(size - 8, 1)
            boxes.append(kind)
