"""The JACK server's scheduling, asked through libjack: a daemon on a server that is not realtime says
so once (its clients' threads can be preempted past their cycle: late notes, and crashes in rtmidi)."""

from __future__ import annotations

import os
import subprocess
import sys

from livedrum.live.jackinfo import NOT_REALTIME, server_is_realtime
from livedrum.live.priority import realtime_allowed


def test_the_servers_scheduling_is_read_from_the_server(jack_server) -> None:  # noqa: ANN001
    assert server_is_realtime() is realtime_allowed()  # the test server is realtime wherever it may be


def test_a_server_that_is_not_realtime_is_told_apart(jack_server_not_realtime) -> None:  # noqa: ANN001
    assert server_is_realtime() is False


def test_no_server_is_no_answer(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "livedrum-no-such-server")
    assert server_is_realtime() is None


def test_the_daemon_warns_once_on_a_server_that_is_not_realtime(jack_server_not_realtime, tmp_path) -> None:  # noqa: ANN001
    proc = subprocess.Popen([sys.executable, "-m", "livedrum", "run", "--backend", "jack", "--in", "nothing-matches",
                             "--no-osc", "--no-ui", "--log", str(tmp_path / "run.jsonl")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        lines = [proc.stderr.readline() for _ in range(2)]
    finally:
        proc.terminate()
        _, rest = proc.communicate(timeout=30)
    assert lines[0].strip() == f"livedrum: warning: {NOT_REALTIME}"
    assert "ready" in lines[1]
    assert NOT_REALTIME not in rest and "Traceback" not in rest and proc.returncode == 0
