"""Who may use the web page: the local machine always; the LAN only with the access token.

On a loopback address (the default) the page needs no token, but a request must name this
machine in its Host header (a DNS-rebinding page cannot) and a WebSocket or a change must come
from the page's own Origin (another site open in the same browser cannot steer the drums). On any
other address a random token is asked for: in the URL once (`?token=...`), then as a cookie.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

COOKIE = "livedrum_token"
LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}


def is_loopback(host: str) -> bool:
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(16)


def lan_address() -> str:
    """This machine's address on the LAN, for the printed URL (no packet is sent: a UDP socket
    only asks the routing table which interface it would use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere, only looked up
            return s.getsockname()[0]
        except OSError:
            return socket.gethostname()


@dataclass(frozen=True)
class Access:
    """The rules for one server: the token (None on loopback) and whether Host must be local."""

    token: str | None
    local_only: bool

    @classmethod
    def for_host(cls, host: str) -> Access:
        local = is_loopback(host)
        return cls(token=None if local else new_token(), local_only=local)

    def refusal(self, request: web.Request) -> str | None:
        """Why this request is refused, or None when it may pass."""
        host = request.host.rsplit(":", 1)[0].strip("[]") if request.host else ""
        if self.local_only and not is_loopback(host):
            return f"this page answers on this machine only, not as {request.host!r}"
        origin = request.headers.get("Origin")
        if origin is not None and not self._same_origin(origin, request):
            return f"requests from another site ({origin}) are refused"
        if self.token is not None and not self._has_token(request):
            return "this page needs its access token: open the address printed by livedrum (…?token=…)"
        return None

    def _same_origin(self, origin: str, request: web.Request) -> bool:
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc.lower() == request.host.lower()

    def _has_token(self, request: web.Request) -> bool:
        assert self.token is not None
        given = request.query.get("token") or request.cookies.get(COOKIE) or ""
        return hmac.compare_digest(given.encode(), self.token.encode())


def middleware(access: Access) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Refuse with 403 and the reason; remember a token given in the URL as a cookie."""

    @web.middleware
    async def check(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        reason = access.refusal(request)
        if reason is not None:
            return web.Response(status=403, text=f"livedrum: {reason}\n")
        response = await handler(request)
        if access.token is not None and request.query.get("token") and not response.prepared:
            response.set_cookie(COOKIE, access.token, httponly=True, samesite="Strict")
        return response

    return check
