"""Ask the OS to run the daemon ahead of other work, as JACK and its clients do.

On a busy machine the kernel may leave a ready process waiting for a few milliseconds, and a drum
hit that waits is a late hit. `high` lowers the nice value (a larger share of the CPU, sooner
wake-ups); `realtime` asks for SCHED_FIFO, below JACK's own realtime threads. Either may be
refused (no privilege, another OS): the daemon then says so once and plays at normal priority.
"""

from __future__ import annotations

import os

PRIORITIES = ("normal", "high", "realtime")
HIGH_NICE = -10  # as far as a desktop audio user is usually allowed (limits.conf @audio - nice -10)
FIFO_PRIORITY = 20  # JACK's realtime threads run at 70 and above by default: stay well below them


def raise_priority(level: str) -> str:
    """Apply `level` to the calling thread (and threads it starts later); return a line that says
    what the daemon got. Never raises: a refusal is reported, not fatal."""
    if level not in PRIORITIES:
        raise ValueError(f"--priority must be one of {', '.join(PRIORITIES)}, got {level!r}")
    if level == "normal":
        return "normal priority"
    if level == "realtime":
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(FIFO_PRIORITY))
            return f"realtime priority (SCHED_FIFO {FIFO_PRIORITY})"
        except (AttributeError, OSError) as exc:
            refused = f"realtime priority refused ({_reason(exc)})"
        high = _nice()
        return f"{refused}; {high}" if high else f"{refused}: normal priority"
    return _nice() or "high priority refused: normal priority"


def _nice() -> str:
    try:
        now = os.nice(0)
        if now > HIGH_NICE:
            now = os.nice(HIGH_NICE - now)
        return f"high priority (nice {now})"
    except (AttributeError, OSError):
        return ""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return "not available on this system"


def realtime_allowed() -> bool:
    """Whether this process may run threads at SCHED_FIFO (as a realtime JACK server and its clients'
    process threads do); tried on a short-lived thread of its own, so nothing else changes."""
    import threading

    allowed: list[bool] = []

    def probe() -> None:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))  # 0: this thread only (Linux)
            allowed.append(True)
        except (AttributeError, OSError):
            allowed.append(False)

    thread = threading.Thread(target=probe, name="livedrum-rt-probe")
    thread.start()
    thread.join()
    return allowed[0]
