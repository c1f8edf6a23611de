"""The sending path: planned order, note-offs for every note-on, retriggers, panic, dead ports."""

from __future__ import annotations

import asyncio
import time

import mido

from livedrum.live.scheduler import Scheduler


def _run_for(scheduler: Scheduler, seconds: float) -> None:
    async def main() -> None:
        task = asyncio.ensure_future(scheduler.run())
        await asyncio.sleep(seconds)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


def test_messages_go_out_in_planned_order_and_on_time() -> None:
    sent: list[tuple[float, mido.Message]] = []
    sched = Scheduler(lambda m: sent.append((time.monotonic(), m)))
    t0 = time.monotonic() + 0.05
    for i in reversed(range(5)):  # planned out of order
        sched.plan_note(t0 + 0.02 * i, t0 + 0.02 * i + 0.01, 9, 36 + i, 100)
    _run_for(sched, 0.2)
    notes = [(m.type, m.note) for _, m in sent]
    assert notes == [(k, 36 + i) for i in range(5) for k in ("note_on", "note_off")]
    ons = [t for t, m in sent if m.type == "note_on"]
    assert all(abs(t - (t0 + 0.02 * i)) < 0.02 for i, t in enumerate(ons))  # loose: CI machines are busy
    assert sched.stats.notes == 5 and not sched.sounding and sched.pending == 0


def test_a_retrigger_ends_the_sounding_note_first() -> None:
    sent: list[mido.Message] = []
    sched = Scheduler(sent.append)
    t0 = time.monotonic() + 0.02
    sched.plan_note(t0, t0 + 0.1, 9, 42, 90)
    sched.plan_note(t0 + 0.03, t0 + 0.06, 9, 42, 80)
    _run_for(sched, 0.15)
    assert [(m.type, m.velocity) for m in sent] == [("note_on", 90), ("note_off", 0), ("note_on", 80),
                                                    ("note_off", 64)]


def test_panic_silences_what_sounds_and_drops_what_is_planned() -> None:
    sent: list[mido.Message] = []
    sched = Scheduler(sent.append)
    now = time.monotonic()
    sched.plan_note(now - 0.001, now + 10.0, 9, 38, 100)  # due now, ends in 10 s
    sched.plan_note(now + 5.0, now + 5.1, 9, 36, 100)  # not yet due
    sched.send_due(time.monotonic())
    assert sched.sounding
    sched.panic()
    kinds = [(m.type, getattr(m, "note", None), getattr(m, "control", None)) for m in sent]
    assert kinds == [("note_on", 38, None), ("note_off", 38, None), ("control_change", None, 123)]
    assert not sched.sounding and sched.pending == 0


def test_a_port_that_refuses_messages_does_not_stop_the_sending() -> None:
    errors: list[str] = []

    def broken(message: mido.Message) -> None:
        raise OSError("port vanished")

    sched = Scheduler(broken, on_error=errors.append)
    now = time.monotonic()
    for i in range(3):
        sched.plan_note(now - 0.01, now - 0.005, 9, 36 + i, 100)
    sched.send_due(time.monotonic())
    assert sched.stats.failures == 6 and sched.stats.messages == 6
    assert len(errors) == 1 and "port vanished" in errors[0]  # one line, not one per message


def test_quiet_waits_for_a_gap_after_the_notes_due() -> None:
    sched = Scheduler(lambda m: None)
    t0 = time.monotonic() + 0.01
    for i in range(3):  # three notes 10 ms apart, the first within the gap, then nothing
        sched.plan_note(t0 + 0.01 * i, t0 + 0.2, 9, 36 + i, 100)

    async def main() -> tuple[float, float, float]:
        task = asyncio.ensure_future(sched.run())
        began = time.monotonic()
        await sched.quiet(0.025)
        quiet_at = time.monotonic()
        busy = Scheduler(lambda m: None)  # a note every 5 ms for a second: never a 25 ms gap
        for i in range(200):
            busy.plan_note(quiet_at + 0.005 * i, quiet_at + 2.0, 9, 36, 100)
        await busy.quiet(0.025, patience=0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return began, quiet_at, time.monotonic() - quiet_at

    began, quiet_at, patience = asyncio.run(main())
    assert quiet_at > t0 + 0.02  # not before the last of the three went out
    assert 0.09 < patience < 0.5  # gave up waiting after its patience
