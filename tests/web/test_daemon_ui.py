"""`livedrum run`'s page on the LAN and when its port is taken, against the real daemon on JACK."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import time

import aiohttp
import pytest

from tests.web.conftest import free_tcp_port


def start(*args: str) -> tuple[subprocess.Popen, list[str]]:
    """The daemon, and the stderr lines up to its ready line."""
    proc = subprocess.Popen([sys.executable, "-m", "livedrum", "run", "--backend", "jack", "--mode", "lead",
                             "--in", "nothing-matches-this", "--no-osc", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    while not lines or not lines[-1].startswith("livedrum: ready"):
        line = proc.stderr.readline()
        if not line:
            proc.kill()
            raise AssertionError(f"livedrum run did not get ready: {''.join(lines)}")
        lines.append(line)
    return proc, lines


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0 and "Traceback" not in err, err
    return err


def test_on_the_lan_the_page_needs_its_token_and_its_own_origin(jack_server) -> None:  # noqa: ANN001
    port = free_tcp_port()
    proc, lines = start("--ui-host", "0.0.0.0", "--ui-port", str(port))
    try:
        text = "".join(lines)
        url = re.search(r"http://\S+:(\d+)/\?token=([\w-]+)", lines[0])
        assert url and int(url.group(1)) == port, text
        token = url.group(2)
        assert len(token) >= 20 and ("▀" in text or "█" in text)  # the token, and the QR code
        assert f"token={token}" in lines[-1]  # the ready line names the page too
        base = f"http://127.0.0.1:{port}"

        async def probe() -> dict:
            out = {}
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:  # IP hosts too
                out["none"] = (await s.get(f"{base}/")).status
                out["wrong"] = (await s.get(f"{base}/?token=not-it")).status
                try:
                    await s.ws_connect(f"{base}/ws")
                    out["ws_none"] = 101
                except aiohttp.WSServerHandshakeError as exc:
                    out["ws_none"] = exc.status
                try:
                    await s.ws_connect(f"{base}/ws?token={token}", headers={"Origin": "http://evil.example"})
                    out["ws_foreign"] = 101
                except aiohttp.WSServerHandshakeError as exc:
                    out["ws_foreign"] = exc.status
                r = await s.get(f"{base}/?token={token}")
                out["token"] = r.status
                out["cookie_then"] = (await s.get(f"{base}/api/info")).status
                ws = await s.ws_connect(f"{base}/ws", headers={"Origin": base})
                out["ws_ok"] = (await ws.receive_json())["type"]
                await ws.close()
            return out

        seen = asyncio.run(probe())
    finally:
        if proc.poll() is None:
            stop(proc)
    assert seen == {"none": 403, "wrong": 403, "ws_none": 403, "ws_foreign": 403, "token": 200,
                    "cookie_then": 200, "ws_ok": "snap"}


def test_a_taken_port_is_one_line_and_the_drums_play_on(jack_server, tmp_path) -> None:  # noqa: ANN001
    log = tmp_path / "run.jsonl"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc, lines = start("--ui-port", str(port), "--log", str(log))
        try:
            warning = [x for x in lines if "warning" in x]
            assert len(warning) == 1 and f"127.0.0.1:{port}" in warning[0] and "without the page" in warning[0]
            assert "page on" not in lines[-1]
            assert "playing" in proc.stderr.readline()  # the drums start, without the page
            time.sleep(1.0)
        finally:
            stop(proc)
    stopped = [e for e in map(json.loads, log.read_text().splitlines()) if e["event"] == "stopped"]
    assert stopped and stopped[0]["notes"] > 0


@pytest.mark.parametrize("value", ["0", "70000"])
def test_a_bad_ui_port_is_refused_in_one_line(value: str) -> None:
    out = subprocess.run([sys.executable, "-m", "livedrum", "run", "--ui-port", value], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode != 0 and out.stderr.strip().count("\n") == 0 and "--ui-port" in out.stderr
