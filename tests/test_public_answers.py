"""What the gateway hands back is cut to the caller's own: no server path, no excerpt of the operator's documents."""

from __future__ import annotations

import pytest

from aura.api.public import public_metadata, without_paths


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("ffmpeg at /usr/bin/ffmpeg lacks libass", "ffmpeg at …/ffmpeg lacks libass"),
        ("references[0]: '/srv/in/notes/leak.md' is outside", "references[0]: '…/leak.md' is outside"),
        ("output folder /var/aura/out/ is not writable", "output folder …/out is not writable"),
        ("(model /models/sd-turbo: missing)", "(model …/sd-turbo: missing)"),
        ("see http://127.0.0.1:4200/api/flows and s3://bucket/store/x", "see http://127.0.0.1:4200/api/flows and s3://bucket/store/x"),
        ("1/2 of the way at 30 km/h, and/or 24/7", "1/2 of the way at 30 km/h, and/or 24/7"),
        ("a slash / alone", "a slash / alone"),
    ],
)
def test_absolute_paths_become_their_file_name_and_nothing_else_changes(text, shown):
    assert without_paths(text) == shown


def test_metadata_loses_paths_and_operator_excerpts_but_keeps_the_caller_s_words():
    metadata = {
        "request": {"brief": "What /dev/null is", "references": ["/srv/in/notes"], "music": "upload:ab.wav"},
        "references": [
            {"source": "notes.md", "origin": "request", "excerpt": "Tides follow the moon."},
            {"source": "house-style.md", "origin": "operator", "excerpt": "Our secret house style."},
            {"source": "old.md", "excerpt": "Written before origins were recorded."},
        ],
        "script": {"sources": [{"source": "house-style.md", "origin": "operator", "excerpt": "Our secret house style."}]},
        "warnings": ["stable-diffusion is not usable (AURA_SD_MODEL /opt/models/sd is not a folder)"],
    }
    public = public_metadata(metadata)
    assert public["request"] == {"brief": "What /dev/null is", "references": ["…/notes"], "music": "upload:ab.wav"}
    assert [("excerpt" in r) for r in public["references"]] == [True, False, True]
    assert "excerpt" not in public["script"]["sources"][0]
    assert public["warnings"] == ["stable-diffusion is not usable (AURA_SD_MODEL …/sd is not a folder)"]
    assert metadata["references"][1]["excerpt"]  # the job's own file is left as it was
