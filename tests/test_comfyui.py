"""ComfyUI as a visuals provider, against a local stand-in of its HTTP API."""

from __future__ import annotations

import json

import pytest

from aura import spend
from aura.errors import ProviderError, ProviderUnavailable
from aura.media.probe import probe
from aura.models import VideoRequest
from aura.providers.images.base import ImagePrompt
from aura.providers.images.comfyui import ComfyUIProvider, ComfyUISettings, fill, read_workflow
from flows.generate_video import generate_video
from helpers.comfyui_server import ComfyUIServer, image_to_video_workflow, text_to_image_workflow
from helpers.jobs import check_video


def prompts(count: int) -> list[ImagePrompt]:
    return [ImagePrompt(index=i, prompt=f"a volcano at dawn, view {i}", key_phrase=f"view {i}", title="Volcanoes",
                        style="explainer", seed=100 + i) for i in range(count)]  # fmt: skip


def provider(tmp_path, workflow: dict, *servers: ComfyUIServer) -> ComfyUIProvider:
    path = tmp_path / "workflow_api.json"
    path.write_text(json.dumps(workflow))
    return ComfyUIProvider(ComfyUISettings(url=[s.url for s in servers], workflow=str(path), frames=9, fps=6))


def test_placeholders_are_filled_as_text_and_as_numbers():
    filled = fill(text_to_image_workflow(), {"prompt": "lava", "negative_prompt": "blur", "seed": 7, "width": 512, "height": 288})
    assert filled["3"]["inputs"]["seed"] == 7 and filled["5"]["inputs"]["width"] == 512
    assert filled["6"]["inputs"]["text"] == "lava, cinematic" and filled["7"]["inputs"]["text"] == "blur"
    assert filled["4"]["inputs"]["ckpt_name"] == "v1-5-pruned-emaonly.safetensors"  # the rest as it was


def test_a_workflow_that_is_not_api_format_says_how_to_export_it(tmp_path):
    saved = tmp_path / "workflow.json"
    saved.write_text(json.dumps({"nodes": [{"id": 3, "type": "KSampler"}], "links": []}))  # the UI's "Save" format
    with pytest.raises(ProviderUnavailable, match="Export \\(API\\)"):
        read_workflow(str(saved))
    with pytest.raises(ProviderUnavailable, match="AURA_COMFYUI_WORKFLOW is not set"):
        read_workflow(None)


def test_stills_are_spread_over_the_servers_at_the_frame_size(tmp_path):
    with ComfyUIServer() as one, ComfyUIServer() as two:
        media = provider(tmp_path, text_to_image_workflow(), one, two).scene_media(prompts(4), (640, 360), tmp_path / "images")
        assert one.prompts and two.prompts and len(one.prompts) + len(two.prompts) == 4
        sent = {p["3"]["inputs"]["seed"]: p["6"]["inputs"]["text"] for p in one.prompts + two.prompts}
    assert sent == {100 + i: f"a volcano at dawn, view {i}, cinematic" for i in range(4)}
    assert [m.kind for m in media] == ["still"] * 4 and [m.index for m in media] == [0, 1, 2, 3]
    for m in media:
        info = probe(m.path).of_kind("video")[0]
        assert (info.width, info.height) == (640, 360) and m.credit.provider == "comfyui"


def test_an_image_to_video_workflow_animates_each_scenes_uploaded_still(tmp_path):
    with ComfyUIServer() as server:
        media = provider(tmp_path, image_to_video_workflow(), server).scene_media(prompts(2), (512, 288), tmp_path / "images")
        assert len(server.uploads) == 2 and all(data.startswith(b"\x89PNG") for data in server.uploads.values())
        assert {p["2"]["inputs"]["image"] for p in server.prompts} == set(server.uploads)
        assert all(p["3"]["inputs"]["video_frames"] == 9 and p["6"]["inputs"]["frame_rate"] == 6 for p in server.prompts)
    for m in media:
        assert m.kind == "clip" and m.path.suffix == ".mp4"
        info = probe(m.path)
        assert info.duration == pytest.approx(9 / 6, abs=0.05) and info.of_kind("video")[0].width == 512


def test_a_missing_node_and_a_failing_node_are_one_line_naming_the_node_and_server(tmp_path):
    custom = {**text_to_image_workflow(), "10": {"class_type": "IPAdapterPlus", "inputs": {}}}
    failing = {**text_to_image_workflow(), "11": {"class_type": "RaiseError", "inputs": {}}}
    with ComfyUIServer() as server:
        with pytest.raises(ProviderError) as missing:
            provider(tmp_path, custom, server).scene_media(prompts(1), (256, 256), tmp_path / "a")
        with pytest.raises(ProviderError) as failed:
            provider(tmp_path, failing, server).scene_media(prompts(1), (256, 256), tmp_path / "b")
    host = server.url.removeprefix("http://")
    assert "node IPAdapterPlus does not exist" in str(missing.value) and host in str(missing.value)
    assert "node 11 (RaiseError)" in str(failed.value) and "out of memory" in str(failed.value)
    assert "\n" not in str(missing.value) + str(failed.value)


def test_a_server_that_dies_mid_queue_leaves_its_scenes_to_the_others(tmp_path):
    with ComfyUIServer() as dying, ComfyUIServer() as alive:
        dying.die_after = 1  # takes one scene, then goes away with it queued
        media = provider(tmp_path, text_to_image_workflow(), dying, alive).scene_media(prompts(3), (256, 256), tmp_path / "i")
    assert all(m is not None and m.path.is_file() for m in media) and len(alive.prompts) >= 2


def test_with_every_server_dead_the_chain_is_told_why(tmp_path, refused_port):
    from aura.providers.images.comfyui import ComfyUISettings

    path = tmp_path / "w.json"
    path.write_text(json.dumps(text_to_image_workflow()))
    dead = ComfyUIProvider(ComfyUISettings(url=[f"http://127.0.0.1:{refused_port}"], workflow=str(path)))
    with pytest.raises(ProviderError, match=f"ComfyUI at 127.0.0.1:{refused_port} does not answer"):
        dead.scene_media(prompts(1), (256, 256), tmp_path / "i")


@pytest.mark.e2e
def test_a_video_made_from_a_comfyui_video_workflow(prefect_server, tmp_path, monkeypatch, fresh_settings):
    """Done when: AURA_IMAGE_PROVIDER=comfyui against the stand-in makes a video from its outputs (clips, credited)."""
    workflow = tmp_path / "svd_api.json"
    workflow.write_text(json.dumps(image_to_video_workflow()))
    with ComfyUIServer() as server:
        for name, value in {"AURA_IMAGE_PROVIDER": "comfyui", "AURA_COMFYUI_URL": server.url,
                            "AURA_COMFYUI_WORKFLOW": str(workflow), "AURA_COMFYUI_FRAMES": "12",
                            "AURA_COMFYUI_FPS": "8"}.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        fresh_settings()
        request = VideoRequest(brief="How glaciers carve valleys", duration_seconds=10, aspect="16:9", seed=9)
        result = generate_video(request, preset="quick_demo", output=str(tmp_path / "out"))
        asked = len(server.prompts)
    metadata = check_video(tmp_path / "out" / result.job_id, request)
    credits = metadata["credits"]
    assert asked == len(credits) and all(c["provider"] == "comfyui" and c["kind"] == "clip" for c in credits)
    assert result.providers["images"] == "comfyui"


def test_the_servers_own_execution_time_is_charged_as_gpu_seconds_at_the_configured_price(tmp_path, monkeypatch, fresh_settings):
    monkeypatch.setenv("AURA_PRICES", '{"gpu_per_hour": 3.6}')
    fresh_settings()
    with ComfyUIServer() as server, spend.tally() as bill:
        provider(tmp_path, text_to_image_workflow(), server).scene_media(prompts(2), (320, 180), tmp_path / "images")
        reported = [entry["status"]["messages"] for entry in server.history.values()]
    seconds = sum((done[1]["timestamp"] - start[1]["timestamp"]) / 1000 for start, *_, done in reported)
    assert len(reported) == 2 and bill.gpu_seconds == pytest.approx(seconds) and seconds >= 3.0  # the server's figures
    assert bill.gpu_usd == pytest.approx(seconds * 3.6 / 3600) and bill.total_usd == pytest.approx(bill.gpu_usd)
