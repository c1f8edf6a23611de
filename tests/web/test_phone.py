"""The live page on a phone: Chromium emulating a 390x844 touch screen (an iPhone 12-15's CSS size),
against `livedrum run` on real JACK ports. It fits the width, its controls are finger-sized, and touch
(taps and a drag on the XY pad, as a finger sends them) steers the drummer. Saves a screenshot for the
README."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.actions import interaction
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.live.jack_clients import capture_port
from tests.live.test_run import Daemon, drum_ons
from tests.web.conftest import CHROMEDRIVER, CHROMIUM, SCREENSHOTS, free_tcp_port
from tests.web.test_browser import BAR, BPM, HATS, text_of, wait_text

PHONE = {"width": 390, "height": 844, "pixelRatio": 3.0, "touch": True}
FINGER = 44  # CSS px: the smallest comfortable tap target (Apple's and Google's guidelines, 44-48)


@pytest.fixture
def phone(tmp_path: Path) -> Iterator:
    """Headless Chromium emulating a phone: its screen size, pixel ratio, touch input and user agent."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("chromium and chromium-driver are not installed (Debian: apt-get install chromium "
                    "chromium-driver); the browser tests need them")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(arg)
    options.add_experimental_option("mobileEmulation", {
        "deviceMetrics": PHONE,
        "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                     "Chrome/120.0 Mobile Safari/537.36"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def into_view(driver, element) -> None:  # noqa: ANN001
    """Scroll the page (as a finger would) until the element is in the middle of the screen."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    time.sleep(0.2)


def tap(driver, element) -> None:  # noqa: ANN001
    """A finger's tap (touch pointer down and up) on the element's centre."""
    finger = PointerInput(interaction.POINTER_TOUCH, "finger")
    actions = ActionBuilder(driver, mouse=finger)
    actions.pointer_action.move_to(element).pointer_down().pause(0.05).pointer_up()
    actions.perform()


def drag(driver, element, to_x: float, to_y: float) -> None:  # noqa: ANN001
    """A finger put down on the element's centre and dragged to (to_x, to_y) of its size (0..1)."""
    w, h = element.size["width"], element.size["height"]
    finger = PointerInput(interaction.POINTER_TOUCH, "finger")
    actions = ActionBuilder(driver, mouse=finger)
    actions.pointer_action.move_to(element).pointer_down()
    for k in range(1, 6):
        f = k / 5
        actions.pointer_action.move_to(element, int(f * (to_x - 0.5) * w), int(f * (to_y - 0.5) * h))
    actions.pointer_action.pointer_up()
    actions.perform()


def test_the_live_page_fits_a_phone_and_touch_steers_the_drummer(jack_server, phone, tmp_path) -> None:  # noqa: ANN001
    ui_port = free_tcp_port()
    daemon = Daemon(tmp_path, "--mode", "lead", "--bpm", str(BPM), "--in", "nothing-matches-this", "--humanize", "0",
                    "--no-osc", "--ui-port", str(ui_port))
    try:
        phone.get(f"http://127.0.0.1:{ui_port}/")
        wait_text(phone, "link", lambda t: t == "connected")
        wait_text(phone, "state", lambda t: t == "playing")
        width = phone.execute_script("return window.innerWidth")
        overflow = phone.execute_script("return document.documentElement.scrollWidth") - width
        controls = [e for e in phone.find_elements(By.CSS_SELECTOR, "button, select, input")
                    if e.is_displayed()]
        small = [(e.get_attribute("id"), e.size) for e in controls
                 if e.size["height"] < FINGER or e.size["width"] < FINGER]
        outside = [e.get_attribute("id") for e in controls
                   if e.location["x"] < 0 or e.location["x"] + e.size["width"] > width + 0.5]
        pad = phone.find_element(By.ID, "xy")
        into_view(phone, pad)
        with capture_port(source="livedrum:livedrum") as heard:
            drag(phone, pad, 0.95, 0.5)  # complexity up, intensity in the middle, with a finger
            complexity = wait_text(phone, "complexity-value", lambda t: float(t) >= 0.85)
            hihat = phone.find_element(By.ID, "kit-hihat")
            into_view(phone, hihat)
            tap(phone, hihat)
            WebDriverWait(phone, 5).until(lambda d: hihat.get_attribute("aria-pressed") == "false")
            off_at = time.monotonic()
            time.sleep(3 * BAR)
            phone.execute_script("window.scrollTo(0, 0)")
            time.sleep(0.3)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            phone.save_screenshot(str(SCREENSHOTS / "live-phone.png"))
            state = text_of(phone, "state")
            err = daemon.terminate()
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
    assert width == PHONE["width"] and overflow <= 0, (width, overflow)  # no sideways scrolling
    assert len(controls) >= 15 and small == [] and outside == [], (len(controls), small, outside)
    assert float(complexity) >= 0.85 and state == "playing"
    web = [(e["address"], e["args"]) for e in daemon.events("web")]
    assert ("/livedrum/kit/hihat", [0]) in web, web
    assert any(a == "/livedrum/complexity" and args[0] >= 0.85 for a, args in web), web
    heard_after = [m.note for t, m in drum_ons(heard) if t > off_at + BAR]
    assert heard_after and not set(heard_after) & HATS  # touch switched the hi-hat off: none from the next bar
    assert "Traceback" not in err
