"""The artifact store on a local folder: atomic writes, refs with real hashes, safe keys."""

from __future__ import annotations

import hashlib
import os
import stat
import time

import pytest

from aura.errors import AuraError
from aura.models import MediaRef
from aura.store import ArtifactStore, JobStore


@pytest.fixture
def job(tmp_path) -> JobStore:
    return ArtifactStore(str(tmp_path / "out")).job("job-1")


def leftovers(job: JobStore) -> list[str]:
    return sorted(str(p.relative_to(job.folder)) for p in job.folder.rglob(".tmp-*"))


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_job_folder_lives_under_the_root_and_appears_with_its_first_file(tmp_path, job):
    assert job.folder == tmp_path / "out" / "job-1"
    assert not job.folder.exists()  # opening a job to read from it creates nothing
    assert job.path("video/final.mp4") == job.folder / "video" / "final.mp4"
    job.write_bytes("notes.txt", b"hello")
    assert job.folder.is_dir()


def test_writing_renames_into_place(job):
    final = job.path("media/video.mp4")
    with job.writing("media/video.mp4") as tmp:
        assert tmp.parent == final.parent
        assert tmp.name.startswith(".tmp-") and tmp.suffix == ".mp4"  # ffmpeg picks the format by suffix
        tmp.write_bytes(b"first half ")
        assert not final.exists(), "a reader must never see half a file"
        with open(tmp, "ab") as fh:
            fh.write(b"second half")
    assert final.read_bytes() == b"first half second half"
    assert leftovers(job) == []


def test_writing_with_an_explicit_suffix(job):
    with job.writing("audio/narration", suffix=".wav") as tmp:
        assert tmp.suffix == ".wav"
        tmp.write_bytes(b"RIFF")
    assert job.path("audio/narration").read_bytes() == b"RIFF"


def test_failed_write_leaves_nothing_behind(job):
    with pytest.raises(RuntimeError, match="ffmpeg died"):
        with job.writing("video.mp4") as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("ffmpeg died")
    assert not job.path("video.mp4").exists()
    assert leftovers(job) == []


def test_failed_rewrite_keeps_the_earlier_file(job):
    job.write_bytes("video.mp4", b"the good video")
    before = job.ref("video.mp4")
    with pytest.raises(KeyboardInterrupt):
        with job.writing("video.mp4") as tmp:
            tmp.write_bytes(b"half of a new vid")
            assert job.path("video.mp4").read_bytes() == b"the good video"
            raise KeyboardInterrupt
    assert job.path("video.mp4").read_bytes() == b"the good video"
    assert job.ref("video.mp4") == before
    assert leftovers(job) == []


def test_successful_rewrite_replaces_the_file(job):
    job.write_bytes("notes.txt", b"old")
    job.write_bytes("notes.txt", b"new and longer")
    assert job.path("notes.txt").read_bytes() == b"new and longer"


@pytest.mark.parametrize("write", ["nothing", "zero-bytes", "deleted"])
def test_an_empty_write_is_an_error(job, write):
    job.write_bytes("thumb.jpg", b"earlier thumbnail")
    with pytest.raises(AuraError, match="nothing was written for thumb.jpg"):
        with job.writing("thumb.jpg") as tmp:
            if write == "zero-bytes":
                tmp.write_bytes(b"")
            elif write == "deleted":
                tmp.unlink()
    assert job.path("thumb.jpg").read_bytes() == b"earlier thumbnail"
    assert leftovers(job) == []


def test_write_bytes_of_nothing_is_an_error(job):
    with pytest.raises(AuraError):
        job.write_bytes("empty.srt", b"")
    assert not job.path("empty.srt").exists()


def test_ref_gives_size_and_sha256(job):
    data = os.urandom(3 * (1 << 20) + 17)  # more than one read block
    ref = job.write_bytes("media/clip.bin", data)
    assert ref == MediaRef(key="media/clip.bin", size=len(data), sha256=hashlib.sha256(data).hexdigest())
    assert job.ref("media/clip.bin") == ref
    assert job.local(ref) == job.path("media/clip.bin")


def test_commit_file_copies_and_describes(tmp_path, job):
    source = tmp_path / "made-elsewhere.wav"
    source.write_bytes(b"RIFF....WAVE")
    ref = job.commit_file(source, "audio/voice.wav")
    assert job.path("audio/voice.wav").read_bytes() == b"RIFF....WAVE"
    assert ref.sha256 == hashlib.sha256(b"RIFF....WAVE").hexdigest() and ref.size == 12
    assert source.exists()


def test_ref_of_a_missing_file_is_an_error_naming_it(job):
    with pytest.raises(AuraError, match="subtitles.srt"):
        job.ref("subtitles.srt")
    with pytest.raises(AuraError, match="subtitles.srt"):
        job.local(MediaRef(key="subtitles.srt", size=1, sha256="0" * 64))


@pytest.mark.parametrize(
    "key",
    [
        "../escape.mp4",
        "media/../../escape.mp4",
        "a/..",
        "/etc/passwd",
        "/tmp/x.mp4",
        ".tmp-abc.mp4",
        "media/.tmp-abc.mp4",
        "",
        ".",
    ],
)
def test_unsafe_keys_are_rejected(job, key):
    with pytest.raises(AuraError, match="invalid artifact key"):
        job.path(key)
    with pytest.raises(AuraError, match="invalid artifact key"):
        with job.writing(key) as tmp:
            tmp.write_bytes(b"x")
    assert leftovers(job) == []


def test_nothing_escapes_the_job_folder(tmp_path, job):
    with pytest.raises(AuraError):
        job.write_bytes("../../outside.txt", b"x")
    assert not (tmp_path / "outside.txt").exists()
    assert not (tmp_path / "out" / "outside.txt").exists()


@pytest.mark.parametrize("job_id", ["../../etc", "..", ".", "a/b", "/abs", ".hidden", "", "x" * 129, "job id", "job\x00"])
def test_unsafe_job_ids_are_rejected(tmp_path, job_id):
    store = ArtifactStore(str(tmp_path / "out"))
    with pytest.raises(AuraError, match="invalid job id"):
        store.job(job_id)
    assert not (tmp_path / "etc").exists()


@pytest.mark.parametrize("job_id", ["20240101-volcanoes", "a", "Job_2.v1", "x" * 128])
def test_ordinary_job_ids_are_accepted(tmp_path, job_id):
    assert ArtifactStore(str(tmp_path / "out")).job(job_id).folder.name == job_id


def test_files_get_normal_permissions(job):
    job.write_bytes("video.mp4", b"data")
    mode = stat.S_IMODE(job.path("video.mp4").stat().st_mode)
    assert mode == 0o666 & ~current_umask()
    if current_umask() == 0o022:
        assert mode == 0o644  # readable by group and others, like any file a user makes
    assert mode & stat.S_IRGRP or current_umask() & stat.S_IRGRP


def test_remove_temporaries_cleans_leftovers(job):
    job.write_bytes("video.mp4", b"keep me")
    (job.folder / ".tmp-abc.mp4").write_bytes(b"crashed write")
    (job.folder / "work").mkdir()
    (job.folder / "work" / ".tmp-xyz.wav").write_bytes(b"crashed write")
    (job.folder / "work" / "scene-01.png").write_bytes(b"keep me too")
    job.remove_temporaries()
    assert leftovers(job) == []
    assert job.path("video.mp4").read_bytes() == b"keep me"
    assert job.path("work/scene-01.png").read_bytes() == b"keep me too"


def test_a_later_run_sweeps_what_dead_writers_left_in_other_jobs_and_spares_live_ones(tmp_path):
    import subprocess
    import sys

    from aura import store as store_module

    store = ArtifactStore(str(tmp_path / "out"))
    killed, running = store.job("killed-run"), store.job("running-run")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    host = store_module._HOST
    (killed.folder / "work").mkdir(parents=True)
    left = [killed.folder / f".tmp-{dead}.{host}-abc.mp4", killed.folder / "work" / f".tmp-{dead}.{host}-xyz.wav"]
    for path in left:
        path.write_bytes(b"half")
    killed.write_bytes("work/narration.wav", b"finished work")
    running.folder.mkdir(parents=True)
    live = running.folder / f".tmp-{os.getppid()}.{host}-enc.mp4"  # a writer that is alive (the test's parent)
    foreign = running.folder / f".tmp-{dead}.0badc0de-enc.mp4"  # another machine's, on a shared folder
    old_unnamed = running.folder / ".tmp-old.png"  # an older version's leftover, an hour old
    for path in (live, foreign, old_unnamed):
        path.write_bytes(b"in progress")
    os.utime(old_unnamed, (time.time() - 7200, time.time() - 7200))

    assert store.sweep_stale_temporaries() == 3
    assert not any(path.exists() for path in left) and not old_unnamed.exists()
    assert live.exists() and foreign.exists()
    assert killed.path("work/narration.wav").read_bytes() == b"finished work"


def test_writers_name_themselves_in_their_temporaries(job):
    with job.writing("video.mp4") as tmp:
        assert tmp.name.startswith(f".tmp-{os.getpid()}.")
        tmp.write_bytes(b"x")


def test_same_job_id_reopens_the_same_folder(tmp_path):
    store = ArtifactStore(str(tmp_path / "out"))
    store.job("job-1").write_bytes("a.txt", b"hello")
    assert store.job("job-1").path("a.txt").read_bytes() == b"hello"


def test_holds_checks_size_and_hash(job):
    ref = job.write_bytes("work/a.wav", b"narration")
    assert job.holds(ref)
    job.path("work/a.wav").write_bytes(b"narratioN")  # same size, other content
    assert not job.holds(ref)
    job.path("work/a.wav").unlink()
    assert not job.holds(ref)


def test_adopt_links_another_jobs_file_under_the_same_key(tmp_path):
    store = ArtifactStore(str(tmp_path / "out"))
    first, second = store.job("run-1"), store.job("run-2")
    ref = first.write_bytes("work/images/scene_000.png", b"png bytes")
    assert second.adopt(ref, first)
    adopted = second.path("work/images/scene_000.png")
    assert adopted.read_bytes() == b"png bytes" and second.holds(ref)
    assert adopted.stat().st_ino == first.path(ref.key).stat().st_ino  # a hard link: no copy, no extra disk
    assert not leftovers(second)


def test_adopt_refuses_a_source_that_is_gone_or_changed(tmp_path):
    store = ArtifactStore(str(tmp_path / "out"))
    first, second = store.job("run-1"), store.job("run-2")
    ref = first.write_bytes("work/narration.wav", b"the voice")
    first.path(ref.key).write_bytes(b"tampered!")
    assert not second.adopt(ref, first)
    first.path(ref.key).unlink()
    assert not second.adopt(ref, first)
    assert not second.folder.exists()  # a refused adoption writes nothing


def test_a_file_written_in_place_is_published_to_a_remote_store(tmp_path, monkeypatch):
    # memory:// is a remote filesystem to the store: files are staged locally and uploaded by key
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "staging"))
    remote = ArtifactStore("memory://aura-publish").job("job-1")
    remote.path("work/images/a.png").parent.mkdir(parents=True)
    remote.path("work/images/a.png").write_bytes(b"png")
    ref = remote.publish("work/images/a.png")
    assert remote.store.fs.cat_file("/aura-publish/job-1/work/images/a.png") == b"png"
    # another worker with its own scratch space fetches it by key
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "elsewhere"))
    other = ArtifactStore("memory://aura-publish").job("job-1")
    assert other.holds(ref) and other.local(ref).read_bytes() == b"png"
