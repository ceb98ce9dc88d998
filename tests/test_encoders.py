"""The video encoder: NVENC where it opens (here it never does: no GPU), libx264 otherwise."""

from __future__ import annotations

import logging

import pytest

from aura.errors import SystemCheckError
from aura.media import encoders


def test_auto_falls_back_to_libx264_with_one_line_when_nvenc_does_not_open(tmp_path, caplog):
    problem = encoders.nvenc_problem()
    assert problem is not None  # no NVIDIA GPU on the machines that run the tests
    assert "h264_nvenc" in problem
    with caplog.at_level(logging.INFO, logger="aura.media"):
        chosen = [encoders.choose_encoder("auto", "veryfast", 21, tmp_path) for _ in range(3)]
    assert all(c.name == "libx264" and c.options == {"vcodec": "libx264", "preset": "veryfast", "crf": 21} for c in chosen)
    said = [r.message for r in caplog.records if "encoded with libx264" in r.message]
    assert len(said) <= 1  # once per process, however many renders
    assert not (tmp_path / "nvenc-cq.json").exists()


def test_asking_for_nvenc_where_it_does_not_open_names_the_setting(tmp_path):
    with pytest.raises(SystemCheckError, match="AURA_VIDEO_ENCODER=h264_nvenc: .*use auto or libx264"):
        encoders.choose_encoder("h264_nvenc", "veryfast", 21, tmp_path)
    assert encoders.choose_encoder("libx264", "fast", 18, tmp_path).options["crf"] == 18


def test_the_quality_match_is_measured_by_psnr():
    """The bisection NVENC's cq is measured with, run on an encoder this machine has: libx264 against itself at
    crf 23 must find 23 exactly (its PSNR falls as the level rises, and 24 is already below crf 23's)."""
    assert encoders.calibrate(lambda q: ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(q)], 23, "veryfast") == 23
