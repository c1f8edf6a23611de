"""The web UI's HTTP side: one aiohttp app on the daemon's event loop (or alone, for the studio).

Routes: `/` the live page, `/studio` the studio page, `/static/...` their files (shipped inside the
package: no build step, nothing fetched from the network), `/ws` the live page's WebSocket,
`/api/info` what the pages need to draw themselves, `/api/studio/...` the studio's jobs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from livedrum.presets import available_presets
from livedrum.vocab import KIT_PIECES, PIECE_NAMES
from livedrum.web.auth import Access, lan_address, middleware
from livedrum.web.live import LiveHub
from livedrum.web.studio import Studio, audio_suffixes, audio_supported, renderer

STATIC = Path(__file__).resolve().parent / "static"
NO_CACHE = {"Cache-Control": "no-store"}


def build_app(access: Access, studio: Studio, hub: LiveHub | None = None) -> web.Application:
    """The live page (when a hub is given) and the studio page, behind the access rules."""
    app = web.Application(middlewares=[middleware(access)], client_max_size=17 * 1024 * 1024)

    async def live_page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "live.html", headers=NO_CACHE)

    async def studio_page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "studio.html", headers=NO_CACHE)

    async def to_studio(request: web.Request) -> web.Response:
        raise web.HTTPFound("/studio" + (f"?{request.query_string}" if request.query_string else ""))

    async def info(request: web.Request) -> web.Response:
        return web.json_response({
            "live": hub is not None, "presets": available_presets(), "pieces": list(PIECE_NAMES),
            "piece_notes": {k: list(v) for k, v in KIT_PIECES.items()},
            "audio_files": audio_supported(), "audio_suffixes": list(audio_suffixes()),
            "listen": renderer() is not None,
        })

    if hub is not None:
        app.router.add_get("/", live_page)
        app.router.add_get("/ws", hub.websocket)
    else:
        app.router.add_get("/", to_studio)
    app.router.add_get("/studio", studio_page)
    app.router.add_get("/api/info", info)
    app.router.add_static("/static", STATIC)
    studio.routes(app)
    return app


@dataclass
class Served:
    runner: web.AppRunner
    url: str  # what to open, token included

    async def close(self) -> None:
        await self.runner.cleanup()


async def serve(app: web.Application, host: str, port: int, access: Access, path: str = "/") -> Served:
    """Listen on host:port; OSError in one line when that cannot be done (port taken, no such address)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_address=True).start()
    except OSError as exc:
        await runner.cleanup()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise OSError(f"cannot serve the web page on {host}:{port}: {reason}") from exc
    return Served(runner, page_url(host, port, access, path))


def page_url(host: str, port: int, access: Access, path: str = "/") -> str:
    shown = lan_address() if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    query = f"?token={access.token}" if access.token else ""
    return f"http://{shown}:{port}{path}{query}"


def print_qr(url: str, out: IO[str] | None = None) -> None:
    """The page's address as a QR code in the terminal, for a phone's camera."""
    import segno

    segno.make(url, error="l").terminal(out=out or sys.stderr, compact=True)


def start_studio_browser(url: str, open_browser: bool, say: Callable[[str], Any]) -> None:
    say(f"livedrum studio: {url} (Ctrl-C to stop)")
    if open_browser:
        import webbrowser

        try:
            webbrowser.open(url)
        except Exception:  # no browser on this machine: the address is printed
            pass
