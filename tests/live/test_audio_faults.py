"""The audio input's faults on a real PortAudio stream from a JACK server: a computer that cannot keep
up (its blocks are counted as lost and said, the listening goes on), and a stream that dies (said in
one line, the drums hold the last tempo, the device is found and opened again); and the daemon whose
JACK server dies under its audio input (PortAudio then never lets the stream go)."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time

import mido
import pytest

from livedrum.live import audio_input
from livedrum.live.audio_input import AudioInput
from livedrum.live.drummer import Drummer, RunConfig
from livedrum.live.scheduler import Scheduler
from tests.live.live_helpers import shipped_engine
from tests.live.test_audio_run import RATE, jack_audio_device  # noqa: F401 (a fixture)


class Lines:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def __call__(self, event: str, line: str = "", **fields: object) -> None:
        self.events.append((event, line))

    def saying(self, word: str) -> list[str]:
        return [line for _, line in self.events if word in line]


def _listen(device: int, log: Lines) -> AudioInput:
    drummer = Drummer(shipped_engine(), RunConfig(bpm=120.0), Scheduler(lambda m: None), log)
    return AudioInput(drummer, log, device, rate=RATE, block=256)


async def _until(done, timeout: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "it never got there"
        await asyncio.sleep(0.05)


def _listening(audio: AudioInput, scenario) -> None:  # noqa: ANN001
    """Run the input's watch on a loop while `scenario()` (a coroutine function) plays out."""
    async def main() -> None:
        task = asyncio.ensure_future(audio.run(every=0.1))
        try:
            await scenario()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


def test_blocks_the_computer_cannot_keep_up_with_are_counted_said_and_listening_goes_on(
        jack_audio_device: int, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(audio_input, "QUEUE_BLOCKS", 8)  # a short queue: a stall overflows it at once
    stalled = threading.Event()
    stalled.set()
    real_feed = audio_input.Analyzer.feed

    def slow_feed(self, block):  # noqa: ANN001, ANN202
        while stalled.is_set():  # the analysis stalls, as on a machine busy elsewhere
            time.sleep(0.01)
        return real_feed(self, block)

    monkeypatch.setattr(audio_input.Analyzer, "feed", slow_feed)
    log = Lines()
    audio = _listen(jack_audio_device, log)

    async def scenario() -> None:
        await _until(lambda: log.saying("blocks lost"))
        assert audio.dropped > 0 and not audio.lost
        stalled.clear()  # the machine catches up: blocks flow again
        seen = audio.last_block
        await _until(lambda: audio.last_block > seen + 0.5)
        assert audio.source.active and not audio.lost

    try:
        _listening(audio, scenario)
    finally:
        stalled.clear()
        audio.close()
    assert len(log.saying("blocks lost")) == 1  # said once, not once per block
    assert "still listening" in log.saying("blocks lost")[0]
    assert not log.saying("lost: playing on")


def test_a_stream_that_dies_is_said_held_and_opened_again(
        jack_audio_device: int, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(audio_input, "RETRY_EVERY_S", 0.3)
    log = Lines()
    audio = _listen(jack_audio_device, log)
    first = audio.source

    async def scenario() -> None:
        await _until(lambda: time.monotonic() - audio.last_block < 0.1)
        first._stream.abort()  # PortAudio stops the stream, as when the device errors or goes away
        await _until(lambda: audio.lost)
        assert audio.merged.holding  # the drums play on at the last tempo meanwhile
        await _until(lambda: not audio.lost)
        assert audio.source is not first and audio.source.active and not audio.merged.holding
        seen = audio.last_block
        await _until(lambda: audio.last_block > seen + 0.3)  # blocks flow from the new stream

    try:
        _listening(audio, scenario)
    finally:
        audio.close()
    assert len(log.saying("lost: playing on at the last tempo")) == 1
    assert len(log.saying("is back")) == 1


def test_a_jack_server_that_dies_under_the_audio_input_leaves_the_drums_playing_and_sigterm_working(
        jack_audio_server_to_kill: str, tmp_path) -> None:  # noqa: ANN001
    """The daemon froze here: PortAudio's abort waits for ever for a cycle of the dead server, and the
    watch called it on the event loop, so the drums stopped and SIGTERM went unheard."""
    from tests.live.test_run import Daemon

    daemon = Daemon(tmp_path, "--in", "nothing-matches-this", "--audio-in", "system", "--mode", "lead",
                    "--bpm", "120", "--no-osc")
    try:
        time.sleep(2.0)
        subprocess.run(["pkill", "-KILL", "-f", f"jackd .*-n {jack_audio_server_to_kill} "], check=True, timeout=10)
        lost = daemon.wait_for_event("error", timeout=10)
        time.sleep(3.0)  # the drums go on, on the event loop, without the server
        err = daemon.terminate()  # exit 0, no traceback: it heard SIGTERM
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
    assert "audio input 'system' lost" in lost["line"] and "restart livedrum" in lost["line"]
    started = daemon.events("start")[0]["t"]
    rec = mido.MidiFile(str(daemon.record))
    seconds, last_drum = 0.0, 0.0
    for msg in rec:  # merged tracks, in seconds
        seconds += msg.time
        if msg.type == "note_on" and msg.velocity > 0 and msg.channel == 9:
            last_drum = seconds
    assert last_drum > lost["t"] - started + 2.0, (last_drum, lost["t"] - started)
    assert "recording saved" in err
