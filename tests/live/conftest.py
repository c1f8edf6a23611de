"""A real JACK server (dummy driver) for tests with real MIDI ports, where no ALSA sequencer exists."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.live.jack_registry import TEST_PREFIX, reclaim_dead_servers

# JACK servers running side by side on one machine fail about one client open in four while their
# clients come and go at the same time (jackd 1.9.21, its own jack_lsp too); an idle one is harmless.
# So test sessions running at once (several checkouts, pytest-xdist) take turns, one test at a time.
TURN_LOCK = os.path.join(tempfile.gettempdir(), "livedrum-jack-tests.lock")
TURN_WAIT_S = 600.0


@pytest.fixture
def jack_server(jackd: str) -> Iterator[str]:
    """A running JACK server that this process and its children talk to (JACK_DEFAULT_SERVER), ours
    alone for the test. Yields the server name."""
    with _turn(TURN_WAIT_S):
        yield jackd


@pytest.fixture(scope="session")
def jackd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `jackd` under a name of its own, point every JACK client of this process and its children
    at it (JACK_DEFAULT_SERVER), and stop it by its process id at the end. Yields the server name.
    Its period is short (64 frames, 1.3 ms), as MIDI timing wants."""
    saved = os.environ.get("JACK_DEFAULT_SERVER")
    with _serving(tmp_path_factory, period=64) as name:
        os.environ["JACK_DEFAULT_SERVER"] = name
        try:
            yield name
        finally:
            if saved is None:
                os.environ.pop("JACK_DEFAULT_SERVER", None)
            else:
                os.environ["JACK_DEFAULT_SERVER"] = saved


@pytest.fixture(scope="session")
def jackd_audio(jackd: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second server for audio tests, idle while the MIDI tests run on the first. Its period is the
    256 frames (5.3 ms) of a usual live audio setup: at 64 frames every audio client wakes 750 times a
    second into Python, and on a loaded two-core machine the dummy driver then fell a quarter behind
    the wall clock (a band of 14 s took 19 s to play)."""
    with _serving(tmp_path_factory, period=256) as name:
        yield name


@pytest.fixture
def jack_audio_server(jackd_audio: str) -> Iterator[str]:
    """The audio server, ours alone for the test, and in JACK_DEFAULT_SERVER for its duration."""
    with _turn(TURN_WAIT_S):
        saved = os.environ["JACK_DEFAULT_SERVER"]
        os.environ["JACK_DEFAULT_SERVER"] = jackd_audio
        try:
            yield jackd_audio
        finally:
            os.environ["JACK_DEFAULT_SERVER"] = saved


@pytest.fixture
def jack_server_not_realtime(jack_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server of its own without realtime scheduling, for this test alone and in JACK_DEFAULT_SERVER
    while it runs (the session's server stays idle meanwhile: the test holds the turn)."""
    with _serving(tmp_path_factory, period=64, realtime=False) as name:
        os.environ["JACK_DEFAULT_SERVER"] = name
        try:
            yield name
        finally:
            os.environ["JACK_DEFAULT_SERVER"] = jack_server


@pytest.fixture
def jack_audio_server_to_kill(jack_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An audio server (256 frames) of its own, for a test that kills it, in JACK_DEFAULT_SERVER while
    the test runs (the session's servers stay idle meanwhile: the test holds the turn)."""
    with _serving(tmp_path_factory, period=256) as name:
        os.environ["JACK_DEFAULT_SERVER"] = name
        try:
            yield name
        finally:
            os.environ["JACK_DEFAULT_SERVER"] = jack_server


@contextlib.contextmanager
def _serving(tmp_path_factory: pytest.TempPathFactory, period: int, realtime: bool = True) -> Iterator[str]:
    """A `jackd` (dummy driver, 48 kHz, `period` frames; realtime where allowed) under a name of its own,
    serving until the end."""
    exe = shutil.which("jackd")
    if exe is None:
        pytest.skip("jackd is not installed (Debian: apt-get install jackd2); real MIDI port tests need it")
    import rtmidi

    if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
        pytest.skip("python-rtmidi was built without JACK support")
    reclaim_dead_servers()
    name = f"{TEST_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path_factory.mktemp("jack") / "jackd.log"
    with open(log_path, "wb") as log:
        scheduling = _scheduling() if realtime else "--no-realtime"
        proc = subprocess.Popen([exe, scheduling, "-n", name, "-d", "dummy", "-r", "48000", "-p", str(period)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_serving(proc, name, log_path, timeout=10.0)
        yield name
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reclaim_dead_servers()  # a server killed by its test or here leaves its place taken


def _scheduling() -> str:
    """Realtime (`-R`, jackd's default and a stage's) where this machine allows SCHED_FIFO. Not realtime,
    a client's JACK thread can be preempted past its cycle, and rtmidi's JACK input then reads an event
    buffer being rewritten: daemons in CI died of SIGSEGV in `jackProcessIn` (benchmarks/live_timing.py)."""
    from livedrum.live.priority import realtime_allowed

    return "-R" if realtime_allowed() else "--no-realtime"


@contextlib.contextmanager
def _turn(timeout: float) -> Iterator[None]:
    """Hold this machine's JACK test lock (an flock, so a crashed holder releases it)."""
    with open(TURN_LOCK, "a") as f:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another test session held {TURN_LOCK} for {timeout:g} s")
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _wait_until_serving(proc: subprocess.Popen, name: str, log_path: os.PathLike, timeout: float) -> None:
    """Until a JACK client can connect to server `name`; fails with jackd's own log if it exits or never
    serves."""
    import rtmidi

    saved = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name  # the only way to name the server to a JACK client
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jackd exited with {proc.returncode}:\n{_read(log_path)}")
            try:
                rtmidi.MidiIn(rtmidi.API_UNIX_JACK, "livedrum-test-probe").delete()
                return
            except rtmidi.SystemError:
                if time.monotonic() > deadline:
                    pytest.fail(f"jackd did not accept clients within {timeout:g} s:\n{_read(log_path)}")
                time.sleep(0.02)
    finally:
        if saved is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = saved


def _read(path: os.PathLike) -> str:
    with open(path, errors="replace") as f:
        return f.read()
