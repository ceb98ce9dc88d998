"""Uploads as the store keeps them: by content, checked by content, never half-written or kept when refused."""

from __future__ import annotations

import io
import subprocess

import pytest
from helpers.media import pdf_bytes, png_bomb

from aura.errors import SystemCheckError
from aura.input_rules import UPLOADS_FOLDER
from aura.media.ffmpeg import ffmpeg_path
from aura.models import VideoRequest
from aura.settings import Settings
from aura.stages.inputs import check_inputs, check_stored_inputs, media_files, music_file, reference_files
from aura.store import ArtifactStore, sha256_of
from aura.uploads import UploadRefused, clean_name, receive

LIMIT = 2 * 2**20


@pytest.fixture
def store(tmp_path):
    return ArtifactStore(str(tmp_path / "store"))


def kept(store: ArtifactStore) -> list[str]:
    folder = store.job(UPLOADS_FOLDER).folder
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def tone(tmp_path, name="bed.wav", seconds=2) -> bytes:
    path = tmp_path / name
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", f"sine=f=60:d={seconds}", str(path)], check=True)
    return path.read_bytes()


def test_a_document_is_kept_under_its_sha256_and_read_back_by_its_name(store):
    data = "# Tides\n\nThe moon pulls the sea twice a day.\n".encode()
    upload = receive(store, "tides.md", io.BytesIO(data), LIMIT)
    assert upload.ref == f"upload:{upload.sha256}.md" and upload.kind == "document" and upload.field == "references"
    assert upload.size == len(data) and upload.name == "tides.md" and upload.media_type == "text/markdown"
    path = store.job(UPLOADS_FOLDER).path(f"{upload.sha256}.md")
    assert sha256_of(path) == upload.sha256
    [found] = reference_files(VideoRequest(brief="x", references=[upload.ref]), Settings(_env_file=None), store)
    assert found.source == "tides.md" and found.path.read_bytes() == data


def test_the_same_bytes_get_the_same_ref_and_are_kept_once(store):
    first = receive(store, "a.txt", io.BytesIO(b"Same words."), LIMIT)
    second = receive(store, "b.txt", io.BytesIO(b"Same words."), LIMIT)
    assert first.ref == second.ref and second.name == "b.txt"
    assert kept(store) == [f"{first.sha256}.txt", f"{first.sha256}.txt.json"]


def test_pdf_and_audio_are_confirmed_by_content(store, tmp_path):
    pdf = receive(store, "report.pdf", io.BytesIO(pdf_bytes(["Magma is molten rock."])), LIMIT)
    assert pdf.kind == "document" and pdf.media_type == "application/pdf"
    audio = receive(store, "bed.wav", io.BytesIO(tone(tmp_path)), LIMIT)
    assert audio.kind == "audio" and audio.field == "music"
    assert music_file(VideoRequest(brief="x", music=audio.ref), store).stat().st_size == audio.size


def test_images_and_clips_are_confirmed_by_content_and_serve_a_scene(store, tmp_path):
    still, clip = tmp_path / "shop.png", tmp_path / "door.mp4"
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "color=red:s=64x36", "-frames:v", "1", str(still)], check=True)
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x36:d=1", str(clip)], check=True)
    image = receive(store, "shop.png", io.BytesIO(still.read_bytes()), LIMIT)
    video = receive(store, "door.mp4", io.BytesIO(clip.read_bytes()), LIMIT)
    assert (image.kind, image.field, image.media_type) == ("image", "media", "image/png")
    assert (video.kind, video.field, video.media_type) == ("video", "media", "video/mp4")
    files = media_files(VideoRequest(brief="x", media=[video.ref, "", image.ref]), store)
    assert sorted(files) == [0, 2] and files[0].read_bytes() == clip.read_bytes()
    with pytest.raises(UploadRefused) as info:
        receive(store, "fake.mp4", io.BytesIO(b"words that are no video " * 20), LIMIT)
    assert info.value.status == 415 and "no picture" in str(info.value)
    with pytest.raises(SystemCheckError, match=r"media\[1\]: the entry is no upload"):
        check_stored_inputs(VideoRequest(brief="x", media=["", f"upload:{'0' * 64}.png"]), store)


@pytest.mark.parametrize(
    ("name", "data", "status", "words"),
    [
        ("tool.exe", b"MZ\x90\x00", 415, "not a type uploads take"),
        ("notes", b"plain words", 415, "not a type uploads take"),
        ("fake.pdf", b"just some words, no PDF here", 415, "not a PDF"),
        ("image.md", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, 415, "binary data"),
        ("nul.txt", b"text with a \x00 inside", 415, "binary data"),
        ("song.mp3", b"These are words, not sound. " * 40, 415, "not audio"),
        ("blank.pdf", pdf_bytes([""]), 422, "without extractable text"),
        ("empty.txt", b"", 422, "is empty"),
        ("spaces.txt", b"   \n\n  ", 422, "holds no text"),
        ("", b"words", 422, "no file name"),
    ],
)  # fmt: skip
def test_what_is_not_what_its_name_says_is_refused_and_not_kept(store, name, data, status, words):
    with pytest.raises(UploadRefused) as info:
        receive(store, name, io.BytesIO(data), LIMIT)
    assert info.value.status == status and words in str(info.value) and str(info.value).startswith("file:")
    assert kept(store) == []


@pytest.mark.parametrize(("width", "height", "rgba"), [(30000, 30000, False), (16000, 16000, True), (20000, 100, False)])
def test_a_picture_too_large_to_decode_is_a_413_naming_its_size_and_the_limit(store, width, height, rgba):
    bomb = png_bomb(width, height, rgba)
    assert len(bomb) < LIMIT  # small on disk: only its header tells
    with pytest.raises(UploadRefused) as info:
        receive(store, "bomb.png", io.BytesIO(bomb), LIMIT, max_pixels=50_000_000)
    message = str(info.value)
    assert info.value.status == 413 and message.startswith("file:")
    assert f"{width}x{height} pixels" in message and "50 megapixels (AURA_MAX_IMAGE_PIXELS)" in message
    assert kept(store) == []


def test_a_stored_picture_too_large_fails_the_request_before_any_work(store):
    job = "0f0e0d0c-0000-4000-8000-000000000001"
    store.job(job).write_bytes("images/ash.png", png_bomb(30000, 30000))  # kept before the limit, or by a worker
    request = VideoRequest(brief="x", media=[f"store:{job}/images/ash.png"])
    with pytest.raises(SystemCheckError) as info:
        check_inputs(request, Settings(), store)
    assert str(info.value).startswith("media[0]:") and "30000x30000 pixels" in str(info.value)


def test_a_file_is_recorded_as_what_its_content_is_not_what_its_name_says(store, tmp_path):
    still = tmp_path / "still.png"
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "color=red:s=64x36", "-frames:v", "1", str(still)], check=True)
    image = receive(store, "holiday.mp4", io.BytesIO(still.read_bytes()), LIMIT)
    assert (image.kind, image.media_type, image.name) == ("image", "image/png", "holiday.mp4")
    assert image.ref.endswith(".png") and kept(store) == [f"{image.sha256}.png", f"{image.sha256}.png.json"]
    audio = receive(store, "bed.mp3", io.BytesIO(tone(tmp_path)), LIMIT)  # a WAV with an MP3's name
    assert (audio.kind, audio.media_type) == ("audio", "audio/wav") and audio.ref.endswith(".wav")


def test_a_file_over_the_limit_is_a_413_and_leaves_nothing(store, tmp_path):
    with pytest.raises(UploadRefused) as info:
        receive(store, "big.txt", io.BytesIO(b"word " * (LIMIT // 4)), LIMIT)
    assert info.value.status == 413 and "2 MiB" in str(info.value) and "AURA_UPLOAD_MAX_MB" in str(info.value)
    assert kept(store) == []


def test_a_ref_of_one_store_is_no_upload_of_another(store, tmp_path):
    upload = receive(store, "tides.md", io.BytesIO(b"The moon pulls the sea."), LIMIT)
    other = ArtifactStore(str(tmp_path / "other"))
    with pytest.raises(Exception, match=r"references\[0\]: the entry is no upload of this artifact store"):
        reference_files(VideoRequest(brief="x", references=[upload.ref]), Settings(_env_file=None), other)


@pytest.mark.parametrize(
    ("sent", "shown"),
    [("C:\\fakepath\\notes.md", "notes.md"), ("../../etc/passwd.md", "passwd.md"), ("a\x1b[31mb.md", "a[31mb.md"),
     ("x" * 300 + ".md", "x" * 197 + ".md")],
)  # fmt: skip
def test_a_sent_name_is_only_a_label(sent, shown):
    assert clean_name(sent) == shown


def test_a_remote_store_is_asked_itself_not_the_local_copy(tmp_path):
    """memory:// stands in for s3://: a local staging copy of an upload is no proof the store still holds it."""
    import uuid

    store = ArtifactStore(f"memory://aura-uploads-{uuid.uuid4().hex}")
    upload = receive(store, "tides.md", io.BytesIO(b"The moon pulls the sea."), LIMIT)
    remote = f"{store.root.rstrip('/')}/{UPLOADS_FOLDER}/{upload.sha256}.md"
    assert store.fs.cat_file(remote) == b"The moon pulls the sea."
    store.fs.rm(remote)  # the bucket lost it; this machine's staging copy is still there
    assert store.job(UPLOADS_FOLDER).path(f"{upload.sha256}.md").is_file()
    with pytest.raises(SystemCheckError, match=r"^references\[0\]: the entry is no upload of this artifact store"):
        check_stored_inputs(VideoRequest(brief="x", references=[upload.ref]), store)
    receive(store, "tides.md", io.BytesIO(b"The moon pulls the sea."), LIMIT)  # sent again: stored again
    assert store.fs.cat_file(remote) == b"The moon pulls the sea."
    check_stored_inputs(VideoRequest(brief="x", references=[upload.ref]), store)


def test_a_document_larger_than_the_script_reads_is_refused_at_upload(store, monkeypatch):
    import aura.uploads

    monkeypatch.setattr(aura.uploads, "MAX_FILE_BYTES", 1000)  # 20 MiB in the reader; a small figure for the test
    with pytest.raises(UploadRefused) as info:
        receive(store, "long.md", io.BytesIO(b"word " * 400), LIMIT)
    assert info.value.status == 413 and "reference document may be" in str(info.value)
    assert kept(store) == []
