"""The watchdog says when the event loop stalls, once per stall."""

from __future__ import annotations

import asyncio
import time

from livedrum.live.watchdog import Watchdog


def test_a_blocked_loop_is_noticed_once() -> None:
    said: list[tuple[str, dict]] = []
    dog = Watchdog(lambda event, **f: said.append((event, f)), limit=0.1, period=0.02)

    async def main() -> None:
        beat = asyncio.ensure_future(dog.heartbeat())
        await asyncio.sleep(0.1)
        time.sleep(0.4)  # something blocks the loop
        await asyncio.sleep(0.2)
        beat.cancel()
        await asyncio.gather(beat, return_exceptions=True)

    asyncio.run(main())
    warnings = [f["line"] for e, f in said if e == "warning"]
    assert len(warnings) == 1 and "stalled" in warnings[0]
    assert dog.stalls == 1 and 0.3 < dog.longest < 1.0
