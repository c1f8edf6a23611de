"""The `livedrum` command: one subcommand per job; errors are one clear line, never a traceback."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import NoReturn

from livedrum import __version__

STARTED = time.perf_counter()  # before the heavy imports: `livedrum run` reports its time to ready from here

EXAMPLES = {
    "accompany": """examples:
  livedrum accompany song.mid -o song-drums.mid
  livedrum accompany song.mid -o busy.mid --complexity 0.9 --seed 7
  livedrum accompany song.mid -o no-hats.mid --kit-off hihat,cymbals --keep-drums
  livedrum accompany band.wav -o drums.mid --render band-with-drums.wav   # a recording: drums aligned to it
  livedrum accompany band.wav -o drums.mid --model runs/thesis-wav/best.pt  # the thesis' WAV network
  livedrum accompany song.mid -o song-drums.mid --render song-drums.wav  # listen through a SoundFont""",
    "train": """examples:
  livedrum train                                  # shared corpora, default recipe, into runs/default
  livedrum train --out runs/big --epochs 20 --enc-hidden 256 --resume
  torchrun --nproc-per-node 2 -m livedrum train --out runs/ddp   # data-parallel
  livedrum train --model thesis --out runs/thesis  # the seed thesis' network, as a baseline
  livedrum train --model thesis-wav --out runs/thesis-wav --wav-songs 160  # its WAV network (needs librosa)""",
    "run": """examples:
  livedrum run                                    # every input port, virtual output port "livedrum"
  livedrum run --in keys --in bass --bpm 96 --record gig.mid
  livedrum run --backend jack --connect fluidsynth --mode lead --bpm 128
  livedrum run --clock tap --tap-cc 64 --swing 0.5
  livedrum run --ui-host 0.0.0.0                  # the web page for phones on the LAN (token and QR code printed)""",
    "demo": """examples:
  livedrum demo                                   # the bundled band part, live, into demo-with-drums.mid
  livedrum demo --bars 8 --complexity 0.8 -o busy.mid
  livedrum demo --band my-band.mid --no-port""",
    "studio": """examples:
  livedrum studio                                 # opens http://127.0.0.1:8001/studio in the browser
  livedrum studio --port 8080 --no-browser
  livedrum studio --host 0.0.0.0                  # for the LAN: prints the address with its access token""",
    "ports": """examples:
  livedrum ports
  livedrum ports --backend jack""",
    "eval": """examples:
  livedrum eval                                   # validation songs of the shared corpora
  livedrum eval my-songs/ --split all --json --plot eval.png
  livedrum eval --model runs/default/model.pt --thesis runs/thesis/best.pt --limit 50""",
}


class Parser(argparse.ArgumentParser):
    """A usage error is one line too (the full usage is one `--help` away); subcommands inherit this."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"livedrum: error: {message} (see {self.prog} --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already reported in one line
        return exc.code if isinstance(exc.code, int) else 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("livedrum: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:
        print(f"livedrum: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if os.environ.get("LIVEDRUM_DEBUG"):
            raise
        print(f"livedrum: internal error: {type(exc).__name__}: {one_line(exc)} (LIVEDRUM_DEBUG=1 shows more)",
              file=sys.stderr)
        return 1


def one_line(exc: BaseException) -> str:
    """An exception as one line for people: an OSError without its "[Errno N]", the first line only."""
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror if exc.filename is None else f"{exc.strerror}: {exc.filename}"
    else:
        text = str(exc)
    lines = text.strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def build_parser() -> argparse.ArgumentParser:
    from livedrum.commands import add_accompany, add_eval, add_train
    from livedrum.live.cli import add_demo, add_ports, add_run
    from livedrum.web.options import add_studio

    parser = Parser(
        prog="livedrum", description="An AI drummer that plays with your band.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"livedrum {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    commands = (("run", add_run), ("demo", add_demo), ("ports", add_ports), ("accompany", add_accompany),
                ("train", add_train), ("eval", add_eval), ("studio", add_studio))
    for name, add in commands:
        add(sub, EXAMPLES[name])
    return parser


def elapsed(t0: float) -> str:
    return f"{time.perf_counter() - t0:.1f} s"


MODELS_DIR = Path(__file__).resolve().parent.parent / "models"  # beside the package (editable install or checkout)


def default_model_path() -> Path:
    """The shipped model: `models/` beside the package (editable install or checkout)."""
    env = os.environ.get("LIVEDRUM_MODEL")
    if env:
        return Path(env)
    return MODELS_DIR / "livedrum-default.pt"


if __name__ == "__main__":
    sys.exit(main())
