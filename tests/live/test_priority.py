"""The daemon's priority request: granted as reported, or refused with a line and normal priority."""

from __future__ import annotations

import subprocess
import sys

import pytest

from livedrum.live.priority import raise_priority

PROBE = """
import os, sys
from livedrum.live.priority import raise_priority
line = raise_priority(sys.argv[1])
print(line)
print(os.nice(0), os.sched_getscheduler(0) == os.SCHED_FIFO)
"""


def probe(level: str) -> tuple[str, int, bool]:
    """In a child process: a priority raised here would stay with the test run."""
    out = subprocess.run([sys.executable, "-c", PROBE, level], capture_output=True, text=True, check=True).stdout
    line, state = out.strip().splitlines()
    nice, fifo = state.split()
    return line, int(nice), fifo == "True"


def test_normal_changes_nothing() -> None:
    line, nice, fifo = probe("normal")
    assert line == "normal priority" and nice == 0 and not fifo


def test_high_is_granted_as_reported_or_refused() -> None:
    line, nice, fifo = probe("high")
    assert not fifo
    if "refused" in line:
        assert nice == 0
    else:
        assert line == "high priority (nice -10)" and nice == -10


def test_realtime_is_granted_as_reported_or_falls_back() -> None:
    line, nice, fifo = probe("realtime")
    if fifo:
        assert line == "realtime priority (SCHED_FIFO 20)"
    else:
        assert line.startswith("realtime priority refused")


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="--priority must be one of"):
        raise_priority("max")
