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
    at it (JACK_DEFAULT_SERVER), and stop it by its process id at the end. Yields the server name."""
    exe = shutil.which("jackd")
    if exe is None:
        pytest.skip("jackd is not installed (Debian: apt-get install jackd2); real MIDI port tests need it")
    import rtmidi

    if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
        pytest.skip("python-rtmidi was built without JACK support")
    name = f"livedrum-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path_factory.mktemp("jack") / "jackd.log"
    saved = os.environ.get("JACK_DEFAULT_SERVER")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([exe, "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", "64"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    os.environ["JACK_DEFAULT_SERVER"] = name
    try:
        _wait_until_serving(proc, log_path, timeout=10.0)
        yield name
    finally:
        if saved is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = saved
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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


def _wait_until_serving(proc: subprocess.Popen, log_path: os.PathLike, timeout: float) -> None:
    """Until a JACK client can connect; fails with jackd's own log if it exits or never serves."""
    import rtmidi

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


def _read(path: os.PathLike) -> str:
    with open(path, errors="replace") as f:
        return f.read()
