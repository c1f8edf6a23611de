"""`livedrum studio`: the studio page alone, without the live daemon (no MIDI ports, no model loaded here:
each generation runs in a process of its own)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from livedrum.web.auth import Access
from livedrum.web.server import build_app, print_qr, serve, start_studio_browser
from livedrum.web.studio import Studio


def serve_studio(args: argparse.Namespace) -> int:
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    studio = Studio(model=args.model)
    access = Access.for_host(args.host)
    try:
        served = await serve(build_app(access, studio), args.host, args.port, access, path="/studio")
    except OSError:
        studio.close()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        start_studio_browser(served.url, not args.no_browser, lambda line: print(line, file=sys.stderr, flush=True))
        if access.token is not None:
            print_qr(served.url)
        await stop.wait()
    finally:
        await served.close()
        studio.close()
    return 0
