"""Pexels and Pixabay as a user meets them: against a local stand-in of each API, with real clips made by ffmpeg."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

import pytest

from aura import spend
from aura.errors import ProviderError, ProviderUnavailable
from aura.media.ffmpeg import ffmpeg_path
from aura.media.probe import probe
from aura.providers.images import ImagePrompt, ImageProvider
from aura.providers.images.pexels import PexelsProvider
from aura.providers.images.pixabay import PixabayProvider
from aura.providers.images.registry import IMAGE_PROVIDERS, image_output_settings
from aura.settings import Settings, get_settings
from helpers.stock_server import StockServer, pexels_photo, pexels_video, pixabay_photo, pixabay_video

KEY = "test-key-5f3a9c1e77"
LANDSCAPE = (1434, 806)  # the still size the compositor asks for a 1280x720 video
PORTRAIT = (806, 1434)


def _ffmpeg(tmp: Path, name: str, *args: str) -> bytes:
    out = tmp / name
    subprocess.run([ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", *args, str(out)], check=True, timeout=60)
    return out.read_bytes()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> bytes:
    """A real 2 s MP4, tiny in bytes: served under every advertised size (the choice is seen in the request log)."""
    tmp = tmp_path_factory.mktemp("clips")
    return _ffmpeg(tmp, "clip.mp4", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10", "-t", "2", "-c:v", "mpeg4", "-q:v", "12")


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> bytes:
    tmp = tmp_path_factory.mktemp("photos")
    return _ffmpeg(tmp, "photo.jpg", "-f", "lavfi", "-i", "testsrc2=size=320x180", "-frames:v", "1")


@pytest.fixture
def server(monkeypatch, tmp_path, no_proxy):
    """The stand-in, with both providers pointed at it and a cache of this test's own."""
    for name in list(os.environ):
        if name.startswith(("AURA_PEXELS_", "AURA_PIXABAY_", "AURA_STOCK_")):
            monkeypatch.delenv(name)
    with StockServer(KEY) as stand_in:
        monkeypatch.setenv("AURA_STOCK_CACHE_DIR", str(tmp_path / "cache"))
        for provider in ("PEXELS", "PIXABAY"):
            monkeypatch.setenv(f"AURA_{provider}_API_KEY", KEY)
            monkeypatch.setenv(f"AURA_{provider}_URL", stand_in.url)
        yield stand_in


def scene(index: int, *terms: str, key_phrase: str = "", seconds: float = 4.0) -> ImagePrompt:
    return ImagePrompt(
        index=index, prompt="a scene", key_phrase=key_phrase, title="Test", style="documentary", seed=index,
        search_terms=terms, seconds=seconds,
    )  # fmt: skip


def pexels() -> PexelsProvider:
    return PexelsProvider.from_settings(Settings())


def pixabay() -> PixabayProvider:
    return PixabayProvider.from_settings(Settings())


def video_files(server: StockServer, clip: bytes, prefix: str, sizes: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """The same real clip served under one link per advertised size."""
    return [(w, h, server.add_file(f"{prefix}-{w}x{h}.mp4", clip)) for w, h in sizes]


def assert_clip(path: Path) -> None:
    assert probe(path).of_kind("video"), f"{path.name} holds no video stream"


# ---------------------------------------------------------------- Pexels


def test_pexels_finds_a_clip_with_the_key_and_the_scene_query_and_fetches_the_rendition_for_the_frame(server, clip, tmp_path):
    sizes = [(3840, 2160), (640, 360), (1920, 1080), (1280, 720)]
    server.answer("/videos/search", {"videos": [pexels_video(101, video_files(server, clip, "v101", sizes), duration=12)]})

    [media] = pexels().scene_media([scene(0, "city traffic", "cars")], LANDSCAPE, tmp_path / "out")

    [search] = server.asked("/videos/search")
    assert search.headers["authorization"] == KEY  # the raw key, no "Bearer"
    assert search.params["query"] == "city traffic" and search.params["orientation"] == "landscape"
    # a clip only has to cover the 1280x720 frame (stills cover the camera's larger canvas): never the 4K file
    assert server.downloads() == ["/media/v101-1280x720.mp4"]
    assert not server.asked("/v1/search")  # a clip was found: no photo search
    assert media.kind == "clip" and media.index == 0 and media.path == tmp_path / "out" / "scene_000.mp4"
    assert_clip(media.path)
    assert media.credit.provider == "pexels" and media.credit.media_id == "101"
    assert media.credit.page_url == "https://www.pexels.com/video/clip-101/"
    assert media.credit.author == "Videographer 101" and media.credit.author_url.startswith("https://www.pexels.com/@")
    assert "Pexels" in media.credit.license


def test_a_portrait_video_searches_portrait_and_takes_the_portrait_rendition_that_covers_it(server, clip, tmp_path):
    sizes = [(720, 1280), (2160, 3840), (1080, 1920)]
    server.answer("/videos/search", {"videos": [pexels_video(7, video_files(server, clip, "v7", sizes))]})

    [media] = pexels().scene_media([scene(0, "waterfall")], PORTRAIT, tmp_path / "out")

    assert server.asked("/videos/search")[0].params["orientation"] == "portrait"
    assert server.downloads() == ["/media/v7-720x1280.mp4"]
    assert media.kind == "clip"


def test_each_scene_gets_different_media_and_a_photo_where_no_clip_is_left(server, clip, photo, tmp_path):
    videos = [pexels_video(n, video_files(server, clip, f"v{n}", [(1920, 1080)])) for n in (1, 2)]
    server.answer("/videos/search", {"videos": videos})
    original = server.add_file("p9.jpeg", photo, content_type="image/jpeg")
    server.answer("/v1/search", {"photos": [pexels_photo(9, 6000, 4000, original)]})

    media = pexels().scene_media([scene(n, "ocean") for n in range(3)], LANDSCAPE, tmp_path / "out")

    assert [m.credit.media_id for m in media] == ["1", "2", "9"]
    assert [m.kind for m in media] == ["clip", "clip", "still"]
    assert media[2].path.name == "scene_002.jpeg"
    # the photo is cropped to the frame by Pexels, not fetched at 6000x4000
    [fetched] = server.asked("/media/p9.jpeg")
    assert fetched.params == {"auto": "compress", "cs": "tinysrgb", "fit": "crop", "w": "1434", "h": "806"}
    assert probe(media[2].path).of_kind("video")[0].width == 320  # a real picture: ffmpeg reads it
    assert media[2].credit.author == "Photographer 9"


def test_videos_only_leaves_a_scene_without_a_fresh_clip_to_the_next_provider(server, clip, tmp_path, monkeypatch):
    monkeypatch.setenv("AURA_PEXELS_MEDIA", "videos")
    server.answer("/videos/search", {"videos": [pexels_video(1, video_files(server, clip, "v1", [(1920, 1080)]))]})

    media = pexels().scene_media([scene(0, "forest"), scene(1, "forest")], LANDSCAPE, tmp_path / "out")

    assert media[0].credit.media_id == "1" and media[1] is None
    assert not server.asked("/v1/search")
    assert PexelsProvider.output_settings(Settings()) == {"media": "videos"}


def test_a_clip_long_enough_for_the_scene_comes_first_else_the_longest(server, clip, tmp_path, monkeypatch):
    monkeypatch.setenv("AURA_PEXELS_MEDIA", "videos")
    files = video_files(server, clip, "v", [(1920, 1080)])
    server.answer(
        "/videos/search", {"videos": [pexels_video(n, files, duration=d) for n, d in ((1, 3), (2, 8), (3, 12), (4, 5))]}
    )

    media = pexels().scene_media([scene(0, "bees", seconds=6), scene(1, "bees", seconds=20)], LANDSCAPE, tmp_path / "out")

    # scene 0: the first hit of 6 s or more; scene 1: none lasts 20 s, so the longest left
    assert [m.credit.media_id for m in media] == ["2", "3"]


def test_queries_are_the_search_terms_in_order_then_the_key_phrase(server, clip, tmp_path, monkeypatch):
    monkeypatch.setenv("AURA_PEXELS_MEDIA", "videos")
    server.answer(
        "/videos/search", {"videos": [pexels_video(5, video_files(server, clip, "v5", [(1920, 1080)]))]}, query="Solar power"
    )

    [media] = pexels().scene_media(
        [scene(0, "photovoltaic farm", "panels", key_phrase="Solar power")], LANDSCAPE, tmp_path / "out"
    )

    assert [r.params["query"] for r in server.asked("/videos/search")] == ["photovoltaic farm", "panels", "Solar power"]
    assert media.credit.media_id == "5"


@pytest.mark.parametrize("status, headers", [(429, {"Retry-After": "0"}), (503, {})])
def test_a_rate_limit_or_a_server_error_once_is_retried_and_served(server, clip, tmp_path, status, headers):
    server.answer("/videos/search", {"videos": [pexels_video(1, video_files(server, clip, "v1", [(1920, 1080)]))]})
    server.fail("/videos/search", status, headers=headers)

    [media] = pexels().scene_media([scene(0, "rain")], LANDSCAPE, tmp_path / "out")

    assert len(server.asked("/videos/search")) == 2
    assert_clip(media.path)


def test_a_rate_limit_that_lasts_says_so_after_the_tries(server, tmp_path, monkeypatch):
    server.fail("/videos/search", 429, times=10, headers={"Retry-After": "0"})

    with pytest.raises(ProviderUnavailable) as caught:
        pexels().scene_media([scene(0, "rain")], LANDSCAPE, tmp_path / "out")

    assert len(server.asked("/videos/search")) == 3
    message = str(caught.value)
    assert message.startswith("pexels: HTTP 429") and "after 3 tries" in message and "rate limit" in message
    assert KEY not in message


def test_a_long_retry_after_is_not_waited_for(server, tmp_path):
    server.fail("/videos/search", 429, times=10, headers={"Retry-After": "3600"})
    started = time.monotonic()

    with pytest.raises(ProviderUnavailable, match="asks to wait 3600 s"):
        pexels().scene_media([scene(0, "rain")], LANDSCAPE, tmp_path / "out")

    assert len(server.asked("/videos/search")) == 1 and time.monotonic() - started < 5


def test_a_second_run_asks_the_service_nothing(server, clip, photo, tmp_path):
    server.answer("/videos/search", {"videos": [pexels_video(1, video_files(server, clip, "v1", [(1920, 1080)]))]})
    server.answer("/v1/search", {"photos": [pexels_photo(9, 6000, 4000, server.add_file("p9.jpeg", photo, "image/jpeg"))]})
    prompts = [scene(0, "snow"), scene(1, "snow")]
    first = pexels().scene_media(prompts, LANDSCAPE, tmp_path / "run1")
    asked = len(server.requests)

    second = pexels().scene_media(prompts, LANDSCAPE, tmp_path / "run2")

    assert len(server.requests) == asked  # no search, no download
    assert [m.credit for m in second] == [m.credit for m in first]
    for a, b in zip(first, second):
        assert b.path.parent == tmp_path / "run2" and b.path.read_bytes() == a.path.read_bytes()


def test_a_search_answer_older_than_a_day_is_asked_again_but_the_file_is_not(server, clip, tmp_path):
    server.answer("/videos/search", {"videos": [pexels_video(1, video_files(server, clip, "v1", [(1920, 1080)]))]})
    pexels().scene_media([scene(0, "snow")], LANDSCAPE, tmp_path / "run1")
    day_ago = time.time() - 25 * 3600
    for answer in (tmp_path / "cache" / "pexels" / "search").iterdir():
        os.utime(answer, (day_ago, day_ago))

    [media] = pexels().scene_media([scene(0, "snow")], LANDSCAPE, tmp_path / "run2")

    assert len(server.asked("/videos/search")) == 2 and len(server.downloads()) == 1
    assert_clip(media.path)


def test_the_cache_evicts_the_least_recently_used_files_beyond_its_size(server, clip, tmp_path, monkeypatch):
    monkeypatch.setenv("AURA_STOCK_CACHE_MB", str(1.5 * len(clip) / 2**20))  # room for one clip
    for n, term in ((1, "dogs"), (2, "cats")):
        server.answer(
            "/videos/search", {"videos": [pexels_video(n, video_files(server, clip, f"v{n}", [(1920, 1080)]))]}, query=term
        )
    [dogs] = pexels().scene_media([scene(0, "dogs")], LANDSCAPE, tmp_path / "run1")
    hour_ago = time.time() - 3600
    for path in (tmp_path / "cache").rglob("*"):
        os.utime(path, (hour_ago, hour_ago))

    pexels().scene_media([scene(0, "cats")], LANDSCAPE, tmp_path / "run2")

    assert sorted(p.name for p in (tmp_path / "cache" / "pexels").glob("*.mp4")) == ["2-1920x1080.mp4"]
    assert_clip(dogs.path)  # the first run's file is its own, whatever the cache does


def test_a_dead_api_is_unavailable_and_says_why(server, tmp_path, monkeypatch, refused_port):
    monkeypatch.setenv("AURA_PEXELS_URL", f"http://127.0.0.1:{refused_port}")
    monkeypatch.setenv("AURA_STOCK_RETRIES", "2")

    with pytest.raises(ProviderUnavailable) as caught:
        pexels().scene_media([scene(0, "rain")], LANDSCAPE, tmp_path / "out")

    message = str(caught.value)
    assert message.startswith("pexels: cannot reach 127.0.0.1") and "after 2 tries" in message
    assert "refused" in message.lower() and "AURA_PEXELS_URL" in message and KEY not in message


def test_a_refused_key_names_the_setting_and_is_not_retried(server, tmp_path, monkeypatch):
    monkeypatch.setenv("AURA_PEXELS_API_KEY", "wrong-key-0000")

    with pytest.raises(ProviderUnavailable) as caught:
        pexels().scene_media([scene(0, "rain")], LANDSCAPE, tmp_path / "out")

    assert "HTTP 401" in str(caught.value) and "check AURA_PEXELS_API_KEY" in str(caught.value)
    assert "wrong-key-0000" not in str(caught.value)
    assert len(server.asked("/videos/search")) == 1


@pytest.mark.parametrize("with_length", [True, False], ids=["content-length", "streamed"])
def test_a_file_over_the_size_limit_is_refused_and_the_scene_takes_the_next_hit(
    server, clip, photo, tmp_path, monkeypatch, caplog, with_length
):
    monkeypatch.setenv("AURA_STOCK_MAX_FILE_MB", str((len(clip) - 1) / 2**20))
    big = server.add_file("big.mp4", clip + b"\0" * 200_000, with_length=with_length)  # bigger than one read
    small = server.add_file("small.mp4", clip[: len(clip) // 2])
    server.answer("/videos/search", {"videos": [pexels_video(1, [(1920, 1080, big)]), pexels_video(2, [(1920, 1080, small)])]})

    with caplog.at_level(logging.WARNING, logger="aura.images.stock"):
        [media] = pexels().scene_media([scene(0, "storm")], LANDSCAPE, tmp_path / "out")

    assert server.downloads() == ["/media/big.mp4", "/media/small.mp4"]
    assert media.credit.media_id == "2"
    assert "AURA_STOCK_MAX_FILE_MB" in caplog.text
    assert [p.name for p in (tmp_path / "cache" / "pexels").glob("*.mp4")] == ["2-1920x1080.mp4"]  # no leftovers
    assert not list((tmp_path / "cache").rglob("*.tmp")) and not list((tmp_path / "out").glob(".*"))


def test_a_media_link_that_is_gone_is_skipped_for_the_next_hit(server, clip, tmp_path):
    gone = f"{server.url}/media/deleted.mp4"  # never added: the stand-in answers 404
    files = [(1920, 1080, gone)]
    server.answer(
        "/videos/search", {"videos": [pexels_video(1, files), pexels_video(2, video_files(server, clip, "v2", [(1920, 1080)]))]}
    )

    [media] = pexels().scene_media([scene(0, "wind")], LANDSCAPE, tmp_path / "out")

    assert server.downloads() == ["/media/deleted.mp4", "/media/v2-1920x1080.mp4"]
    assert media.credit.media_id == "2"


def test_without_a_key_the_request_is_refused_before_any_work(server, monkeypatch):
    monkeypatch.delenv("AURA_PEXELS_API_KEY")

    with pytest.raises(ProviderError) as caught:
        PexelsProvider.check_request(None, Settings())

    assert str(caught.value) == (
        "AURA_PEXELS_API_KEY is not set: get a free key at https://www.pexels.com/api/ and set it, "
        "or choose another AURA_IMAGE_PROVIDER"
    )
    status = pexels().status()
    assert status.kind == "images" and not status.usable and "AURA_PEXELS_API_KEY is not set" in status.detail


def test_the_providers_have_the_image_provider_shape_and_keep_the_key_out_of_what_they_show(server, monkeypatch):
    monkeypatch.setattr(IMAGE_PROVIDERS, "_providers", dict(IMAGE_PROVIDERS._providers))
    for provider in (PexelsProvider, PixabayProvider):
        IMAGE_PROVIDERS.register(provider)
        made = IMAGE_PROVIDERS.make(provider.name, Settings())
        assert isinstance(made, ImageProvider)
        assert provider.check_request(None, Settings()) == []
        status = made.status()
        assert status.usable and server.url in status.detail and KEY not in status.detail
        assert image_output_settings(provider.name, Settings()) == {"provider": provider.name, "media": "both"}


# ---------------------------------------------------------------- Pixabay


def test_pixabay_finds_a_clip_with_the_key_as_a_parameter_and_fetches_the_rendition_for_the_frame(server, clip, tmp_path):
    renditions = {
        "large": (3840, 2160, server.add_file("x-large.mp4", clip), 90_000_000),
        "medium": (1920, 1080, server.add_file("x-medium.mp4", clip), 9_000_000),
        "small": (1280, 720, server.add_file("x-small.mp4", clip), 4_000_000),
        "tiny": (960, 540, "", 0),  # a rendition Pixabay has not made
    }
    server.answer("/api/videos/", {"total": 1, "totalHits": 1, "hits": [pixabay_video(7, renditions, duration=15)]})

    [media] = pixabay().scene_media([scene(0, "mountain lake")], LANDSCAPE, tmp_path / "out")

    [search] = server.asked("/api/videos/")
    assert search.params["key"] == KEY and search.params["q"] == "mountain lake"
    assert search.params["safesearch"] == "true" and 3 <= int(search.params["per_page"]) <= 200
    assert "authorization" not in search.headers
    assert server.downloads() == ["/media/x-small.mp4"]
    assert_clip(media.path) and media.path.name == "scene_000.mp4"
    assert media.credit.media_id == "7" and media.credit.page_url == "https://pixabay.com/videos/clip-7/"
    assert media.credit.author == "maker7" and media.credit.author_url == "https://pixabay.com/users/maker7-3007/"


def test_pixabay_in_portrait_skips_landscape_clips_and_searches_vertical_photos(server, clip, photo, tmp_path):
    landscape = {"medium": (1920, 1080, server.add_file("wide.mp4", clip), 1000)}
    server.answer("/api/videos/", {"hits": [pixabay_video(1, landscape)]})
    urls = {
        "webformatURL": server.add_file("p-640.jpg", photo, "image/jpeg"),
        "largeImageURL": server.add_file("p-1280.jpg", photo, "image/jpeg"),
        "fullHDURL": server.add_file("p-1920.jpg", photo, "image/jpeg"),
    }
    server.answer("/api/", {"hits": [pixabay_photo(3, 3000, 4500, urls)]})

    [media] = pixabay().scene_media([scene(0, "lighthouse")], PORTRAIT, tmp_path / "out")

    [photos] = server.asked("/api/")
    assert photos.params["orientation"] == "vertical" and photos.params["image_type"] == "photo"
    assert "orientation" not in server.asked("/api/videos/")[0].params  # the video API takes none
    # 853x1280 would be upscaled to 806x1434; the 1280x1920 rendition covers it
    assert server.downloads() == ["/media/p-1920.jpg"]
    assert media.kind == "still" and media.credit.media_id == "3" and media.path.name == "scene_000.jpg"


def test_pixabay_keeps_its_key_out_of_logs_and_errors(server, clip, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="httpx")  # litellm sets it to WARNING: let it log the URLs here
    server.answer("/api/videos/", {"hits": [pixabay_video(1, {"medium": (1920, 1080, server.add_file("m.mp4", clip), 1)})]})
    server.fail("/api/videos/", 503, times=1)

    with caplog.at_level(logging.DEBUG):
        [media] = pixabay().scene_media([scene(0, "harbour")], LANDSCAPE, tmp_path / "out")
        server.fail("/api/videos/", 500, times=3)
        with pytest.raises(ProviderError) as caught:
            pixabay().scene_media([scene(0, "another query")], LANDSCAPE, tmp_path / "out2")

    assert media is not None
    # httpx logs the search URLs (redacted by aura's filter, or litellm's where it is loaded): never with the key
    assert "/api/videos/?q=harbour" in caplog.text
    assert KEY not in caplog.text and KEY not in str(caught.value)
    assert str(caught.value) == "pixabay: HTTP 500 Internal Server Error after 3 tries: the service is failing, try again later"


def test_pixabay_with_a_bad_key_names_its_setting(server, tmp_path, monkeypatch):
    monkeypatch.setenv("AURA_PIXABAY_API_KEY", "nope")

    with pytest.raises(ProviderUnavailable, match="check AURA_PIXABAY_API_KEY"):
        pixabay().scene_media([scene(0, "harbour")], LANDSCAPE, tmp_path / "out")


def test_each_search_call_is_counted_and_priced_and_a_cached_answer_costs_nothing(server, clip, photo, tmp_path, monkeypatch):
    monkeypatch.setenv("AURA_PRICES", '{"stock_per_call": {"pexels": 0.002}}')
    get_settings.cache_clear()
    server.answer("/videos/search", {"videos": [pexels_video(1, video_files(server, clip, "v1", [(1920, 1080)]))]})
    server.answer("/v1/search", {"photos": [pexels_photo(9, 6000, 4000, server.add_file("p9.jpeg", photo, "image/jpeg"))]})
    prompts = [scene(0, "glacier"), scene(1, "glacier")]
    with spend.tally() as first:
        pexels().scene_media(prompts, LANDSCAPE, tmp_path / "run1")
    searches = len(server.asked("/videos/search")) + len(server.asked("/v1/search"))
    with spend.tally() as second:
        pexels().scene_media(prompts, LANDSCAPE, tmp_path / "run2")
    get_settings.cache_clear()

    assert searches >= 1 and first.stock_calls == {"pexels": searches}
    assert first.stock_usd == pytest.approx(0.002 * searches) and first.total_usd == pytest.approx(first.stock_usd)
    assert second.stock_calls == {} and second.total_usd == 0  # answered from the day's cache
