"""A late note is told with its cause, once a second at most."""

from __future__ import annotations

import asyncio
import gc
import time

import mido

from livedrum.live.lateness import LateNotes
from livedrum.live.scheduler import Scheduler


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def __call__(self, event: str, **fields: object) -> None:
        self.events.append((event, fields))


def test_a_slow_output_is_named_as_the_cause() -> None:
    """The first send blocks the loop for 5 ms: it is late itself (the port's fault), and so is the next."""
    log = Log()
    late = LateNotes(log)

    def slow_send(message: mido.Message) -> None:
        if message.note == 36:
            time.sleep(0.005)

    sched = Scheduler(slow_send)
    sched.on_late = late
    t0 = time.monotonic() + 0.03
    sched.plan_note(t0, t0 + 0.1, 9, 36, 100)
    sched.plan_note(t0 + 0.001, t0 + 0.1, 9, 38, 100)

    async def main() -> None:
        task = asyncio.ensure_future(sched.run())
        await asyncio.sleep(0.15)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    late.close()
    assert sched.stats.late == 2  # the slow note itself, and the one that waited for it
    assert "output port took" in log.events[0][1]["line"]
    assert late.quiet == 1  # the second, within the same second: counted for the next line


def test_lines_are_rate_limited_and_count_the_rest() -> None:
    log, now = Log(), [100.0]
    late = LateNotes(log, now=lambda: now[0])
    for i in range(5):  # five late notes within half a second
        late(100.0 + i * 0.1, 100.0 + i * 0.1 + 0.0019, 100.0 + i * 0.1 + 0.002, 100.0 + i * 0.1 - 0.001)
    late(101.5, 101.5019, 101.502, 101.499)
    late.close()
    assert [f["untold"] for _, f in log.events] == [0, 4]
    assert "lost the CPU or the GIL" in log.events[0][1]["line"] and "4 more" in log.events[1][1]["line"]


def test_a_garbage_collection_just_before_is_named() -> None:
    log = Log()
    late = LateNotes(log)
    planned = time.monotonic()
    gc.collect()
    sent = time.monotonic() + 0.002
    late(planned, sent, sent, planned - 0.001)
    late.close()
    assert "garbage collection" in log.events[0][1]["line"]


def test_a_loop_that_woke_late_is_named() -> None:
    log = Log()
    late = LateNotes(log)
    late(10.0, 10.004, 10.004, 10.0035)
    late.close()
    assert "woke 3.5 ms after it was due" in log.events[0][1]["line"]
