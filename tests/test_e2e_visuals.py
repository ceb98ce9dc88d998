"""Found visuals end to end, as a demanding user meets them: `aura generate` in its own process, on the
session's Prefect server, with real ffmpeg, espeak-ng and the offline writer.

Pexels is a local stand-in (helpers.stock_server) serving real clips made by ffmpeg; the user's own
folder and per-scene files are real files. Each scene's clip is a solid colour, so a frame from the
middle of a scene shows which clip the video put there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers.clips import RGB, centre_colour, close, frame_at, make_clip, make_picture, tone_level
from helpers.jobs import check_video, job_folders, no_half_job
from helpers.stock_server import StockServer, pexels_video
from PIL import Image

pytestmark = pytest.mark.e2e

KEY = "pexels-e2e-key-3b7d91c0"
BRIEF = "Coral reefs and the fish that live there"
FRAME = SimpleNamespace(size=(1280, 720))  # the 16:9, 720p default

RED, GREEN, BLUE = (200, 40, 40), (40, 180, 60), (40, 70, 200)
ORANGE, CYAN, GREY = (230, 140, 20), (20, 190, 190), (128, 128, 128)
MAGENTA, YELLOW = (190, 40, 190), (220, 210, 40)

# settings of the machine running the tests that would change what these runs use
CLEARED = ("AURA_IMAGE_PROVIDER", "AURA_PEXELS_", "AURA_PIXABAY_", "AURA_STOCK_", "AURA_MEDIA_", "AURA_SD_", "AURA_OUTPUT")
PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


# ---------------------------------------------------------------- what the stand-in serves


@dataclass(frozen=True)
class StockClip:
    media_id: int
    colour: RGB | None  # None: the test pattern
    seconds: int
    tone_hz: int | None  # its sound, if it has one
    files: dict[tuple[int, int], bytes]  # the renditions Pexels lists, each a real file of that size


@pytest.fixture(scope="module")
def stock_clips(tmp_path_factory) -> list[StockClip]:
    """Clips of different sizes, lengths and frame rates, some with sound, one portrait, one shorter than a scene."""
    tmp = tmp_path_factory.mktemp("stock")

    def clip(media_id: int, colour, seconds: int, sizes, fps: int, tone_hz=None) -> StockClip:
        files = {}
        for size in sizes:
            path = make_clip(tmp / f"{media_id}-{size[0]}x{size[1]}.mp4", size, seconds, fps, colour, tone_hz)
            files[size] = path.read_bytes()
        return StockClip(media_id, colour, seconds, tone_hz, files)

    return [
        clip(104, None, 10, [(360, 640)], 30),  # portrait: never cropped into a landscape video
        clip(101, RED, 12, [(1920, 1080), (640, 360)], 30),  # two renditions: the one that covers the frame is fetched
        clip(102, GREEN, 9, [(960, 540)], 24, tone_hz=440),  # smaller than the frame, with sound (dropped)
        clip(103, BLUE, 2, [(640, 360)], 25, tone_hz=660),  # shorter than any scene
    ]


SHORT_ID, PORTRAIT_ID = "103", "104"


@pytest.fixture
def stand_in(stock_clips, no_proxy):
    """A Pexels stand-in that answers every video search with the clips, and no photos."""
    with StockServer(KEY) as server:
        videos = []
        for clip in stock_clips:
            files = [(w, h, server.add_file(f"v{clip.media_id}-{w}x{h}.mp4", data)) for (w, h), data in clip.files.items()]
            videos.append(pexels_video(clip.media_id, files, duration=clip.seconds))
        server.answer("/videos/search", {"videos": videos})
        yield server


@pytest.fixture
def bare_env(tmp_path) -> dict[str, str]:
    """The user's environment without the test machine's visuals settings or proxies, with a stock cache of its own."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(CLEARED) and name not in PROXIES}
    env.update({
        "AURA_STOCK_CACHE_DIR": str(tmp_path / "stock-cache"),
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    })  # fmt: skip
    return env


@pytest.fixture
def user_env(bare_env, prefect_api_url) -> dict[str, str]:
    """... and the session's Prefect server (test_cli_server covers a temporary one)."""
    return {**bare_env, "PREFECT_API_URL": prefect_api_url}


def pexels_env(env: dict[str, str], url: str) -> dict[str, str]:
    return {**env, "AURA_IMAGE_PROVIDER": "pexels", "AURA_PEXELS_API_KEY": KEY, "AURA_PEXELS_URL": url}


# ---------------------------------------------------------------- running the command and reading the result


def generate(env: dict[str, str], out: Path, *options: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aura.cli", "generate", BRIEF, "--out", str(out), *options],
        capture_output=True, text=True, timeout=timeout, env=env, check=False,
    )  # fmt: skip


def finished(proc: subprocess.CompletedProcess) -> tuple[dict, dict, Path]:
    """The --json report, metadata.json and the job folder of a run that succeeded, its video probed."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    folder = Path(report["folder"])
    metadata = check_video(folder, FRAME)  # h264 1280x720 + aac, as long as the narration
    assert report["ok"] and report["video"] == str(folder / "video.mp4")
    assert abs(report["duration"] - metadata["timings"]["duration"]) <= 0.01
    scenes = metadata["script"]["scenes"]
    assert [row["scene"] for row in metadata["credits"]] == list(range(len(scenes))), "a credits row per scene"
    assert report["warnings"] == metadata["warnings"]
    return report, metadata, folder


def thumbnail_colour(folder: Path) -> RGB:
    with Image.open(folder / "thumbnail.jpg") as thumbnail:
        assert thumbnail.format == "JPEG" and thumbnail.size == FRAME.size
        return centre_colour(thumbnail.convert("RGB"))


def scene_colours(folder: Path, metadata: dict, tmp: Path) -> list[RGB]:
    """The colour in the middle of the frame halfway through each scene."""
    return [
        centre_colour(frame_at(folder / "video.mp4", (scene["start"] + scene["end"]) / 2, tmp / f"frame-{n}.png"))
        for n, scene in enumerate(metadata["timings"]["scenes"])
    ]


def clip_sound(folder: Path, metadata: dict, scene: int, hz: float) -> float:
    """How much louder a tone of `hz` is in the video than in the narration alone, during a scene: about 1 if not heard."""
    timing = metadata["timings"]["scenes"][scene]
    start, end = timing["start"] + 0.3, timing["end"] - 0.3
    return tone_level(folder / "video.mp4", start, end, hz) / tone_level(folder / "work" / "narration.wav", start, end, hz)


def is_slide(row: dict) -> bool:
    return row["provider"] == "slides" and row["kind"] == "still" and "media_id" not in row


# ---------------------------------------------------------------- 1. Pexels


def test_pexels_clips_fill_every_scene_credited_and_a_second_run_downloads_nothing(stand_in, stock_clips, user_env, tmp_path):
    env = pexels_env(user_env, stand_in.url)
    out = tmp_path / "out"
    report, metadata, folder = finished(generate(env, out, "--duration", "20", "--json"))
    scenes, credits = metadata["script"]["scenes"], metadata["credits"]
    assert len(scenes) >= 3

    # every scene is a Pexels clip, credited as the stand-in served it, none used twice
    served = {str(clip.media_id): clip for clip in stock_clips}
    assert all(row["provider"] == "pexels" and row["kind"] == "clip" for row in credits), credits
    ids = [row["media_id"] for row in credits]
    assert len(set(ids)) == len(ids) and set(ids) <= set(served)
    for row in credits:
        n = row["media_id"]
        assert row["page_url"] == f"https://www.pexels.com/video/clip-{n}/"
        assert row["author"] == f"Videographer {n}" and row["author_url"] == f"https://www.pexels.com/@videographer-{n}"
        assert "Pexels License" in row["license"]
    assert PORTRAIT_ID not in ids  # a portrait clip is not cropped into a landscape video
    assert SHORT_ID in ids  # a clip shorter than its scene still serves it (looped or slowed: durations match above)
    assert metadata["providers"]["images"] == report["providers"]["images"] == "pexels"
    assert not [w for w in metadata["warnings"] if "pexels" in w.lower()], metadata["warnings"]

    # the stand-in saw the key, and queries from the scenes' own search terms
    searches = stand_in.asked("/videos/search")
    assert searches and all(s.headers.get("authorization") == KEY for s in searches)
    terms = {term for scene in scenes for term in (*scene["search_terms"], scene["key_phrase"])}
    assert searches[0].params["query"] == scenes[0]["search_terms"][0]
    assert all(s.params["query"] in terms and s.params["orientation"] == "landscape" for s in searches)
    # one file per scene, never the same twice, and for the 1080p clip the rendition that covers 720p, not the small one
    downloads = stand_in.downloads()
    assert sorted(downloads) == sorted(f"/media/v{n}-{'x'.join(map(str, next(iter(served[n].files))))}.mp4" for n in ids)
    assert "/media/v101-640x360.mp4" not in downloads

    # what is on screen: each scene shows its clip's colour, halfway through (past the short clip's own end)
    colours = scene_colours(folder, metadata, tmp_path)
    for row, colour, timing in zip(credits, colours, metadata["timings"]["scenes"]):
        assert close(colour, served[row["media_id"]].colour), (row["scene"], row["media_id"], colour)
        if row["media_id"] == SHORT_ID:
            assert (timing["end"] - timing["start"]) / 2 > served[SHORT_ID].seconds  # the middle is after the clip's end
        if served[row["media_id"]].tone_hz:  # a stock clip's own sound is not heard under the narration
            assert clip_sound(folder, metadata, row["scene"], served[row["media_id"]].tone_hz) < 1.3

    assert close(thumbnail_colour(folder), served[credits[0]["media_id"]].colour)  # the first scene's clip

    # again with --fresh: the visuals stage runs again and takes everything from the cache
    asked_before = len(stand_in.requests)
    again_report, again, _ = finished(generate(env, out, "--duration", "20", "--json", "--fresh"))
    assert again_report["stages"]["visuals"]["cached"] is False
    assert len(stand_in.requests) == asked_before and stand_in.downloads() == downloads  # no search, no download
    assert again["credits"] == credits


# ---------------------------------------------------------------- 2. the user's own folder


def test_your_own_folder_serves_the_scenes_its_names_match_and_slides_the_rest(user_env, tmp_path):
    library = tmp_path / "my media"
    make_clip(library / "ocean" / "coral_reefs.mp4", (1280, 720), 5, 25, ORANGE, tone_hz=500)
    make_picture(library / "tropical_fish.png", (1024, 768), CYAN)
    (library / "tropical_fish.png.json").write_text(
        json.dumps({"tags": ["tropical fish", "coral reef fish"], "author": "Ana Diver", "license": "CC BY 4.0"}),
        encoding="utf-8",
    )
    make_picture(library / "office_spreadsheet.jpg", (1280, 720), GREY)  # nothing to do with reefs
    hidden = library / ".trash" / "coral_reefs.mp4"  # hidden: never used, though its name matches
    make_clip(hidden, (640, 360), 3, 25, MAGENTA)
    (library / "README.txt").write_text("my dive footage", encoding="utf-8")  # not media
    env = {**user_env, "AURA_MEDIA_LIBRARY": str(library)}

    _, metadata, folder = finished(generate(env, tmp_path / "out", "--duration", "20", "--json"))
    credits = metadata["credits"]
    assert len(credits) >= 3

    own = {row["media_id"]: row for row in credits if row["provider"] == "library"}
    assert set(own) == {"ocean/coral_reefs.mp4", "tropical_fish.png"}, credits  # not the spreadsheet, not the hidden one
    assert sum(row["provider"] == "library" for row in credits) == len(own)  # each file once
    assert own["ocean/coral_reefs.mp4"]["kind"] == "clip"
    assert own["tropical_fish.png"]["kind"] == "still"
    assert own["tropical_fish.png"]["author"] == "Ana Diver" and own["tropical_fish.png"]["license"] == "CC BY 4.0"
    rest = [row for row in credits if row["provider"] != "library"]
    assert rest and all(is_slide(row) for row in rest), credits
    assert set(metadata["providers"]["images"].split("+")) == {"library", "slides"}

    colours = scene_colours(folder, metadata, tmp_path)
    expected = {"ocean/coral_reefs.mp4": ORANGE, "tropical_fish.png": CYAN}
    for row, colour in zip(credits, colours):
        if row["provider"] == "library":
            assert close(colour, expected[row["media_id"]]), (row, colour)
        else:  # a slide, not any of the library's files
            assert not any(close(colour, c) for c in (ORANGE, CYAN, GREY, MAGENTA)), (row, colour)
    reef = next(row["scene"] for row in credits if row["media_id"] == "ocean/coral_reefs.mp4")
    assert clip_sound(folder, metadata, reef, 500) < 1.3  # its sound is dropped: no --clip-audio
    assert hidden.is_file() and (library / "ocean" / "coral_reefs.mp4").is_file()  # the library is only read


# ---------------------------------------------------------------- 3. per-scene media


def test_per_scene_media_serve_their_scenes_and_the_chain_the_others(stand_in, user_env, tmp_path):
    mine = tmp_path / "my files"
    clip = make_clip(mine / "my dive.mp4", (720, 1280), 3, 24, MAGENTA, tone_hz=1000)  # portrait, short, with sound
    image = make_picture(mine / "reef map.png", (800, 800), YELLOW)
    clip_bytes = clip.read_bytes()
    env = pexels_env(user_env, stand_in.url)

    proc = generate(env, tmp_path / "out", "--duration", "20", "--media", str(clip), "--media", "", "--media", str(image),
                    "--clip-audio", "--json")  # fmt: skip
    _, metadata, folder = finished(proc)
    credits = metadata["credits"]
    assert len(credits) >= 3

    assert credits[0] == {"scene": 0, "provider": "request", "kind": "clip"}
    assert credits[2] == {"scene": 2, "provider": "request", "kind": "still"}
    chain = [row for row in credits if row["scene"] not in (0, 2)]
    assert all(row["provider"] == "pexels" and row["kind"] == "clip" for row in chain), credits
    assert credits[1]["media_id"] == "101"  # the first landscape hit: the portrait one is skipped
    assert metadata["providers"]["images"] == "request+pexels"
    assert metadata["request"]["media"] == [str(clip), "", str(image)]

    # the chain was asked only for the scenes left to it
    searches = stand_in.asked("/videos/search")
    scenes = metadata["script"]["scenes"]
    asked_for = {term for scene in scenes if scene["index"] not in (0, 2) for term in (*scene["search_terms"], scene["key_phrase"])}
    assert searches and all(s.params["query"] in asked_for for s in searches)
    assert len(stand_in.downloads()) == len(chain)

    colours = scene_colours(folder, metadata, tmp_path)
    assert close(colours[0], MAGENTA) and close(colours[1], RED) and close(colours[2], YELLOW), colours
    assert close(thumbnail_colour(folder), MAGENTA)
    # --clip-audio: the clip's tone is heard (under the narration) in its own scene, not in the others
    kept = [clip_sound(folder, metadata, scene, 1000) for scene in range(3)]
    assert kept[0] > 1.6 and kept[1] < 1.3 and kept[2] < 1.3, kept
    assert clip.read_bytes() == clip_bytes and image.is_file()  # the user's files are left as they were


# ---------------------------------------------------------------- 4. a dead API


def test_a_dead_api_falls_back_to_slides_with_a_warning_and_fails_when_visuals_are_required(user_env, tmp_path, refused_port):
    env = pexels_env(user_env, f"http://127.0.0.1:{refused_port}")

    report, metadata, _ = finished(generate(env, tmp_path / "out", "--duration", "10", "--json"))
    assert all(is_slide(row) for row in metadata["credits"]), metadata["credits"]
    assert metadata["providers"]["images"] == report["providers"]["images"] == "slides"
    [warning] = [w for w in metadata["warnings"] if "pexels" in w]
    assert "cannot reach 127.0.0.1" in warning and "refused" in warning.lower() and "slides" in warning, warning
    assert KEY not in json.dumps(metadata) and KEY not in json.dumps(report)

    out = tmp_path / "required"
    proc = generate(env, out, "--duration", "10", "--visuals-required")
    assert proc.returncode != 0, proc.stdout[-2000:]
    message = proc.stderr
    assert "pexels" in message and "cannot reach 127.0.0.1" in message and "refused" in message.lower(), message
    assert "Traceback" not in message and KEY not in message
    for job in job_folders(out):
        no_half_job(job)
    assert not list(out.rglob("video.mp4"))


# ---------------------------------------------------------------- 5. a rate limit, then an answer


def test_a_rate_limit_once_is_waited_out_and_the_scenes_are_pexels_clips(stand_in, user_env, tmp_path):
    stand_in.fail("/videos/search", 429, headers={"Retry-After": "0"})
    env = pexels_env(user_env, stand_in.url)

    _, metadata, _ = finished(generate(env, tmp_path / "out", "--duration", "10", "--json"))
    assert all(row["provider"] == "pexels" and row["kind"] == "clip" for row in metadata["credits"]), metadata["credits"]
    searches = stand_in.asked("/videos/search")
    assert len(searches) >= 2 and searches[0].params == searches[1].params  # the refused search, asked again
    assert metadata["providers"]["images"] == "pexels"
    assert not [w for w in metadata["warnings"] if "pexels" in w.lower()], metadata["warnings"]


# ---------------------------------------------------------------- 6. a missing key


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_missing_key_is_refused_before_any_work(bare_env, tmp_path, as_json):
    env = {**bare_env, "AURA_IMAGE_PROVIDER": "pexels"}  # no Prefect server: none is needed to refuse
    out = tmp_path / "out"

    proc = generate(env, out, "--duration", "10", *(["--json"] if as_json else []), timeout=60)

    assert proc.returncode == 2, proc.stderr[-2000:]
    if as_json:
        answer = json.loads(proc.stdout)
        assert answer["ok"] is False and "AURA_PEXELS_API_KEY" in answer["error"]
    else:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "AURA_PEXELS_API_KEY" in lines[0], proc.stderr
        assert "https://www.pexels.com/api/" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not out.exists()  # no job folder, no video
