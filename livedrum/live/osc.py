"""The OSC control surface: UDP datagrams in the daemon's event loop, one table of addresses.

`build_dispatcher` lists every address the daemon serves; a handler only validates and changes
settings through the `Controller` (never sleeps, never runs the model). Every accepted change is
echoed at its address to the sender, to every client seen and to `--osc-reply` targets, so the
faders on every phone follow; anything refused gets `/livedrum/error` with the reason. Packets are
rate-limited per sender before they are parsed, so a flood cannot starve the scheduler.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from livedrum.live.controller import Controller
from livedrum.vocab import PIECE_NAMES

PREFIX = "/livedrum"
Addr = tuple[str, int]
Feedback = list[tuple[str, Any]]  # (setting, value) pairs to echo: "complexity" -> /livedrum/complexity
Handler = Callable[[list[Any]], Feedback]
MAX_CLIENTS = 16


def _one(args: list[Any], address: str) -> Any:
    if len(args) != 1:
        raise TypeError(f"{address} takes one argument, got {len(args)}")
    return args[0]


def build_dispatcher(c: Controller) -> dict[str, Handler]:
    """Every OSC address of the contract and its handler, in one visible place."""
    table: dict[str, Handler] = {}

    def setting(name: str, setter: Callable[[Any], Any]) -> None:
        address = f"{PREFIX}/{name}"
        table[address] = lambda args: [(name, setter(_one(args, address)))]

    for name in ("complexity", "intensity", "swing", "humanize", "tempo", "preset", "mode"):
        setting(name, getattr(c, name))
    for piece in PIECE_NAMES:
        setting(f"kit/{piece}", lambda value, piece=piece: c.kit(piece, value))

    def fill(args: list[Any]) -> Feedback:
        c.fill(_one(args, f"{PREFIX}/fill") if args else None)
        return [("fill", 1)]

    def no_args(name: str, act: Callable[[], Any], echo: str | None = None) -> Handler:
        def handler(args: list[Any]) -> Feedback:
            if args and not (len(args) == 1 and isinstance(args[0], int | float) and args[0]):
                return []  # a TouchOSC button's release (0): nothing to do
            result = act()
            return [(echo or name, result)]
        return handler

    table[f"{PREFIX}/fill"] = fill
    table[f"{PREFIX}/tap"] = no_args("tap", c.tap, echo="tempo")
    table[f"{PREFIX}/start"] = no_args("start", c.start, echo="state")
    table[f"{PREFIX}/stop"] = no_args("stop", c.stop, echo="state")
    table[f"{PREFIX}/status"] = lambda args: [(key, value) for key, value in c.state().items()]
    return table


class RefusedError(ValueError):
    """A message the table refused, with the reason every surface shows (OSC and the web page alike)."""


def handle(table: dict[str, Handler], address: str, args: list[Any]) -> Feedback:
    """Run one message through the address table: its feedback, or RefusedError with the reason."""
    handler = table.get(address)
    if handler is None:
        raise RefusedError(f"unknown address {address}")
    try:
        return handler(args)
    except Exception as exc:  # refused: TypeError, ValueError, and what odd values raise deeper down
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise RefusedError(f"{address}: {reason}") from exc


def osc_bytes(address: str, *args: Any) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        if isinstance(a, bool):
            a = 1 if a else 0
        b.add_arg(a)
    return b.build().dgram


@dataclass
class Bucket:
    """Token bucket: `rate` packets a second, bursts up to `burst`."""

    rate: float
    burst: float
    tokens: float = 0.0
    last: float = field(default_factory=time.monotonic)

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class OscStats:
    received: int = 0
    accepted: int = 0
    refused: int = 0  # errors replied
    dropped: int = 0  # rate-limited or not allowed, not even parsed


class OscServer(asyncio.DatagramProtocol):
    """The daemon's OSC endpoint; the caller owns the transport (see `serve_osc`)."""

    def __init__(self, controller: Controller, log: Callable[..., None] | None = None,
                 allow: list[str] | None = None, reply_to: list[Addr] | None = None,
                 rate: float = 200.0, burst: float = 400.0, total_rate: float = 2000.0) -> None:
        self.controller = controller
        self.dispatch = build_dispatcher(controller)
        self.log = log or (lambda event, **fields: None)
        self.allow = [ipaddress.ip_network(a.strip(), strict=False) for a in allow or [] if a.strip()]
        self.reply_to = list(reply_to or [])
        self.clients: OrderedDict[Addr, float] = OrderedDict()
        self.buckets: dict[str, Bucket] = {}
        self.total = Bucket(total_rate, total_rate, tokens=total_rate)  # full, as a sender's own bucket
        self.rate, self.burst = rate, burst
        self.stats = OscStats()
        self.transport: asyncio.DatagramTransport | None = None
        self._warned: dict[str, float] = {}
        controller.listeners.append(self.echo)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def error_received(self, exc: Exception) -> None:  # e.g. ICMP port unreachable from a gone client
        pass

    def _allowed(self, host: str) -> bool:
        if not self.allow:
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return ip.is_loopback or any(ip in net for net in self.allow)

    def _warn_once(self, key: str, line: str, every: float = 10.0) -> None:
        now = time.monotonic()
        if now - self._warned.get(key, -every) >= every:
            self._warned[key] = now
            self.log("warning", line=line)

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        try:
            self._receive(data, addr)
        except Exception as exc:  # the last line of defence: no packet may raise into the event loop
            self._warn_once(f"bug:{type(exc).__name__}", f"OSC packet ignored: {type(exc).__name__}: {exc}")

    def _receive(self, data: bytes, addr: Addr) -> None:
        self.stats.received += 1
        now = time.monotonic()
        host = addr[0]
        if not self._allowed(host):
            self.stats.dropped += 1
            self._warn_once(f"allow:{host}", f"OSC from {host} ignored (not in --osc-allow)")
            return
        bucket = self.buckets.get(host)
        if bucket is None:
            if len(self.buckets) > 1024:
                self.buckets.clear()
            bucket = self.buckets[host] = Bucket(self.rate, self.burst, tokens=self.burst)
        if not (bucket.take(now) and self.total.take(now)):
            self.stats.dropped += 1
            self._warn_once(f"rate:{host}", f"OSC from {host} is flooding: packets dropped")
            return
        self._seen(addr, now)
        try:
            packet = OscPacket(data)
        except Exception as exc:  # python-osc raises ParseError and, on some garbage, others
            self._error(addr, f"not an OSC packet: {exc}")
            return
        for timed in packet.messages:  # bundles apply at once: never sleep on a time tag
            self._handle(timed.message.address, list(timed.message.params), addr)

    def _handle(self, address: str, args: list[Any], addr: Addr) -> None:
        try:
            feedback = handle(self.dispatch, address, args)
        except RefusedError as exc:
            self._error(addr, str(exc))
            return
        self.stats.accepted += 1
        self.log("osc", address=address, args=args)
        if address == f"{PREFIX}/status":  # to who asked (and where it told us it listens)
            asker = list(dict.fromkeys([addr, *self.reply_to]))
            for key, value in feedback:
                self._send(osc_bytes(f"{PREFIX}/{key}", value), asker)
            self._send(osc_bytes(f"{PREFIX}/status", json.dumps(self.controller.state())), asker)
            return
        self.controller.announce(feedback)  # to every client seen (self.echo) and every web page

    def echo(self, key: str, value: Any) -> None:
        """A changed setting, to every client seen and every reply target."""
        self._send(osc_bytes(f"{PREFIX}/{key}", value), self.targets())

    def targets(self) -> list[Addr]:
        return list(dict.fromkeys([*self.clients, *self.reply_to]))

    def _seen(self, addr: Addr, now: float) -> None:
        self.clients[addr] = now
        self.clients.move_to_end(addr)
        while len(self.clients) > MAX_CLIENTS:
            self.clients.popitem(last=False)

    def _error(self, addr: Addr, reason: str) -> None:
        self.stats.refused += 1
        self.log("osc_error", reason=reason, sender=f"{addr[0]}:{addr[1]}")
        self._send(osc_bytes(f"{PREFIX}/error", reason), list(dict.fromkeys([addr, *self.reply_to])))

    def _send(self, data: bytes, targets: list[Addr]) -> None:
        if self.transport is None:
            return
        for target in targets:
            try:
                self.transport.sendto(data, target)
            except OSError:
                pass


def parse_reply_targets(values: list[str]) -> list[Addr]:
    """`HOST:PORT` strings from `--osc-reply`."""
    out = []
    for v in values:
        host, sep, port = v.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"--osc-reply wants HOST:PORT, got {v!r}")
        out.append((host or "127.0.0.1", int(port)))
    return out


async def serve_osc(server: OscServer, host: str, port: int) -> asyncio.DatagramTransport:
    """Bind the OSC endpoint; OSError in one line when the port is taken."""
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.create_datagram_endpoint(lambda: server, local_addr=(host, port))
    except OSError as exc:
        raise OSError(f"cannot listen for OSC on {host}:{port}: {exc.strerror or exc}") from exc
    return transport  # type: ignore[return-value]
