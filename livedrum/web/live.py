"""The live page's side of the daemon: snapshots of the drummer, pushed to every page, and changes
from the pages, through the same address table and controller as OSC.

Everything here runs on the daemon's event loop, so every piece is short: a snapshot reads a few
counters and the notes of the last seconds (well under a millisecond), and a page that cannot keep
up misses frames instead of queueing them (a phone on bad Wi-Fi must not grow the daemon's memory).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import mido
import numpy as np
from aiohttp import WSMsgType, web

from livedrum.live.controller import Controller
from livedrum.live.osc import PREFIX, Bucket, RefusedError, build_dispatcher, handle
from livedrum.live.scheduler import SPIN_SECONDS
from livedrum.vocab import DRUM_NOTES

HISTORY_SECONDS = 8.0  # the piano roll's past: the last bars at any tempo a page shows
RATE_HZ = 25.0
MAX_MESSAGE = 4096  # bytes: a control change is a few dozen
QUIET_BEFORE_NOTE = SPIN_SECONDS + 0.002  # seconds: no frame is built this close before a planned message


class LiveFeed:
    """What the drummer heard, sent and planned lately, kept for the page (appends only, on the loop)."""

    def __init__(self, controller: Controller, model: str = "", device: str = "") -> None:
        self.controller = controller
        self.drummer = d = controller.drummer
        self.model, self.device = model, device
        self.sent: deque[tuple[float, int, int]] = deque(maxlen=512)  # (time, note, velocity) of note-ons sent
        self.planned: deque[tuple[float, int]] = deque(maxlen=256)  # (time, GM note) of decided windows
        self._cpu = (time.monotonic(), time.process_time(), 0.0)
        d.scheduler.listeners.append(self._sent)
        d.on_window.append(self._window)

    def _sent(self, planned: float, message: mido.Message) -> None:
        if message.type == "note_on" and message.velocity > 0:
            self.sent.append((planned, message.note, message.velocity))

    def _window(self, beat: int, hits: np.ndarray) -> None:
        clock = self.drummer.clock
        if clock is None:
            return
        steps, voices = np.nonzero(hits)
        for s, v in zip(steps.tolist(), voices.tolist()):
            self.planned.append((clock.time_of(beat + s / hits.shape[0]), DRUM_NOTES[v]))

    def cpu_percent(self, now: float) -> float:
        """This process' CPU use over the last second or so, in % of one core."""
        wall0, cpu0, last = self._cpu
        if now - wall0 >= 1.0:
            cpu = time.process_time()
            last = 100.0 * (cpu - cpu0) / (now - wall0)
            self._cpu = (now, cpu, last)
        return last

    def _onsets(self, now: float, cut: float) -> list[tuple[float, float, int, int]]:
        """Audio in (`--audio-in`): each onset as a short note at the height of its loudest register."""
        audio = getattr(self.drummer.band, "audio", self.drummer.band)
        out = []
        for o in reversed(getattr(audio, "onsets", ())):
            if o.time < cut:
                break
            registers = np.asarray(o.registers)
            pitch = 36 + int(np.argmax(registers)) * 48 // max(1, registers.size - 1) if registers.size else 60
            out.append((round(o.time - now, 3), round(o.time - now + 0.06, 3), pitch,
                        int(min(127, max(1, o.strength * 127)))))
        return out

    def snapshot(self) -> dict[str, Any]:
        """The page's whole picture, times in seconds from now (negative: past)."""
        d = self.drummer
        now = d.now()
        cut = now - HISTORY_SECONDS
        band = []
        for n in reversed(getattr(d.band, "notes", ())):  # MIDI in (an audio-only band has none)
            if n.start < cut - 4.0:  # notes come in start order: nothing older can still show
                break
            if n.end is None or n.end >= cut:
                band.append((round(n.start - now, 3), None if n.end is None else round(n.end - now, 3),
                             n.pitch, n.velocity))  # (start, end or None while held, pitch, velocity)
        band.extend(self._onsets(now, cut))
        drums = [(round(t - now, 3), note, vel) for t, note, vel in self.sent if t >= cut]
        ahead = [(round(t - now, 3), note) for t, note in self.planned if t > now] if d.playing else []
        clock = d.clock
        stats = d.scheduler.stats
        state = self.controller.state()
        return {
            "type": "snap", "controls": state,
            "clock": {"beat": None if clock is None or not d.playing else round(clock.beat_at(now), 4),
                      "bpm": d.cfg.bpm, "bpb": d.cfg.beats_per_bar, "meter_start": d.meter_start},
            "band": band, "drums": drums, "planned": ahead,
            "health": {"late": stats.late, "notes": stats.notes, "failures": stats.failures,
                       "dropped_input": d.dropped_input, "cpu": round(self.cpu_percent(now), 1),
                       "model": self.model, "device": self.device},
        }


class LiveHub:
    """The WebSocket clients of the live page: snapshots out, changes in."""

    def __init__(self, controller: Controller, feed: LiveFeed, log: Callable[..., None] | None = None,
                 rate_hz: float = RATE_HZ) -> None:
        self.controller, self.feed = controller, feed
        self.table = build_dispatcher(controller)
        self.log = log or (lambda event, **fields: None)
        self.period = 1.0 / rate_hz
        self.clients: dict[web.WebSocketResponse, asyncio.Task | None] = {}
        self.frames = 0
        self.dropped = 0  # frames a slow page missed
        controller.listeners.append(self._changed)

    def _changed(self, key: str, value: Any) -> None:
        if self.clients:
            self.broadcast(json.dumps({"type": "change", "key": key, "value": value}))

    def broadcast(self, text: str) -> None:
        """One frame to every page that has taken the last one; the others miss it."""
        for ws, pending in list(self.clients.items()):
            if ws.closed:
                continue
            if pending is not None and not pending.done():
                self.dropped += 1
                continue
            self.clients[ws] = asyncio.ensure_future(self._send(ws, text))

    @staticmethod
    async def _send(ws: web.WebSocketResponse, text: str) -> None:
        try:
            await ws.send_str(text)
        except (ConnectionError, RuntimeError):  # the page went away mid-frame
            pass

    async def run(self) -> None:
        """Push a snapshot to every page RATE_HZ times a second (cancel to stop)."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += self.period
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            if loop.time() - next_at > self.period:  # the loop was busy: skip, do not catch up
                next_at = loop.time()
            if self.clients:
                # a frame never starts just before a note is due: the scheduler's last stretch is
                # a spin that a frame's fraction of a millisecond on the loop would shorten
                await self.feed.drummer.scheduler.quiet(QUIET_BEFORE_NOTE, patience=self.period)
                self.frames += 1
                snap = self.feed.snapshot()
                snap["frame"] = self.frames
                self.broadcast(json.dumps(snap, separators=(",", ":")))

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_MESSAGE)
        await ws.prepare(request)
        self.clients[ws] = None
        bucket = Bucket(rate=100.0, burst=200.0, tokens=200.0)
        try:
            await ws.send_str(json.dumps(self.feed.snapshot()))
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                if not bucket.take(time.monotonic()):
                    await self._reply(ws, "too many changes: slow down")
                    continue
                await self.receive(ws, msg.data)
        finally:
            self.clients.pop(ws, None)
        return ws

    async def receive(self, ws: web.WebSocketResponse, text: str) -> None:
        """One change from a page: {"address": "/livedrum/...", "args": [...]}."""
        try:
            msg = json.loads(text)
            address, args = msg["address"], msg.get("args", [])
            if not isinstance(address, str) or not isinstance(args, list):
                raise TypeError("address must be a string and args a list")
        except (ValueError, TypeError, KeyError) as exc:
            await self._reply(ws, f"not a control message: {exc}")
            return
        if not address.startswith(PREFIX + "/"):
            address = f"{PREFIX}/{address.lstrip('/')}"
        try:
            feedback = handle(self.table, address, args)
        except RefusedError as exc:
            self.log("web_error", reason=str(exc))
            await self._reply(ws, str(exc))
            return
        self.log("web", address=address, args=args)
        if address == f"{PREFIX}/status":
            await ws.send_str(json.dumps(self.feed.snapshot()))
            return
        self.controller.announce(feedback)

    @staticmethod
    async def _reply(ws: web.WebSocketResponse, reason: str) -> None:
        try:
            await ws.send_str(json.dumps({"type": "error", "reason": reason}))
        except (ConnectionError, RuntimeError):
            pass

    async def close(self) -> None:
        for ws in list(self.clients):
            await ws.close()
