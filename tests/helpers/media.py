"""What a user checks in the files they get: streams, sizes, cues, loudness."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from aura.media.ffmpeg import ffmpeg_path

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


def pdf_bytes(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page (no PDF writer library needed)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in pages:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET"
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {len(objects)} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>"
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


MUSIC_HZ = 60  # below the voice's fundamental: a band-pass there hears the music, not the speech


def band_level_db(media: Path, start: float, end: float) -> float:
    """RMS level of the music's band (MUSIC_HZ) between two times, in dBFS."""
    proc = subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-nostdin", "-i", str(media), "-vn",
         "-af", f"atrim={start}:{end},pan=mono|c0=c0,bandpass=f={MUSIC_HZ}:width_type=h:w=8,astats=measure_overall=RMS_level:measure_perchannel=none",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(re.findall(r"RMS level dB: (-?[\d.]+|-inf)", proc.stderr)[-1])


def png_bomb(width: int, height: int, rgba: bool = False) -> bytes:
    """A valid PNG of blank pixels: small on disk (zlib of zeros), huge once decoded (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # 1-bit grey (875 KB at 30000x30000) or 8-bit RGBA; each row is a filter byte and its pixels
    depth, colour, row_bytes = (8, 6, 4 * width) if rgba else (1, 0, (width + 7) // 8)
    packer = zlib.compressobj(9)
    row = bytes(1 + row_bytes)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
