"""The web UI end to end in a real browser (Debian's Chromium, headless, driven by Selenium):
the live page steers `livedrum run` on real JACK MIDI ports and follows changes sent with `oscsend`;
the studio page (`livedrum studio`) turns an uploaded MIDI file into a downloadable drum track.
Both save a screenshot to docs/screenshots/ for the README."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import mido
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import write_band_song
from tests.live.jack_clients import capture_port
from tests.live.test_osc import Band, free_udp_port, oscsend
from tests.live.test_run import Daemon, drum_ons
from tests.web.conftest import SCREENSHOTS, free_tcp_port

BPM = 240.0  # the tempo of test_osc's Band
BAR = 4 * 60.0 / BPM
HATS = {42, 44, 46}


def text_of(driver, element_id: str) -> str:  # noqa: ANN001
    return driver.find_element(By.ID, element_id).text


def wait_text(driver, element_id: str, predicate, timeout: float = 10.0) -> str:  # noqa: ANN001
    WebDriverWait(driver, timeout).until(lambda d: predicate(text_of(d, element_id)))
    return text_of(driver, element_id)


def pad_to(driver, complexity: float, intensity: float) -> None:  # noqa: ANN001
    """Touch the XY pad where complexity (across) and intensity (up) are these values."""
    pad = driver.find_element(By.ID, "xy")
    w, h = pad.size["width"], pad.size["height"]
    ActionChains(driver).move_to_element_with_offset(pad, int((complexity - 0.5) * w),
                                                     int((0.5 - intensity) * h)).click().perform()


@pytest.mark.skipif(shutil.which("oscsend") is None, reason="liblo-tools is not installed")
def test_the_live_page_steers_the_drummer_and_follows_osc(jack_server, browser, tmp_path) -> None:  # noqa: ANN001
    osc_port, ui_port = free_udp_port(), free_tcp_port()
    band = Band()
    daemon = Daemon(tmp_path, "--mode", "follow", "--bpm", str(BPM), "--in", "band:keys",
                    "--osc-port", str(osc_port), "--ui-port", str(ui_port))
    try:
        daemon.wait_for_event("input")
        browser.get(f"http://127.0.0.1:{ui_port}/")
        wait_text(browser, "link", lambda t: t == "connected")
        time.sleep(0.2)
        band.start()
        daemon.wait_for_event("start")
        wait_text(browser, "state", lambda t: t == "playing")
        with capture_port(source="livedrum:livedrum") as heard:
            time.sleep(0.5)

            def notes_per_bar(bars: int) -> float:
                t0 = time.monotonic()
                time.sleep(bars * BAR)
                return sum(1 for t, _ in drum_ons(heard) if t >= t0) / bars

            # the complexity pad: far left, then far right (intensity in the middle)
            pad_to(browser, 0.05, 0.5)
            wait_text(browser, "complexity-value", lambda t: t == "0.05")
            time.sleep(2 * BAR)
            sparse = notes_per_bar(8)
            pad_to(browser, 0.95, 0.5)
            time.sleep(BAR)
            busy = notes_per_bar(8)
            # a change sent over OSC, by a client that is not ours, moves the page's controls
            oscsend(osc_port, "/livedrum/swing", "f", "0.33")
            oscsend(osc_port, "/livedrum/kit/toms", "i", "0")
            wait_text(browser, "swing-value", lambda t: t == "0.33")
            WebDriverWait(browser, 5).until(
                lambda d: d.find_element(By.ID, "kit-toms").get_attribute("aria-pressed") == "false")
            # the hi-hat off on the page: not one hi-hat from the next bar on
            browser.find_element(By.ID, "kit-hihat").click()
            off_at = time.monotonic()
            time.sleep(3 * BAR)
            # a bad value typed on the page: OSC's reason, shown on the page, the drums go on
            tempo = browser.find_element(By.ID, "tempo")
            tempo.click()
            tempo.send_keys(Keys.CONTROL, "a")
            tempo.send_keys("999")
            browser.find_element(By.ID, "tempo-set").click()
            error = wait_text(browser, "error", lambda t: "tempo" in t)
            time.sleep(0.3)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(SCREENSHOTS / "live.png"))
            rate = browser.execute_script("return window.livedrumStats.rate")
            bpm_shown = text_of(browser, "bpm")
            daemon.terminate()
    finally:
        band.close()
        if daemon.proc.poll() is None:
            daemon.proc.kill()
    print(f"drum notes per bar at complexity 0.05: {sparse:.1f}, at 0.95: {busy:.1f}; page updates {rate:.1f} Hz")
    assert busy >= 1.5 * sparse > 0, (sparse, busy)
    late_hats = [m.note for t, m in drum_ons(heard) if t > off_at + BAR and m.note in HATS]
    assert late_hats == []
    assert len([1 for t, _ in drum_ons(heard) if t > off_at + BAR]) > 10  # still drumming, without hats
    assert error == "/livedrum/tempo: tempo must be within 30..300 BPM, got 999"
    assert bpm_shown == "240.0"  # unchanged
    assert rate > 10
    kit_events = [e for e in daemon.events("web") if e["address"] == "/livedrum/kit/hihat"]
    assert kit_events and kit_events[0]["args"] == [0]


def test_the_studio_page_turns_a_midi_file_into_a_drum_track(browser, tmp_path: Path) -> None:  # noqa: ANN001
    band = write_band_song(tmp_path / "my-band.mid", bars=16, bpm=110, drums=False, seed=4)
    port = free_tcp_port()
    studio = subprocess.Popen([sys.executable, "-m", "livedrum", "studio", "--port", str(port), "--no-browser"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = studio.stderr.readline()
        assert f"http://127.0.0.1:{port}/studio" in line, line
        browser.get(f"http://127.0.0.1:{port}/")  # redirects to /studio
        WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "kit-toms"))
        browser.find_element(By.ID, "file").send_keys(str(band))
        wait_text(browser, "song", lambda t: "16 bars" in t)
        browser.find_element(By.CSS_SELECTOR, "#preset option[value=funk]").click()
        browser.find_element(By.ID, "kit-percussion").click()  # off
        seed = browser.find_element(By.ID, "seed")
        seed.clear()
        seed.send_keys("5")
        browser.find_element(By.ID, "generate").click()
        wait_text(browser, "status", lambda t: t.startswith("done"), timeout=120)
        time.sleep(0.3)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "studio.png"))
        browser.find_element(By.ID, "download").click()
        target = browser.downloads / "my-band-drums.mid"
        WebDriverWait(browser, 20).until(lambda d: target.is_file() and target.stat().st_size > 0)
        time.sleep(0.3)  # Chromium renames the file when complete
    finally:
        studio.send_signal(signal.SIGTERM)
        _, err = studio.communicate(timeout=15)
    assert studio.returncode == 0 and "Traceback" not in err, err
    mid = mido.MidiFile(str(target))
    hits = [m for t in mid.tracks for m in t if m.type == "note_on" and m.channel == 9 and m.velocity > 0]
    assert len(hits) > 50
    assert not {m.note for m in hits} & {56}  # percussion off
    assert any(m.type == "track_name" and m.name == "livedrum drums" for t in mid.tracks for m in t)
