"""Command-line options of the web UI: `livedrum run --ui-*` and `livedrum studio` (light: no aiohttp, no torch)."""

from __future__ import annotations

import argparse


def add_ui_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ui-port", type=int, default=8000, help="port of the web page (default 8000)")
    p.add_argument("--ui-host", default="127.0.0.1",
                   help="address of the web page (0.0.0.0 for a phone on the LAN: a token is then required)")
    p.add_argument("--no-ui", action="store_true", help="no web page")


def check_port(option: str, port: int) -> None:
    if not 0 < port < 65536:
        raise ValueError(f"{option} must be within 1..65535, got {port}")


def check_ui_options(args: argparse.Namespace) -> None:
    if not getattr(args, "no_ui", True):
        check_port("--ui-port", args.ui_port)


def add_studio(sub: argparse._SubParsersAction, epilog: str) -> None:
    help_ = "the studio page: drum tracks for your songs in the browser, without the live daemon"
    p = sub.add_parser("studio", help=help_, description=help_, epilog=epilog,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8001, help="port of the page (default 8001; `livedrum run` "
                                                          "serves the studio too, at /studio of its page)")
    p.add_argument("--host", default="127.0.0.1", help="address (0.0.0.0 for the LAN: a token is then required)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser, only print the address")
    p.add_argument("--model", default=None, help="model file (default: the shipped model in models/)")
    p.set_defaults(func=run_studio)


def run_studio(args: argparse.Namespace) -> int:
    from livedrum.web.standalone import serve_studio

    check_port("--port", args.port)
    return serve_studio(args)
