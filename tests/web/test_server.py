"""The web UI's HTTP and WebSocket side, in process: pages, changes through the one controller (with
OSC's own error reasons), snapshots, and who may connect (loopback, LAN token, foreign Origin)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer

from livedrum.live.controller import Controller
from livedrum.live.drummer import Drummer, RunConfig
from livedrum.live.osc import OscServer, build_dispatcher, handle
from livedrum.live.scheduler import Scheduler
from livedrum.web.auth import COOKIE, Access
from livedrum.web.live import LiveFeed, LiveHub
from livedrum.web.server import build_app
from livedrum.web.studio import Studio
from tests.live.live_helpers import shipped_engine

Body = Callable[[TestClient, Controller, LiveHub], Awaitable[Any]]


def with_app(body: Body, access: Access | None = None, host: str = "127.0.0.1") -> Any:
    """Run `body` against the live app on a real socket, with a real controller and drummer."""

    async def main() -> Any:
        drummer = Drummer(shipped_engine(), RunConfig(mode="follow"), Scheduler(lambda m: None))
        controller = Controller(drummer)
        hub = LiveHub(controller, LiveFeed(controller, model="m.pt", device="cpu"), rate_hz=50)
        studio = Studio()
        app = build_app(access or Access(token=None, local_only=True), studio, hub)
        server = TestServer(app, host=host)
        async with TestClient(server) as client:
            pusher = asyncio.ensure_future(hub.run())
            try:
                return await body(client, controller, hub)
            finally:
                pusher.cancel()
                await hub.close()
                studio.close()

    return asyncio.run(main())


async def next_of(ws, kind: str, key: str | None = None, timeout: float = 3.0) -> dict:  # noqa: ANN001
    """The next message of this type (and key, for changes), skipping the others."""
    async def wait() -> dict:
        while True:
            msg = json.loads((await ws.receive()).data)
            if msg["type"] == kind and (key is None or msg.get("key") == key):
                return msg
    return await asyncio.wait_for(wait(), timeout)


def test_pages_and_static_files_are_served_from_the_package() -> None:
    async def body(client: TestClient, c: Controller, hub: LiveHub) -> None:
        for path, needle in (("/", "livedrum"), ("/studio", "studio"), ("/static/live.js", "WebSocket"),
                             ("/static/roll.js", "drawRoll"), ("/static/style.css", "--accent")):
            r = await client.get(path)
            assert r.status == 200, path
            assert needle in await r.text(), path
        info = await (await client.get("/api/info")).json()
        assert info["live"] and "rock" in info["presets"] and info["pieces"][2] == "hihat"
        assert (await client.get("/static/../auth.py")).status in (403, 404)

    with_app(body)


def test_a_page_change_reaches_the_controller_osc_clients_and_other_pages() -> None:
    async def body(client: TestClient, c: Controller, hub: LiveHub) -> None:
        echoed: list[tuple[str, Any]] = []
        osc = OscServer(c)  # subscribes its echo; catch what it would send
        osc.echo = lambda key, value: echoed.append((key, value))  # type: ignore[method-assign]
        c.listeners[-1] = osc.echo
        a, b = await client.ws_connect("/ws"), await client.ws_connect("/ws")
        assert (await next_of(a, "snap"))["controls"]["complexity"] == pytest.approx(c.sampling.complexity)
        await a.send_json({"address": "/livedrum/complexity", "args": [0.8]})
        change = await next_of(b, "change")
        assert change == {"type": "change", "key": "complexity", "value": 0.8}
        await a.send_json({"address": "/livedrum/kit/hihat", "args": [0]})
        assert (await next_of(b, "change", "kit/hihat"))["value"] is False
        assert c.sampling.complexity == 0.8 and "hihat" in c.sampling.kit_off
        assert ("complexity", 0.8) in echoed and ("kit/hihat", False) in echoed
        snap = await next_of(b, "snap")
        assert snap["controls"]["kit/hihat"] is False and snap["health"]["model"] == "m.pt"
        # and the other way: a change from OSC (or a MIDI control) shows on every page
        c.announce([("swing", c.swing(0.4))])
        assert (await next_of(a, "change", "swing"))["value"] == 0.4
        await a.close()
        await b.close()

    with_app(body)


@pytest.mark.parametrize(("address", "args"), [
    ("/livedrum/complexity", ["loud"]), ("/livedrum/complexity", [1.5]), ("/livedrum/tempo", [999]),
    ("/livedrum/preset", ["polka"]), ("/livedrum/cowbell", [1]), ("/livedrum/kit/hihat", []),
    ("/livedrum/mode", ["jam"]), ("/livedrum/fill", [True]),
])
def test_bad_values_get_the_same_reason_as_osc_and_change_nothing(address: str, args: list) -> None:
    async def body(client: TestClient, c: Controller, hub: LiveHub) -> None:
        before = c.state()
        try:
            handle(build_dispatcher(c), address, list(args))
            osc_reason = None
        except ValueError as exc:
            osc_reason = str(exc)
        ws = await client.ws_connect("/ws")
        await ws.send_json({"address": address, "args": args})
        error = await next_of(ws, "error")
        assert error["reason"] == osc_reason
        assert c.state() == before
        await ws.send_str("{not json")
        assert "not a control message" in (await next_of(ws, "error"))["reason"]
        await ws.close()

    with_app(body)


def test_loopback_needs_no_token_but_refuses_foreign_origins_and_hosts() -> None:
    async def body(client: TestClient, c: Controller, hub: LiveHub) -> None:
        assert (await client.get("/")).status == 200
        assert (await client.get("/", headers={"Origin": f"http://{client.host}:{client.port}"})).status == 200
        r = await client.get("/api/info", headers={"Origin": "http://evil.example"})
        assert r.status == 403 and "another site" in await r.text()
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws", headers={"Origin": "http://evil.example"})
        assert refused.value.status == 403
        r = await client.get("/", headers={"Host": "evil.example:8000"})  # DNS rebinding
        assert r.status == 403

    with_app(body)


def test_lan_mode_needs_the_token_then_remembers_it_as_a_cookie() -> None:
    access = Access(token="s3cret-token", local_only=False)

    async def body(client: TestClient, c: Controller, hub: LiveHub) -> None:
        r = await client.get("/")
        assert r.status == 403 and "token" in await r.text()
        assert (await client.get("/?token=wrong")).status == 403
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws")
        assert refused.value.status == 403
        r = await client.get("/?token=s3cret-token")
        assert r.status == 200 and r.cookies[COOKIE].value == "s3cret-token"
        assert (await client.get("/api/info")).status == 200  # the cookie from now on
        ws = await client.ws_connect("/ws")
        assert (await next_of(ws, "snap"))["type"] == "snap"
        await ws.close()
        with pytest.raises(WSServerHandshakeError):  # the right token, from another site
            await client.ws_connect("/ws?token=s3cret-token", headers={"Origin": "http://evil.example"})

    with_app(body, access)


def test_a_slow_page_misses_frames_instead_of_queueing_them() -> None:
    async def body(client: TestClient, c: Controller, hub: LiveHub) -> None:
        ws = await client.ws_connect("/ws")
        await next_of(ws, "snap")
        big = json.dumps({"type": "pad", "x": "x" * 2_000_000})
        for _ in range(50):  # far more than the socket takes at once, never read by the page
            hub.broadcast(big)
        assert hub.dropped > 0
        await ws.close()

    with_app(body)


def test_the_snapshot_holds_what_the_band_played_and_what_the_drummer_sent_and_plans() -> None:
    import time

    import mido

    sent: list[mido.Message] = []
    drummer = Drummer(shipped_engine(), RunConfig(mode="lead", bpm=120), Scheduler(sent.append))
    c = Controller(drummer)
    feed = LiveFeed(c, model="m.pt", device="cpu")
    now = time.monotonic()
    drummer.start(now - 0.01, play_first=False)
    drummer.hear(now - 0.5, mido.Message("note_on", note=60, velocity=100))
    drummer.hear(now - 0.3, mido.Message("note_off", note=60))
    drummer.hear(now - 0.2, mido.Message("note_on", note=64, velocity=80))  # still held
    drummer.step(0)  # beat 0 decided and planned
    drummer.scheduler.send_due(now + 0.25)  # the first half beat is sent
    snap = json.loads(json.dumps(feed.snapshot()))
    band = sorted(snap["band"])
    assert [(round(s, 1), None if e is None else round(e, 1), p, v) for s, e, p, v in band] == [
        (-0.5, -0.3, 60, 100), (-0.2, None, 64, 80)]
    assert snap["drums"] and all(-1 < t < 0.3 for t, _, _ in snap["drums"])
    assert {n for _, n, _ in snap["drums"]} <= {m.note for m in sent if m.type == "note_on"}
    assert snap["planned"] and all(t > 0 for t, _ in snap["planned"])
    assert snap["clock"]["bpm"] == 120 and snap["controls"]["mode"] == "lead"
