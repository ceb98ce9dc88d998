"""The gateway's page in a real browser: headless Chromium (Debian's) driven by Selenium.

A brief typed into the form, with a reference document and a music file
picked, becomes a job (the files go up through POST /api/uploads first);
the progress bar follows the SSE stream; when the job is done the player
loads the MP4, and seeking fetches it by range. The screenshot is kept in AURA_SCREENSHOT_DIR when that is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from helpers.gateway import TOKEN, start_gateway
from PIL import Image

from aura.media.ffmpeg import ffmpeg_path

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.environ.get("AURA_SKIP_BROWSER") == "1", reason="AURA_SKIP_BROWSER=1: no browser on this machine"),
]


@pytest.fixture(scope="module")
def gateway(prefect_api_url, tmp_path_factory):
    gateway = start_gateway(tmp_path_factory.mktemp("gateway-page"), prefect_api_url)
    yield gateway
    gateway.stop()


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "install the browser test's tools: apt-get install chromium chromium-driver (scripts/setup.sh does)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,1300", "--mute-audio"):
        options.add_argument(argument)
    browser = webdriver.Chrome(options=options, service=Service(driver))
    yield browser
    browser.quit()


def test_the_page_turns_a_brief_into_a_video_that_plays(gateway, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get(f"{gateway.url}/?access_token={TOKEN}")
    assert browser.title.startswith("Aura")
    browser.find_element(By.ID, "brief").send_keys("How hot-air balloons fly")
    duration = browser.find_element(By.ID, "duration")
    duration.clear()
    duration.send_keys("10")
    Select(browser.find_element(By.ID, "aspect")).select_by_visible_text("9:16")
    notes, music = tmp_path / "balloon-notes.md", tmp_path / "bed.wav"
    notes.write_text("# Balloons\n\nThe Skylark balloon rose 1,200 meters on a single burner.\n")
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "sine=f=60:d=5", "-ar", "8000", str(music)], check=True)
    browser.find_element(By.ID, "references").send_keys(str(notes))
    browser.find_element(By.ID, "music").send_keys(str(music))
    browser.find_element(By.ID, "make").click()

    # the bar moves with the stream: remember what it showed on the way
    seen, deadline = set(), time.monotonic() + 300
    player = browser.find_element(By.ID, "player")
    while not player.is_displayed():
        assert time.monotonic() < deadline, f"no video after 300 s; page says: {browser.find_element(By.ID, 'job').text}"
        assert not browser.find_element(By.ID, "error").text, browser.find_element(By.ID, "error").text
        seen.add(float(browser.find_element(By.ID, "bar").get_attribute("value")))
        time.sleep(0.1)
    assert any(0 < value < 100 for value in seen), f"the bar jumped straight to the end: {sorted(seen)}"
    assert float(browser.find_element(By.ID, "bar").get_attribute("value")) == 100
    done = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#stages li.done")]
    assert [text.split()[0] for text in done] == ["brief", "script", "voice", "visuals", "compose"]

    # the browser decodes the MP4 (H.264/AAC) and can seek in it: that takes range requests
    WebDriverWait(browser, 60).until(lambda b: b.execute_script("return arguments[0].readyState", player) >= 1)
    assert browser.execute_script("return arguments[0].error", player) is None
    length = browser.execute_script("return arguments[0].duration", player)
    assert 8 <= length <= 13
    browser.execute_script("arguments[0].currentTime = arguments[0].duration / 2", player)
    WebDriverWait(browser, 30).until(lambda b: not b.execute_script("return arguments[0].seeking", player))
    assert browser.execute_script("return arguments[0].videoWidth", player) == 720

    # the picked files reached the job by their upload refs, named as the user named them
    assert {"balloon-notes.md", "bed.wav"} <= set(browser.find_element(By.ID, "uploads").text.replace(",", " ").split())
    job_id = browser.find_element(By.ID, "job").get_attribute("data-job-id")
    with gateway.client() as api:
        metadata = api.get(f"/api/videos/{job_id}/metadata").json()
    assert metadata["request"]["music"].startswith("upload:") and metadata["request"]["references"][0].startswith("upload:")
    assert [ref["source"] for ref in metadata["references"]] == ["balloon-notes.md"]

    shot = tmp_path / "aura-page.png"
    browser.save_screenshot(str(shot))
    with Image.open(shot) as image:
        assert image.size[0] >= 900 and len(image.getcolors(1 << 24) or []) > 50  # a page with a frame in it
    if os.environ.get("AURA_SCREENSHOT_DIR"):
        target = Path(os.environ["AURA_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target / shot.name)
