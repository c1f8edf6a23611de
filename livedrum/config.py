"""Typed config dataclasses as command-line options: every field becomes `--field-name value`."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields, is_dataclass, replace
from typing import Any, get_type_hints


def add_dataclass_options(parser: argparse.ArgumentParser, cls: type, skip: set[str] = frozenset()) -> None:
    """Add one option per scalar field of `cls`, defaulting to None (= keep the dataclass default)."""
    hints = get_type_hints(cls)
    for f in fields(cls):
        kind = hints[f.name]
        if f.name in skip or is_dataclass(kind) or kind not in (int, float, str, bool):
            continue
        default = f.default if f.default is not MISSING else None
        flag = "--" + f.name.replace("_", "-")
        if kind is bool:
            parser.add_argument(flag, type=_bool, default=None, metavar="yes|no", help=f"(default {default})")
        else:
            parser.add_argument(flag, type=kind, default=None, help=f"(default {default})")


def apply_options(obj: Any, args: argparse.Namespace) -> Any:
    """A copy of dataclass `obj` with the options the user gave."""
    changes = {f.name: getattr(args, f.name) for f in fields(obj)
               if getattr(args, f.name, None) is not None and not is_dataclass(getattr(obj, f.name))}
    return replace(obj, **changes)


def _bool(text: str) -> bool:
    if text.lower() in ("1", "yes", "true", "on"):
        return True
    if text.lower() in ("0", "no", "false", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")
