"""The studio page in a real browser: headless Chromium (Debian's) driven by Selenium, as a new user works.

A video made from the form (a music file uploaded with its progress bar), each
stage's bar to its end, the video played in the page with its subtitles, the
job in the list with its thumbnail; what a video with a paid LLM cost, beside
it; a script reviewed and edited in the page;
a rendering job cancelled; a bad value shown beside its field, on a phone's
width with the keyboard alone. A failing test keeps a screenshot (in
AURA_SCREENSHOT_DIR when set, else the test's temporary folder); with
AURA_SCREENSHOT_DIR set the views are kept too (the README's pictures).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from helpers.gateway import TOKEN, serving, start_gateway
from helpers.llm_server import ChatServer, script_answer

from aura.media.ffmpeg import ffmpeg_path
from aura.models import VideoRequest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.environ.get("AURA_SKIP_BROWSER") == "1", reason="AURA_SKIP_BROWSER=1: no browser on this machine"),
]
EDIT = "Balloon pilots hum to the clouds for luck."


@pytest.fixture(scope="module")
def gateway(prefect_api_url, tmp_path_factory):
    gateway = start_gateway(tmp_path_factory.mktemp("gateway-page"), prefect_api_url)
    yield gateway
    gateway.stop()


def keep(browser, name: str, folder: Path | None = None) -> Path | None:
    target = Path(os.environ["AURA_SCREENSHOT_DIR"]) if os.environ.get("AURA_SCREENSHOT_DIR") else folder
    if target is None:
        return None
    target.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(target / f"{name}.png"))
    return target / f"{name}.png"


@pytest.fixture
def browser(request, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "install the browser test's tools: apt-get install chromium chromium-driver (scripts/setup.sh does)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,1400", "--mute-audio",
                     "--autoplay-policy=no-user-gesture-required"):  # fmt: skip
        options.add_argument(argument)
    browser = webdriver.Chrome(options=options, service=Service(driver))
    yield browser
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        shot = keep(browser, f"failed-{request.node.name}", tmp_path)
        print(f"screenshot of the failure: {shot}")
    browser.quit()


def open_studio(browser, gateway, token: bool = True):
    """The page as a new user opens it: the token asked for in its dialog."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(gateway.url + "/")
    if token:
        WebDriverWait(browser, 20).until(lambda b: b.find_element(By.ID, "token-dialog").is_displayed())
        browser.find_element(By.ID, "token").send_keys(TOKEN)
        browser.find_element(By.CSS_SELECTOR, "#token-form button").click()
    WebDriverWait(browser, 30).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#voice option")) > 1)


def fill(browser, **fields):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    for name, value in fields.items():
        control = browser.find_element(By.NAME, name)
        if control.tag_name == "select":
            Select(control).select_by_value(str(value))
        elif control.get_attribute("type") == "checkbox":
            if control.is_selected() != bool(value):
                control.click()
        elif control.get_attribute("type") == "file":
            control.send_keys(str(value))
        else:
            control.clear()
            control.send_keys(str(value))


def wait_for(browser, condition, seconds: float, what: str):
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + seconds
    while not condition():
        error = browser.find_element(By.ID, "error").text
        assert not error, f"the page shows an error while waiting for {what}: {error}"
        assert time.monotonic() < deadline, f"{what} did not happen in {seconds} s; the job view says: {browser.find_element(By.ID, 'job').text}"
        time.sleep(0.2)


def test_a_video_made_watched_and_listed_from_the_page_alone(gateway, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    open_studio(browser, gateway)
    assert "access_token" not in browser.current_url
    music = tmp_path / "bed.wav"
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "sine=f=60:d=5", "-ar", "8000", str(music)], check=True)
    fill(browser, brief="How hot-air balloons fly", duration_seconds=10, aspect="9:16", preset="quick_demo", music=music)
    keep(browser, "studio-form")
    browser.find_element(By.ID, "make").click()

    bars, left = {}, []
    player = browser.find_element(By.ID, "player")

    def seen() -> bool:
        for stage in ("brief", "script", "voice", "visuals", "compose"):
            for bar in browser.find_elements(By.ID, f"bar-{stage}"):  # drawn once the job view opens
                bars.setdefault(stage, set()).add(float(bar.get_attribute("value") or 0))
        told = browser.find_element(By.ID, "eta").text
        if told and not any(left):
            keep(browser, "studio-progress")
        left.append(told)
        return player.is_displayed()

    wait_for(browser, seen, 300, "the video")
    assert all(max(values) == 100 for values in bars.values()), bars
    # while it ran the page said about how long was left; once done, nothing
    assert any(re.fullmatch(r"· about \d+ s left", told) for told in left), left
    assert browser.find_element(By.ID, "eta").text == ""
    assert float(browser.find_element(By.ID, "bar").get_attribute("value")) == 100
    assert "bed.wav" in browser.find_element(By.ID, "uploads").text
    browser.execute_script("document.getElementById('job').scrollIntoView()")
    keep(browser, "studio-job")

    # the video plays in the page: its time advances, and its subtitles are a track
    browser.execute_script("arguments[0].play()", player)
    WebDriverWait(browser, 30).until(lambda b: b.execute_script("return arguments[0].currentTime", player) > 0.5)
    assert browser.execute_script("return arguments[0].error", player) is None
    assert browser.execute_script("return arguments[0].videoWidth", player) == 720
    WebDriverWait(browser, 20).until(lambda b: b.execute_script("return arguments[0].textTracks[0].cues?.length || 0", player) > 0)
    for link in ("download", "srt", "metadata"):
        assert browser.find_element(By.ID, link).get_attribute("href")

    # the job heads the list, with its thumbnail loaded
    job_id = browser.find_element(By.ID, "job").get_attribute("data-job-id")
    entry = f"#video-list button[data-job-id='{job_id}']"
    WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.CSS_SELECTOR, entry))
    first = browser.find_elements(By.CSS_SELECTOR, "#video-list button")[0]
    assert first.get_attribute("data-job-id") == job_id and "completed" in first.text.lower()
    thumbnail = browser.find_element(By.CSS_SELECTOR, f"{entry} img")
    WebDriverWait(browser, 20).until(lambda b: b.execute_script("return arguments[0].complete && arguments[0].naturalWidth", thumbnail) > 0)
    browser.execute_script("document.getElementById('videos').scrollIntoView()")
    keep(browser, "studio-list")
    with gateway.client() as api:
        metadata = api.get(f"/api/videos/{job_id}/metadata").json()
    assert metadata["request"]["music"].startswith("upload:") and metadata["request"]["aspect"] == "9:16"


def test_what_a_video_cost_is_shown_beside_it(prefect_api_url, tmp_path, browser):
    """A paid LLM (a local stand-in that reports 10 tokens in and 10 out) at litellm's price for the model."""
    from selenium.webdriver.common.by import By

    request = VideoRequest(brief="How glaciers carve valleys", duration_seconds=10, aspect="9:16")
    paid = {"AURA_LLM_MODEL": "openai/gpt-4o-mini", "AURA_LLM_API_KEY": "sk-test", "AURA_LLM_RETRIES": "0"}
    with ChatServer([script_answer(request)]) as llm, serving(tmp_path, prefect_api_url, AURA_LLM_API_BASE=llm.url, **paid) as gateway:
        open_studio(browser, gateway)
        fill(browser, brief=request.brief, duration_seconds=10, aspect="9:16", preset="quick_demo")
        browser.find_element(By.ID, "make").click()
        spent = browser.find_element(By.ID, "spent")
        wait_for(browser, spent.is_displayed, 300, "what the video cost")
        assert spent.text == "Spent $0.0000075: LLM 10 in / 10 out tokens"
        browser.execute_script("document.getElementById('job').scrollIntoView()")
        keep(browser, "studio-spent")
        assert browser.find_element(By.ID, "player").is_displayed() and len(llm.requests) == 1


def test_a_script_reviewed_and_edited_in_the_page_is_what_the_video_says(gateway, browser):
    from selenium.webdriver.common.by import By

    open_studio(browser, gateway)
    fill(browser, brief="Why balloons rise at dawn", duration_seconds=10, preset="quick_demo", review_script=True)
    browser.find_element(By.ID, "make").click()
    narration = (By.ID, "review-scenes-0-narration")
    wait_for(browser, lambda: browser.find_elements(*narration) and browser.find_element(*narration).is_displayed(), 180, "the script editor")
    browser.execute_script("document.getElementById('review-form').scrollIntoView()")
    keep(browser, "studio-review")
    browser.find_element(*narration).clear()
    browser.find_element(*narration).send_keys(EDIT)
    browser.find_element(By.ID, "resume").click()
    wait_for(browser, lambda: browser.find_element(By.ID, "player").is_displayed(), 300, "the video")
    job_id = browser.find_element(By.ID, "job").get_attribute("data-job-id")
    with gateway.client() as api:
        subtitles = " ".join(api.get(f"/api/videos/{job_id}/subtitles").text.split())
    assert "hum to the clouds for luck" in subtitles


def test_a_rendering_job_is_cancelled_from_the_page(gateway, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    open_studio(browser, gateway)
    fill(browser, brief="How balloons are stitched", duration_seconds=60)
    browser.find_element(By.ID, "make").click()
    stage = browser.find_element(By.ID, "stage")
    wait_for(browser, lambda: stage.text in ("voice", "visuals", "compose"), 240, "the render")
    browser.find_element(By.ID, "cancel").click()
    WebDriverWait(browser, 60).until(lambda b: "cancelled" in b.find_element(By.ID, "error").text)
    assert browser.find_element(By.ID, "retry").is_displayed()
    job_id = browser.find_element(By.ID, "job").get_attribute("data-job-id")
    with gateway.client() as api:
        assert api.get(f"/api/videos/{job_id}/status").json()["status"] == "cancelled"
    time.sleep(1)
    left = [p for p in psutil.process_iter(["name", "cmdline"]) if "ffmpeg" in (p.info["name"] or "")
            and any(job_id in part for part in p.info["cmdline"] or [])]  # fmt: skip
    assert not left


def test_on_a_phone_with_the_keyboard_alone_a_bad_value_is_shown_beside_its_field(gateway, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser.set_window_size(390, 844)
    open_studio(browser, gateway)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    unlabelled = browser.execute_script(
        "return [...document.querySelectorAll('input, select, textarea')].filter(c => c.type !== 'hidden' &&"
        " !document.querySelector(`label[for='${c.id}']`) && !c.getAttribute('aria-label')).map(c => c.id || c.name)"
    )
    assert unlabelled == []
    names = set(browser.execute_script("return [...document.querySelectorAll('#brief-form [name]')].map(c => c.name)"))
    assert names >= {"brief", "title", "audience", "style", "duration_seconds", "aspect", "resolution", "fps", "language",
                     "voice", "music", "references", "media", "clip_audio", "seed", "visuals_required", "review_script", "preset"}
    def press(*keys) -> None:  # keys to whatever has the focus, as a person types them
        ActionChains(browser).send_keys(*keys).perform()

    press(Keys.TAB)
    for _ in range(80):  # tab from the top of the page to each control
        active = browser.switch_to.active_element
        name = active.get_attribute("name")
        if name == "brief":
            press("Why the sky is blue")
        elif name == "title":
            press("A title far too long " * 8)
        elif active.get_attribute("id") == "make":
            press(Keys.ENTER)
            break
        press(Keys.TAB)
    error = browser.find_element(By.ID, "title-error")
    WebDriverWait(browser, 20).until(lambda b: error.text)
    assert "title" in error.text and "the limit is 120" in error.text
    assert browser.find_element(By.ID, "title").get_attribute("aria-invalid") == "true"
    keep(browser, "studio-phone-error")
