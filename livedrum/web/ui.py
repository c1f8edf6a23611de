"""The web UI inside `livedrum run`: started beside the OSC server, on the same event loop.

A taken port or an address that cannot be used is one warning line and the drums play on without
the page: on stage the drums matter more than a screen (`--ui-port N` picks another port).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from livedrum.live.controller import Controller
from livedrum.web.auth import Access
from livedrum.web.live import LiveFeed, LiveHub
from livedrum.web.server import Served, build_app, print_qr, serve
from livedrum.web.studio import Studio


class LiveUI:
    """The live page, the studio page and their WebSocket hub, served while the daemon plays."""

    def __init__(self, served: Served, hub: LiveHub, studio: Studio) -> None:
        self.served, self.hub, self.studio = served, hub, studio

    @property
    def url(self) -> str:
        return self.served.url

    async def run(self) -> None:
        await self.hub.run()

    async def close(self) -> None:
        await self.hub.close()
        await self.served.close()
        self.studio.close()


async def start_live_ui(args: argparse.Namespace, controller: Controller, log: Any, device: str) -> LiveUI | None:
    """Serve the pages; None (with one warning line) when the page cannot be served."""
    if getattr(args, "no_ui", False):
        return None
    model = Path(args.model).name if getattr(args, "model", None) else "livedrum-default.pt"
    hub = LiveHub(controller, LiveFeed(controller, model=model, device=device), log)
    studio = Studio(model=getattr(args, "model", None), log=log)
    access = Access.for_host(args.ui_host)
    try:
        served = await serve(build_app(access, studio, hub), args.ui_host, args.ui_port, access)
    except OSError as exc:
        controller.listeners.remove(hub._changed)
        studio.close()
        log("warning", line=f"{exc}; playing on without the page (--ui-port N for another port, --no-ui)")
        return None
    if access.token is not None and not getattr(args, "quiet", False):
        print(f"livedrum: page for phones on the LAN (keep the token private): {served.url}", file=sys.stderr)
        print_qr(served.url)
    return LiveUI(served, hub, studio)
