"""Structured logs for the live drummer: JSON lines for machines, one short line for people.

Every event goes to the JSON log (when one is asked for) with its time; the events a musician
must see (ports coming and going, errors, songs starting and stopping) also get one line on
stderr. Nothing here raises: a full disk must not stop the drums.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import IO

SHOWN = {"input", "output", "error", "start", "stop", "ready", "recording", "warning", "transport", "sync", "link"}


class EventLog:
    """Call it as `log("event", key=value, ...)`."""

    def __init__(self, path: str | Path | None = None, human: IO[str] | None = None,
                 quiet: bool = False) -> None:
        """`human`: where people read the short lines (default: sys.stderr as it is when a line is
        written, so that a live view that redirects stderr shows them above itself)."""
        try:
            self._file = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
        except OSError as exc:
            raise OSError(f"cannot write the log {path}: {exc.strerror or exc}") from exc
        self._quiet = quiet
        self._human = human
        self.errors = 0

    def __call__(self, event: str, **fields: object) -> None:
        if event == "error":
            self.errors += 1
        if self._file is not None:
            try:
                self._file.write(json.dumps({"t": round(time.time(), 4), "event": event, **fields},
                                            default=str) + "\n")
                self._file.flush()
            except (OSError, ValueError):
                pass
        if not self._quiet and event in SHOWN:
            detail = fields.get("line") or " ".join(f"{k}={v}" for k, v in fields.items())
            if event in ("error", "warning"):
                text = f"livedrum: {event}: {detail}"
            elif "line" in fields:
                text = f"livedrum: {detail}"
            else:
                text = f"livedrum: {event} {detail}".rstrip()
            try:
                print(text, file=self._human or sys.stderr, flush=True)
            except (OSError, ValueError):
                pass

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
