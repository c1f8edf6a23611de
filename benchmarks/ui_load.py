"""Does the web page cost the drums any timing? Note timing with the live page open against without.

Starts its own JACK server (dummy driver, 48 kHz, 64-frame periods) and runs `livedrum run --backend jack`
following a band part at 120 BPM with --humanize 0 (as benchmarks/live_timing.py, whose pieces it uses)
twice: once with the page off (--no-ui), once with the page served and open in headless Chromium
(Debian's chromium, via Selenium) plus N more WebSocket clients that take every snapshot. Error =
arrival - planned time of each drum note-on. Also: the update rate each page received, the daemon's CPU.

    python benchmarks/ui_load.py [--seconds 30] [--clients 2] [--no-browser]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mido
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import live_timing  # noqa: E402


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ws_client(url: str, to: str) -> None:
    """A page without a browser: counts the snapshots it receives until SIGTERM."""
    import aiohttp

    stamps: list[float] = []

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            print("connected", flush=True)

            async def read() -> None:
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT and msg.data.startswith('{"type":"snap"'):
                        stamps.append(time.monotonic())

            reader = asyncio.ensure_future(read())
            await asyncio.wait([reader, asyncio.ensure_future(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
            reader.cancel()

    asyncio.run(main())
    Path(to).write_text(json.dumps(stamps))


def browser_page(url: str, to: str) -> None:
    """The live page in headless Chromium until SIGTERM; then what the page measured itself."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,1250"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    try:
        driver.get(url)
        t0 = time.monotonic()
        while not driver.execute_script("return window.livedrumStats && window.livedrumStats.frames > 0"):
            if time.monotonic() - t0 > 20:
                raise SystemExit("the page received no snapshot")
            time.sleep(0.1)
        print("connected", flush=True)
        f0, t0 = driver.execute_script("return window.livedrumStats.frames"), time.monotonic()
        while not stop:
            time.sleep(0.2)
        frames = driver.execute_script("return window.livedrumStats.frames") - f0
        Path(to).write_text(json.dumps({"frames": frames, "seconds": time.monotonic() - t0}))
    finally:
        driver.quit()


class Pages:
    """The clients of one run, each a process of its own, started once the daemon is ready."""

    def __init__(self, port: int, clients: int, browser: bool) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="livedrum-ui-load-"))
        self.procs: list[tuple[str, subprocess.Popen, Path]] = []
        kinds = (["browser"] if browser else []) + ["ws"] * clients
        for i, kind in enumerate(kinds):
            out = self.folder / f"{kind}-{i}.json"
            url = f"http://127.0.0.1:{port}/" if kind == "browser" else f"http://127.0.0.1:{port}/ws"
            proc = subprocess.Popen([sys.executable, __file__, f"--{kind}", url, "--to", str(out)],
                                    stdout=subprocess.PIPE, text=True)
            if proc.stdout.readline().strip() != "connected":
                raise SystemExit(f"a {kind} client could not connect to {url}")
            self.procs.append((kind, proc, out))

    def rates(self) -> list[tuple[str, float]]:
        out = []
        for kind, proc, path in self.procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            data = json.loads(path.read_text())
            if kind == "ws":
                stamps = np.array(data)
                rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
            else:
                rate = data["frames"] / data["seconds"]
            out.append((kind, rate))
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--clients", type=int, default=2, help="WebSocket clients besides the browser page")
    ap.add_argument("--no-browser", action="store_true", help="WebSocket clients only, no Chromium")
    ap.add_argument("--priority", default="normal", choices=("normal", "high", "realtime"),
                    help="the daemon's --priority in both runs (realtime: ahead of the browser for the CPU)")
    ap.add_argument("--ws", help=argparse.SUPPRESS)
    ap.add_argument("--browser", help=argparse.SUPPRESS)
    ap.add_argument("--to", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ws:
        return ws_client(args.ws, args.to)
    if args.browser:
        return browser_page(args.browser, args.to)
    jack = live_timing.start_jack()
    pages: list[Pages] = []
    try:
        backend = mido.Backend(live_timing.JACK)
        priority = ("--priority", args.priority)
        plain = live_timing.livedrum_run(backend, args.seconds, extra=priority)
        port = free_tcp_port()

        def open_pages() -> Pages:
            pages.append(Pages(port, args.clients, not args.no_browser))
            return pages[-1]

        served = live_timing.livedrum_run(backend, args.seconds, extra=(*priority, "--ui-port", str(port)),
                                          on_ready=open_pages)
        rates = pages[0].rates()
    finally:
        for p in pages:
            for _, proc, _ in p.procs:
                if proc.poll() is None:
                    proc.kill()
        jack.terminate()
        jack.wait(timeout=10)
    n = len(pages[0].procs)
    print(f"JACK dummy driver ({'realtime' if jack.args[1] == '-R' else 'not realtime'}), 48 kHz, 64-frame periods; "
          f"{live_timing.BPM:g} BPM; {os.cpu_count()} CPU cores; {args.seconds:g} s each; daemon --priority "
          f"{args.priority}")
    print(f"{'run':<28} {'notes':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>9}")
    print(live_timing.row("livedrum run --no-ui", plain["errors"]))
    print(live_timing.row(f"+ page, {n} clients", served["errors"]))
    d99 = np.percentile(np.abs(served["errors"]), 99) - np.percentile(np.abs(plain["errors"]), 99)
    print(f"p99 with the page against without: {d99 * 1000:+.3f} ms (goal: within 0.5 ms)")
    for kind, rate in rates:
        print(f"updates received by a {'Chromium page' if kind == 'browser' else 'WebSocket client'}: "
              f"{rate:.1f} Hz (goal >= 20)")
    print(f"daemon CPU: {plain['cpu'] * 100:.2f} % of one core without the page, {served['cpu'] * 100:.2f} % with it")


if __name__ == "__main__":
    main()
