"""Where a request's files may come from: the same answer for every way of starting a run, before any work.

Outside the `aura` command a run reads uploads, store keys, and paths inside
AURA_INPUT_ROOTS only (judged after links and `..`); the stages judge each
file again when they open it.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aura.errors import SystemCheckError
from aura.input_rules import local_caller
from aura.models import VideoRequest
from aura.settings import Settings
from aura.stages.inputs import check_stored_inputs, music_file, reference_files
from aura.store import ArtifactStore

SHA = "ab" * 32


def refused(**fields) -> str:
    """The message of the one error a request gets, after checking it names the field."""
    with pytest.raises(ValidationError) as info:
        VideoRequest(brief="Tides", **fields)
    [error] = info.value.errors()
    field = next(iter(fields))
    assert error["loc"] == (field,)
    message = error["msg"].removeprefix("Value error, ")
    assert message.startswith(field), message
    return message


@pytest.fixture
def roots(tmp_path, monkeypatch, fresh_settings):
    """A root the operator allows, with a note inside, a secret outside, and links that lead out."""
    root, outside = tmp_path / "allowed", tmp_path / "private"
    (root / "notes").mkdir(parents=True)
    outside.mkdir()
    (root / "notes" / "tides.md").write_text("The moon pulls the sea twice a day.")
    (outside / "secret.md").write_text("The vault code is 4711.")
    (root / "leak.md").symlink_to(outside / "secret.md")
    (root / "notes" / "leak.md").symlink_to(outside / "secret.md")  # inside an allowed folder
    (root / "elsewhere").symlink_to(outside, target_is_directory=True)
    monkeypatch.setenv("AURA_INPUT_ROOTS", str(root))
    fresh_settings()
    return root, outside


@pytest.mark.parametrize(
    "entry",
    ["/some/private/notes.md", "notes.md", "../../etc/hosts.txt", "~/notes.md", "/etc", "file:///etc/hosts.txt",
     "https://example.com/notes.md", "s3://bucket/notes.md"],
)  # fmt: skip
def test_without_roots_a_run_not_started_by_the_cli_names_no_path(entry):
    message = refused(references=[entry])
    assert message.startswith("references[0]:") and "POST /api/uploads" in message and "AURA_INPUT_ROOTS" in message


def test_music_paths_are_refused_the_same_way():
    message = refused(music="/srv/music/bed.mp3")
    assert "music:" in message and "POST /api/uploads" in message


@pytest.mark.parametrize(
    "entry",
    ["store:../x.md", "store:job/../../etc/hosts.txt", "store:job//etc/hosts.md", "store:/etc/hosts.md",
     "store:..", "store:job/.tmp-1.ab-x.md", "store:job\\..\\x.md"],
)  # fmt: skip
def test_store_keys_that_climb_out_are_refused(entry):
    assert "not a store key" in refused(references=[entry])


@pytest.mark.parametrize("entry", ["upload:abc.md", f"upload:{SHA}", f"upload:{SHA}.md/../x", f"upload:../{SHA}.md"])
def test_malformed_upload_refs_are_refused(entry):
    assert "not an upload ref" in refused(references=[entry])


def test_refs_must_be_of_the_field_s_kind():
    assert "not a document" in refused(references=[f"upload:{SHA}.mp3"])
    assert "audio" in refused(music=f"upload:{SHA}.md")


def test_refs_and_store_keys_are_accepted_anywhere():
    request = VideoRequest(brief="Tides", references=[f"upload:{SHA}.md", "store:job-1/notes/a.txt"], music=f"upload:{SHA}.wav")
    assert request.references == [f"upload:{SHA}.md", "store:job-1/notes/a.txt"]


def test_an_error_never_echoes_a_long_value():
    message = refused(references=["/" + "x" * 900 + ".md"])
    assert len(message) < 600


def test_the_aura_command_names_any_path_of_its_own_machine(tmp_path):
    with local_caller():
        request = VideoRequest(brief="Tides", references=[str(tmp_path), "notes.md"], music="/data/bed.mp3")
    assert request.references == [str(tmp_path), "notes.md"]
    with local_caller():
        assert "give the file's path" in refused(references=["file:///etc/hosts.txt"])


def test_inside_a_root_paths_are_read_outside_refused(roots):
    root, outside = roots
    assert VideoRequest(brief="Tides", references=[str(root / "notes"), str(root / "notes" / "tides.md")]).references
    for entry in (str(outside / "secret.md"), f"{root}/../private/secret.md", str(root / "leak.md"),
                  str(root / "elsewhere" / "secret.md"), str(root / "elsewhere"), str(root.parent)):  # fmt: skip
        message = refused(references=[entry])
        assert "outside the folders of AURA_INPUT_ROOTS" in message, entry


def test_a_link_inside_an_allowed_folder_is_refused_when_the_stage_opens_it(roots, tmp_path):
    root, _ = roots
    request = VideoRequest(brief="Tides", references=[str(root / "notes")])  # the folder itself is inside
    with pytest.raises(SystemCheckError) as info:
        reference_files(request, Settings(_env_file=None), ArtifactStore(str(tmp_path / "store")))
    assert str(info.value).startswith("references[0]:") and "outside the folders of AURA_INPUT_ROOTS" in str(info.value)
    (root / "notes" / "leak.md").unlink()
    [found] = reference_files(request, Settings(_env_file=None), ArtifactStore(str(tmp_path / "store")))
    assert found.source == "tides.md" and found.origin == "request"


def test_a_request_that_skipped_validation_is_judged_again_when_read(tmp_path):
    """model_copy and model_construct skip validators: the stages do not rely on them."""
    secret = tmp_path / "secret.md"
    secret.write_text("The vault code is 4711.")
    smuggled = VideoRequest(brief="Tides").model_copy(update={"references": [str(secret)], "music": str(tmp_path / "a.mp3")})
    store = ArtifactStore(str(tmp_path / "store"))
    with pytest.raises(SystemCheckError, match=r"^references\[0\]: .*only the local `aura` command reads paths"):
        reference_files(smuggled, Settings(_env_file=None), store)
    with pytest.raises(SystemCheckError, match=r"^music: "):
        music_file(smuggled, store)
    with local_caller():
        assert reference_files(smuggled, Settings(_env_file=None), store)[0].path == secret


def test_a_missing_upload_or_store_key_is_named_without_fetching(tmp_path):
    store = ArtifactStore(str(tmp_path / "store"))
    store.job("job-1").write_bytes("notes/a.txt", b"Tides follow the moon.")
    with pytest.raises(SystemCheckError, match=r"^references\[1\]: the entry is no upload of this artifact store"):
        check_stored_inputs(VideoRequest(brief="x", references=["store:job-1/notes/a.txt", f"upload:{SHA}.md"]), store)
    with pytest.raises(SystemCheckError, match=r"^music: the entry is not in the artifact store"):
        check_stored_inputs(VideoRequest(brief="x", music="store:job-1/bed.mp3"), store)


def test_a_store_key_reference_is_read_and_named_by_its_key(tmp_path):
    store = ArtifactStore(str(tmp_path / "store"))
    store.job("job-1").write_bytes("notes/a.txt", b"Tides follow the moon.")
    [found] = reference_files(VideoRequest(brief="x", references=["store:job-1/notes/a.txt"]), Settings(_env_file=None), store)
    assert found.source == "notes/a.txt" and found.path.read_text() == "Tides follow the moon."


def test_the_operator_s_reference_folder_is_read_and_marked_as_theirs(tmp_path):
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "house-style.md").write_text("Always say hello first.")
    settings = Settings(_env_file=None, reference_dir=str(tmp_path / "library"))
    [found] = reference_files(VideoRequest(brief="x"), settings, ArtifactStore(str(tmp_path / "store")))
    assert found.origin == "operator" and found.source == "house-style.md"


def test_batch_files_are_read_from_the_store_or_an_allowed_root(tmp_path):
    from aura.batch import BatchInputError, requests_location

    store = str(tmp_path / "store")
    assert requests_location("batch/todo.jsonl", store) == f"{store}/batch/todo.jsonl"
    assert requests_location("store:job-1/todo.jsonl", store) == f"{store}/job-1/todo.jsonl"
    for source in ("../../etc/passwd.jsonl", "/etc/todo.jsonl", "s3://other-bucket/todo.jsonl", "batch/../../x.jsonl"):
        with pytest.raises(BatchInputError, match=r"^requests_file: "):
            requests_location(source, store)
