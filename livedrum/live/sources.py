"""Band parts replayed in real time: the demo's band, and a test band that is not a person.

A replay hands each message to the drummer at its time on a `BeatClock`, through the same
`hear` a live port uses, so the drummer cannot tell it from a keyboard.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import mido

from livedrum.live.clock import BeatClock
from livedrum.song import Song

Deliver = Callable[[float, mido.Message], None]


def band_messages(song: Song) -> list[tuple[float, mido.Message]]:
    """The song's band notes as (beat, message) note-ons and note-offs, in playing order
    (at one time, note-offs first so that a repeated note sounds again)."""
    events: list[tuple[float, int, mido.Message]] = []
    band = song.band
    for s, e, p, v, c in zip(band.start, band.end, band.pitch, band.velocity, band.channel):
        ch, note = int(c), int(p)
        events.append((float(s), 1, mido.Message("note_on", channel=ch, note=note, velocity=int(v))))
        events.append((float(max(e, s + 1e-3)), 0, mido.Message("note_off", channel=ch, note=note)))
    events.sort(key=lambda x: (x[0], x[1]))
    return [(beat, m) for beat, _, m in events]


async def replay(messages: list[tuple[float, mido.Message]], clock: BeatClock, deliver: Deliver,
                 stop_beat: float | None = None) -> None:
    """Deliver each (beat, message) at its time on the clock (sleep, then a short spin), stamped
    with that time, as a MIDI driver stamps a message when it arrives."""
    for beat, message in messages:
        if stop_beat is not None and beat >= stop_beat:
            return
        t = clock.time_of(beat)
        ahead = t - time.monotonic() - 0.001
        if ahead > 0:
            await asyncio.sleep(ahead)
        while time.monotonic() < t:
            pass
        deliver(t, message)
