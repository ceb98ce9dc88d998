"""What a caller of `aura serve` may make the server read: uploads and store keys, and nothing of its disk.

A real gateway over the session's Prefect server, making the videos itself.
Its operator allows one folder (AURA_INPUT_ROOTS) and keeps a reference
folder of their own (AURA_REFERENCE_DIR); a private file sits outside both.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from helpers.gateway import serving, sse_events, video_job_count
from helpers.media import MUSIC_HZ, band_level_db, parse_srt, pdf_bytes

from aura.media.ffmpeg import ffmpeg_path, ffprobe_path

pytestmark = pytest.mark.e2e

SECRET = "The vault code is 4711 and the password is swordfish"
FACT = "The Quellmoor lighthouse has 312 brass steps"
OPERATOR_NOTE = "House style: every narration greets the viewer by saying good day to everyone watching"
REQUEST = {"brief": "The Quellmoor lighthouse", "duration_seconds": 10, "aspect": "9:16", "seed": 3}
UPLOAD_MAX_MB = 1
TAGGED_PATH = "/home/someone/studio/bed-final.wav"


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    """The server's disk: a private file, a root the operator allows (with a link that leads out), their library."""
    base = tmp_path_factory.mktemp("server-disk")
    private, root, library = base / "private", base / "allowed", base / "library"
    for folder in (private, root / "notes", root / "tricky", library):
        folder.mkdir(parents=True)
    (private / "notes.md").write_text(f"# Private\n\n{SECRET}.\n")
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "sine=f=440:d=3", str(private / "bed.wav")], check=True)
    (root / "notes" / "lighthouse.md").write_text(f"# Quellmoor\n\n{FACT}, each polished by the keeper.\n")
    (root / "leak.md").symlink_to(private / "notes.md")
    (root / "tricky" / "ok.md").write_text("Lighthouses warn ships of rocks.\n")
    (root / "tricky" / "leak.md").symlink_to(private / "notes.md")  # the folder is inside, this file is not
    (library / "house-style.md").write_text(f"{OPERATOR_NOTE}.\n")
    return {"base": base, "private": private, "root": root, "library": library}


@pytest.fixture(scope="module")
def gateway(prefect_api_url, tmp_path_factory, disk):
    with serving(
        tmp_path_factory.mktemp("gateway-inputs"), prefect_api_url,
        AURA_INPUT_ROOTS=str(disk["root"]), AURA_REFERENCE_DIR=str(disk["library"]),
        AURA_UPLOAD_MAX_MB=str(UPLOAD_MAX_MB),
    ) as gateway:  # fmt: skip
        yield gateway


def uploads_kept(gateway) -> list[str]:
    folder = gateway.out / "uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def upload(api, name: str, data: bytes) -> httpx.Response:
    return api.post("/api/uploads", files={"file": (name, data)})


def finished(api, job_id: str) -> tuple[str, dict]:
    name, data = [(n, d) for n, d in sse_events(api, f"/api/videos/{job_id}/stream") if n != ":"][-1]
    return name, data


def no_server_path_in(text: str, disk, gateway) -> None:
    for where in (disk["base"], gateway.out, Path.home()):
        assert str(where) not in text, f"{where} leaked"


def test_the_request_that_read_a_private_file_is_refused_naming_references(api, disk):
    before = video_job_count()
    body = {"brief": "A short note", "duration_seconds": 10, "references": [str(disk["private"] / "notes.md")]}
    response = api.post("/api/videos/generate", json=body)
    assert response.status_code == 422
    message = response.json()["message"]
    assert message.startswith("references[0]:") and "POST /api/uploads" in message
    assert "4711" not in response.text and video_job_count() == before


@pytest.mark.parametrize(
    ("field", "entry"),
    [
        ("references", "{private}/notes.md"),
        ("references", "{root}/../private/notes.md"),
        ("references", "{root}/leak.md"),
        ("references", "{private}"),
        ("references", "file://{private}/notes.md"),
        ("references", "store:../private/notes.md"),
        ("references", "store:uploads/../../notes.md"),
        ("music", "{private}/bed.wav"),
        ("music", "file://{private}/bed.wav"),
        ("music", "store:../../bed.wav"),
    ],
)
def test_paths_links_folders_urls_and_climbing_keys_are_refused_with_the_field_named(api, disk, field, entry):
    before = video_job_count()
    entry = entry.format(private=disk["private"], root=disk["root"])
    value = [entry] if field == "references" else entry
    response = api.post("/api/videos/generate", json={**REQUEST, field: value})
    assert response.status_code == 422, response.text
    assert response.json()["message"].startswith(field)
    assert any(field in error["loc"] for error in response.json()["detail"])
    assert "4711" not in response.text and video_job_count() == before


def test_an_upload_nobody_sent_is_a_422_before_any_job(api):
    before = video_job_count()
    response = api.post("/api/videos/generate", json={**REQUEST, "references": ["upload:" + "0" * 64 + ".md"]})
    assert response.status_code == 422 and response.json()["message"].startswith("references[0]: the entry is no upload")
    assert "POST /api/uploads" in response.json()["message"] and video_job_count() == before


@pytest.fixture(scope="module")
def uploaded_job(api, gateway, tmp_path_factory):
    """A document and a music bed uploaded, then named by their refs: the job, followed to its end."""
    music = tmp_path_factory.mktemp("music") / "bed.wav"
    subprocess.run(
        [ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", f"sine=f={MUSIC_HZ}:d=12", "-ar", "8000",
         "-metadata", f"comment=made on {TAGGED_PATH}", str(music)],
        check=True,
    )  # fmt: skip
    notes = upload(api, "quellmoor-notes.md", f"# Quellmoor\n\n{FACT}, each polished by the keeper.\n".encode())
    bed = upload(api, "bed.wav", music.read_bytes())
    assert notes.status_code == bed.status_code == 201, (notes.text, bed.text)
    request = {**REQUEST, "references": [notes.json()["ref"]], "music": bed.json()["ref"]}
    created = api.post("/api/videos/generate", json=request)
    assert created.status_code == 202, created.text
    job_id = created.json()["jobId"]
    return {"id": job_id, "end": finished(api, job_id), "notes": notes.json(), "bed": bed.json(), "request": request}


def test_an_upload_answers_its_ref_name_size_and_sha256(uploaded_job, gateway):
    notes = uploaded_job["notes"]
    assert notes["ref"] == f"upload:{notes['sha256']}.md" and notes["name"] == "quellmoor-notes.md"
    assert notes["kind"] == "document" and notes["field"] == "references" and notes["size"] > 0
    assert uploaded_job["bed"]["kind"] == "audio" and uploaded_job["bed"]["field"] == "music"
    assert f"{notes['sha256']}.md" in uploads_kept(gateway)


def test_an_uploaded_reference_reaches_the_subtitles_and_the_music_is_mixed_in(api, gateway, uploaded_job, tmp_path):
    name, data = uploaded_job["end"]
    assert name == "done", data
    cues = parse_srt(gateway.out / uploaded_job["id"] / "subtitles.srt")
    subtitles = " ".join(" ".join(" ".join(cue.lines) for cue in cues).split())
    assert "312 brass steps" in subtitles
    video = tmp_path / "video.mp4"
    video.write_bytes(api.get(data["downloadUrl"]).content)
    assert band_level_db(video, 0.0, 9.5) > -60, "the uploaded music is not in the mix"
    tags = subprocess.run(
        [ffprobe_path(), "-v", "error", "-show_entries", "format_tags:stream_tags", "-of", "json", str(video)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert TAGGED_PATH not in tags  # no input's tags travel into the download


def test_the_metadata_names_sources_by_upload_and_carries_no_server_path(api, gateway, uploaded_job, disk):
    response = api.get(f"/api/videos/{uploaded_job['id']}/metadata")
    metadata = response.json()
    assert metadata["request"]["references"] == uploaded_job["request"]["references"]
    sources = {ref["source"]: ref for ref in metadata["references"]}
    assert "quellmoor-notes.md" in sources and "312 brass steps" in sources["quellmoor-notes.md"]["excerpt"]
    # the operator's own documents inform the script, but the caller gets no excerpt of them
    assert sources["house-style.md"]["origin"] == "operator" and "excerpt" not in sources["house-style.md"]
    assert all("excerpt" not in s for s in metadata["script"]["sources"] if s["origin"] == "operator")
    no_server_path_in(response.text, disk, gateway)
    no_server_path_in(api.get(f"/api/videos/{uploaded_job['id']}/status").text, disk, gateway)


def test_a_path_inside_an_allowed_root_is_read(api, gateway, disk):
    created = api.post("/api/videos/generate", json={**REQUEST, "seed": 8, "references": [str(disk["root"] / "notes")]})
    assert created.status_code == 202, created.text
    name, _ = finished(api, created.json()["jobId"])
    assert name == "done"
    response = api.get(f"/api/videos/{created.json()['jobId']}/metadata")
    assert "lighthouse.md" in {ref["source"] for ref in response.json()["references"]}
    no_server_path_in(response.text, disk, gateway)


def test_a_link_out_of_an_allowed_folder_fails_the_job_in_its_brief_without_reading_it(api, gateway, disk):
    created = api.post("/api/videos/generate", json={**REQUEST, "seed": 9, "references": [str(disk["root"] / "tricky")]})
    assert created.status_code == 202, created.text  # the folder is inside the root: only its files tell
    job_id = created.json()["jobId"]
    name, error = finished(api, job_id)
    assert name == "error" and error["stage"] == "brief", error
    assert "references[0]:" in error["message"] and "AURA_INPUT_ROOTS" in error["message"]
    status = api.get(f"/api/videos/{job_id}/status").text
    assert "4711" not in status and "4711" not in json.dumps(error)
    no_server_path_in(status, disk, gateway)
    assert not list((gateway.out / job_id).glob("*.srt"))


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [("tool.exe", b"MZ\x90\x00 an executable", 415), ("report.pdf", b"words pretending to be a PDF", 415),
     ("song.mp3", b"words pretending to be sound " * 50, 415), ("empty.md", b"", 422),
     ("scan.pdf", pdf_bytes([""]), 422)],
)  # fmt: skip
def test_a_wrong_type_is_refused_by_content_and_nothing_is_kept(api, gateway, name, data, status):
    before = uploads_kept(gateway)
    response = upload(api, name, data)
    assert response.status_code == status, response.text
    assert response.json()["detail"].startswith("file:")
    assert uploads_kept(gateway) == before


def test_an_upload_over_the_limit_is_a_413_and_nothing_is_kept(api, gateway):
    before = uploads_kept(gateway)
    for size in (UPLOAD_MAX_MB * 2**20 + 10, 3 * UPLOAD_MAX_MB * 2**20):  # over the file limit; over the body limit too
        response = upload(api, "long.txt", b"w" * size)
        assert response.status_code == 413, response.text[:300]
        assert "AURA_UPLOAD_MAX_MB" in response.json()["detail"] and len(response.content) < 500
    assert uploads_kept(gateway) == before


def test_an_upload_without_its_file_field_is_a_422_naming_it(api):
    response = api.post("/api/uploads", files={"document": ("notes.md", b"words")})
    assert response.status_code == 422 and response.json()["message"].startswith("file:")


def test_a_20_mb_body_is_refused_at_once_with_a_small_answer(api):
    body = json.dumps({**REQUEST, "audience": "x" * 20_000_000}).encode()
    started = time.monotonic()
    response = api.post("/api/videos/generate", content=body, headers={"content-type": "application/json"})
    elapsed = time.monotonic() - started
    assert response.status_code == 413 and len(response.content) < 300, response.text[:300]
    assert "1 MiB" in response.json()["detail"]
    print(f"20 MB body: 413 after {elapsed * 1000:.0f} ms")

    def chunks():  # no Content-Length: counted as it streams
        yield b'{"brief": "x", "audience": "'
        for _ in range(20):
            yield b"x" * 1_000_000
        yield b'"}'

    response = api.post("/api/videos/generate", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and len(response.content) < 300


def test_a_422_names_the_field_and_its_limit_without_echoing_the_value(api):
    response = api.post("/api/videos/generate", json={**REQUEST, "audience": "y" * 900_000})
    assert response.status_code == 422 and len(response.content) < 1000
    message = response.json()["message"]
    assert message.startswith("audience:") and "the limit is 200" in message
    assert "yyyy" not in response.text
