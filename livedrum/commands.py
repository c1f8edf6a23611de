"""The subcommands behind `livedrum accompany`, `train` and `eval`: parse, call, report."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from livedrum.config import add_dataclass_options, apply_options


def _parser(sub: argparse._SubParsersAction, name: str, help_: str, epilog: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help_, description=help_, epilog=epilog,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="model file (default: the shipped model in models/)")
    p.add_argument("--complexity", type=float, default=None, help="0 sparse .. 1 busy (default: the model's)")
    p.add_argument("--seed", type=int, default=0, help="same input, settings and seed: same drums")
    p.add_argument("--kit-off", default="", metavar="PIECE,...",
                   help="kit pieces to leave out: kick, snare, hihat, toms, cymbals, percussion")
    p.add_argument("--humanize", type=float, default=1.0, help="0 = every hit exactly on the grid")
    p.add_argument("--preset", default=None, metavar="NAME",
                   help="genre preset (presets/styles): rock, pop, hiphop, jazz, blues, shuffle, funk, latin, ballad")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))


def feel_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--swing", type=float, default=None, help="0 straight .. 1 triplet swing (default: the preset's)")
    p.add_argument("--intensity", type=float, default=None,
                   help="0 soft .. 1 loud (default: the preset's, or 0.5: as the model plays)")


def preset_of(args: argparse.Namespace):  # noqa: ANN201
    """The --preset asked for, loaded (ValueError in one line), or None."""
    if not getattr(args, "preset", None):
        return None
    from livedrum.presets import load_preset

    return load_preset(args.preset)


def feel_of(args: argparse.Namespace):  # noqa: ANN201
    """Swing and intensity: the options, else the preset's, else straight and as the model plays."""
    from livedrum.feel import Feel

    preset = preset_of(args)
    swing = getattr(args, "swing", None)
    intensity = getattr(args, "intensity", None)
    return Feel(swing=swing if swing is not None else (preset.swing if preset else 0.0),
                intensity=intensity if intensity is not None else (preset.intensity if preset else 0.5))


def resolve_device(name: str) -> str:
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA GPU is available here (use --device cpu or auto)")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def make_drummer(args: argparse.Namespace):  # noqa: ANN201
    """The model drummer the options describe: weights, calibrated sampling, seed, device."""
    from livedrum.checkpoint import load_model, model_kind
    from livedrum.cli import default_model_path
    from livedrum.perform import ModelDrummer
    from livedrum.sampler import Sampling

    preset = preset_of(args)
    kit_off = frozenset(p.strip() for p in args.kit_off.split(",") if p.strip())
    if preset is not None:
        kit_off |= preset.kit_off
        if args.complexity is None:
            args.complexity = preset.complexity
    feel = feel_of(args)
    wanted = Sampling(complexity=0.5 if args.complexity is None else args.complexity,
                      kit_off=kit_off, humanize=args.humanize)  # checks the user's values first
    device = resolve_device(args.device)
    if device == "cpu":
        import torch

        torch.set_num_threads(1)  # one window at a time is latency-bound: threads only add overhead
    path = Path(args.model) if args.model else default_model_path()
    if model_kind(path) == "thesis":  # the seed thesis' network, as a baseline
        from livedrum.thesis import ThesisDrummer

        temperature = 1.0 if args.complexity is None else 0.25 + 0.75 * wanted.complexity  # the thesis' range
        return without_pieces(ThesisDrummer.load(path, device, temperature, args.seed), kit_off)
    net, ckpt = load_model(path, device)
    calibrated = ckpt.get("sampling", {})
    sampling = wanted.with_(
        complexity=calibrated.get("complexity", 0.5) if args.complexity is None else args.complexity,
        bias=calibrated.get("bias", 0.0), consistency=calibrated.get("consistency", 0.0),
        piece_bias=tuple(calibrated.get("piece_bias", {}).items()), groove=calibrated.get("groove", "none"),
    )
    return ModelDrummer(net, sampling, args.seed, device, feel)


def without_pieces(drummer, kit_off: frozenset[str]):  # noqa: ANN001, ANN201
    """A drummer whose notes of the switched-off kit pieces are dropped (for networks that
    cannot mask before sampling, like the thesis baseline)."""
    import numpy as np

    from livedrum.vocab import kit_mask, voice_of

    if not kit_off:
        return drummer
    mask = kit_mask(kit_off)

    def play(song):  # noqa: ANN001, ANN202
        notes = drummer(song)
        keep = np.array([(v := voice_of(int(p))) is not None and bool(mask[v]) for p in notes.pitch], bool)
        return notes.take(keep)

    return play


# ---- accompany ---------------------------------------------------------------------------

def add_accompany(sub: argparse._SubParsersAction, epilog: str) -> None:
    p = _parser(sub, "accompany", "write a drum track for a song (MIDI in, MIDI out)", epilog)
    p.add_argument("input", metavar="IN.mid", help="the band: a type 0 or 1 MIDI file")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mid")
    p.add_argument("--keep-drums", action="store_true", help="keep the input's own drum notes too")
    _model_options(p)
    feel_options(p)
    p.set_defaults(func=run_accompany)


def run_accompany(args: argparse.Namespace) -> int:
    from livedrum.midifile import load_song
    from livedrum.midiwrite import write_accompaniment

    t0 = time.perf_counter()
    source = Path(args.input)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {source}: {exc.strerror or exc}") from exc
    song = load_song(data, source.name)
    if len(song.band) == 0:
        raise ValueError(f"{source.name} has no band notes to play along with")
    drummer = make_drummer(args)
    drums = drummer(song)
    write_accompaniment(data, drums, Path(args.output), keep_drums=args.keep_drums)
    bars = len(set(int(b) for b in song_bars(song)))
    print(f"wrote {args.output}: {len(drums)} drum notes over {bars} bars "
          f"({time.perf_counter() - t0:.1f} s)")
    return 0


def song_bars(song) -> list[int]:  # noqa: ANN001
    import numpy as np

    from livedrum.grid import bar_positions

    bar, _, _ = bar_positions(max(1, int(np.ceil(song.length_beats))), song.time_signatures)
    return list(bar)


# ---- train ------------------------------------------------------------------------------

def add_train(sub: argparse._SubParsersAction, epilog: str) -> None:
    from livedrum.model import ModelConfig
    from livedrum.train import TrainConfig

    p = _parser(sub, "train", "train the drummer on folders or archives of MIDI files", epilog)
    p.add_argument("paths", nargs="*", type=Path,
                   help="MIDI folders or .tar.xz archives (default: the shared corpora)")
    p.add_argument("--data", default=None, help="data root (default: $LIVEDRUM_DATA or ../shared/data)")
    p.add_argument("--model", default="drumnet", choices=("drumnet", "thesis"),
                   help="which network: ours, or the seed thesis' baseline")
    p.add_argument("--workers", type=int, default=None, help="processes for building the dataset")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--calibrate-songs", type=int, default=40,
                   help="validation songs used to calibrate the sampling defaults")
    add_dataclass_options(p, TrainConfig)
    add_dataclass_options(p, ModelConfig, skip={"band_features", "position_features", "n_voices", "steps"})
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from livedrum.model import ModelConfig
    from livedrum.train import TrainConfig

    cfg = apply_options(TrainConfig(), args)
    cfg.model = apply_options(ModelConfig(), args)
    if args.model == "thesis":
        from livedrum.training_jobs import train_thesis_job

        return train_thesis_job(args, cfg)
    from livedrum.train import distributed

    rank, _ = distributed()
    records = load_dataset(args, cfg.cache, build_it=rank == 0)
    from livedrum.training_jobs import train_drumnet_job

    return train_drumnet_job(args, cfg, records)


def load_dataset(args: argparse.Namespace, cache: str, build_it: bool = True) -> dict:
    """Build (or find cached) training arrays; under torchrun only rank 0 builds, the rest wait."""
    import torch.distributed as dist

    from livedrum.corpus import data_root, default_paths, discover
    from livedrum.dataset import build, load_split

    if build_it:
        paths = args.paths or default_paths(data_root(args.data))
        sources = discover(paths)
        if not sources:
            raise ValueError("no MIDI files found in " + ", ".join(map(str, paths)))
        build(sources, Path(cache), workers=args.workers or os.cpu_count() or 1)
    if dist.is_initialized():
        dist.barrier()
    return {split: load_split(Path(cache), split) for split in ("train", "validation")}


# ---- eval -------------------------------------------------------------------------------

def add_eval(sub: argparse._SubParsersAction, epilog: str) -> None:
    p = _parser(sub, "eval", "drum along with real songs and compare with their real drummers", epilog)
    p.add_argument("paths", nargs="*", type=Path,
                   help="MIDI folders, archives or files (default: the shared corpora)")
    p.add_argument("--data", default=None, help="data root (default: $LIVEDRUM_DATA or ../shared/data)")
    p.add_argument("--split", default=None, choices=("train", "validation", "test", "all"),
                   help="songs of this split only (default: validation for the shared corpora, else all)")
    p.add_argument("--limit", type=int, default=0, help="at most this many songs (spread over collections)")
    p.add_argument("--thesis", default=None, metavar="PATH", help="also evaluate a thesis-network model")
    p.add_argument("--no-model", action="store_true", help="baselines only")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                   help="write the report as JSON (to stdout without FILE)")
    p.add_argument("--plot", default=None, metavar="PNG", help="write plots of the report")
    _model_options(p)
    p.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    from livedrum.baselines import fixed_rock_beat, onset_mirror
    from livedrum.evaluate import evaluate

    drummers: dict = {}
    if not args.no_model:
        drummers["livedrum"] = make_drummer(args)
    if args.thesis:
        from livedrum.thesis import ThesisDrummer

        drummers["thesis"] = ThesisDrummer.load(args.thesis, seed=args.seed)
    drummers["fixed rock beat"] = fixed_rock_beat
    drummers["onset mirror"] = onset_mirror
    split = args.split or ("all" if args.paths else "validation")
    songs = list(eval_songs(args, split))
    if not songs:
        raise ValueError("no usable songs to evaluate")
    report = evaluate(songs, drummers, progress=sys.stderr.isatty())
    if args.json == "-":
        print(json.dumps(report.to_json(), indent=1))
    else:
        print(report.format_table())
        if args.json:
            Path(args.json).write_text(json.dumps(report.to_json(), indent=1))
    if args.plot:
        report.plot(args.plot)
    return 0


def eval_songs(args: argparse.Namespace, split: str) -> Iterator:
    from livedrum.corpus import data_root, default_paths, discover, split_of
    from livedrum.midifile import load_song

    paths = args.paths or default_paths(data_root(args.data))
    sources = [s for s in discover(paths) if split == "all" or split_of(s.song_id) == split]
    if args.limit:
        sources = spread(sources, args.limit)
    skipped = 0
    for src, data in read_sources(sources):
        try:
            yield load_song(data, src.label)
        except ValueError as exc:
            skipped += 1
            print(f"skipped {src.label}: {exc}", file=sys.stderr)
    if skipped:
        print(f"skipped {skipped} unreadable files", file=sys.stderr)


def spread(sources: list, limit: int) -> list:
    """At most `limit` sources, taken round-robin over collections so that none dominates."""
    by: dict[str, list] = {}
    for s in sources:
        by.setdefault(s.collection, []).append(s)
    out: list = []
    while len(out) < limit and any(by.values()):
        for items in by.values():
            if items and len(out) < limit:
                out.append(items.pop(0))
    return sorted(out, key=lambda s: s.label)


def read_sources(sources: list) -> Iterator[tuple]:
    """(source, bytes) for loose files and archive members alike, one pass per archive."""
    from livedrum.corpus import iter_archive

    archives: dict[Path, dict] = {}
    for s in sources:
        if s.member is None:
            yield s, s.path.read_bytes()
        else:
            archives.setdefault(s.path, {})[s.label] = s
    for path, members in archives.items():
        yield from iter_archive(path, members)
