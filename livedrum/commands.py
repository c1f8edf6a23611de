"""The subcommands behind `livedrum accompany`, `train` and `eval`: parse, call, report."""

from __future__ import annotations

import argparse
import json
import math
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
    p.add_argument("--humanize", type=float, default=0.5,
                   help="micro-timing and accents as real drummers play them (Groove MIDI Dataset): "
                        "0 = every hit exactly on the grid, 1 = as loose as the GMD drummers")
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
    check_number("--humanize", args.humanize, 0.0, 1.0)
    if args.seed < 0:
        raise ValueError(f"--seed must be 0 or more, got {args.seed}")
    wanted = Sampling(complexity=0.5 if args.complexity is None else args.complexity,
                      kit_off=kit_off, humanize=args.humanize)  # checks the user's values first
    device = resolve_device(args.device)
    if device == "cpu":
        import torch

        torch.set_num_threads(1)  # one window at a time is latency-bound: threads only add overhead
    path = Path(args.model) if args.model else default_model_path()
    kind = model_kind(path)
    if kind == "thesis-wav":
        raise ValueError("the thesis-wav network hears recordings only: give `livedrum accompany` a WAV, FLAC ... "
                         "file (MIDI input and live play need a livedrum or thesis model)")
    if kind == "thesis":  # the seed thesis' network, as a baseline
        return without_pieces(load_thesis(path, device, thesis_temperature(args), args.seed), kit_off)
    net, ckpt = load_model(path, device)
    try:  # the model file's calibrated defaults (the user's values were checked above)
        calibrated = ckpt.get("sampling", {})
        sampling = wanted.with_(
            complexity=calibrated.get("complexity", 0.5) if args.complexity is None else args.complexity,
            bias=calibrated.get("bias", 0.0), consistency=calibrated.get("consistency", 0.0),
            piece_bias=tuple(calibrated.get("piece_bias", {}).items()), groove=calibrated.get("groove", "none"),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"model file {path} has damaged sampling settings ({exc})") from exc
    from livedrum.styles import styled

    drummer = ModelDrummer(net, sampling, args.seed, device, feel)
    drummer.styles = styled(net, path, preset.name if preset is not None else None)  # the genre's own weights
    drummer.fill_every = preset.fill_every if preset is not None else 0
    return drummer


def thesis_temperature(args: argparse.Namespace) -> float:
    """--complexity as the thesis networks' sampling temperature: 0.25 .. 1 (the thesis' range), default 1."""
    return 1.0 if args.complexity is None else 0.25 + 0.75 * check_number("--complexity", args.complexity, 0.0, 1.0)


def load_thesis(path: Path | str, device: str = "cpu", temperature: float = 1.0, seed: int = 0,
                wav: bool = False):  # noqa: ANN201
    """The thesis baseline's drummer (its MIDI network, or with `wav` its WAV network) from its checkpoint;
    ValueError in one line for a bad file."""
    if wav:
        from livedrum.thesis_wav import ThesisWavDrummer as Drummer
    else:
        from livedrum.thesis import ThesisDrummer as Drummer

    if not Path(path).is_file():
        raise ValueError(f"model file not found: {path}")
    try:
        return Drummer.load(path, device, temperature, seed)
    except ValueError:
        raise
    except Exception as exc:  # torch and the network raise many types for foreign or damaged files
        kind = "thesis-wav" if wav else "thesis"
        raise ValueError(f"not a usable {kind} model file: {path} ({type(exc).__name__})") from exc


def check_number(option: str, value: float, low: float, high: float) -> float:
    """A finite number within low..high, or ValueError naming the option."""
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{option} must be within {low:g}..{high:g}, got {value}")
    return value


def without_pieces(drummer, kit_off: frozenset[str]):  # noqa: ANN001, ANN201
    """A drummer whose notes of the switched-off kit pieces are dropped (for networks that
    cannot mask before sampling, like the thesis baseline)."""
    if not kit_off:
        return drummer

    def play(song):  # noqa: ANN001, ANN202
        return drop_pieces(drummer(song), kit_off)

    return play


def drop_pieces(notes, kit_off: frozenset[str]):  # noqa: ANN001, ANN201
    """The notes without those of the switched-off kit pieces."""
    import numpy as np

    from livedrum.vocab import kit_mask, voice_of

    if not kit_off:
        return notes
    mask = kit_mask(kit_off)
    keep = np.array([(v := voice_of(int(p))) is not None and bool(mask[v]) for p in notes.pitch], bool)
    return notes.take(keep)


# ---- accompany ---------------------------------------------------------------------------

def add_accompany(sub: argparse._SubParsersAction, epilog: str) -> None:
    p = _parser(sub, "accompany", "write a drum track for a song (MIDI or audio in, MIDI out)", epilog)
    p.add_argument("input", metavar="IN.mid|IN.wav",
                   help="the band: a type 0 or 1 MIDI file, or a recording (WAV, FLAC, OGG, AIFF)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mid")
    p.add_argument("--keep-drums", action="store_true", help="keep the input's own drum notes too")
    p.add_argument("--kit", default="gm", metavar="NAME",
                   help="kit map from presets/kits for the drum track's notes and channels (gm, superior-drummer-3, "
                        "ezdrummer-3, addictive-drums-2, ableton-drum-rack, roland-tr-8s) or a .toml path")
    p.add_argument("--render", default=None, metavar="MIX.wav",
                   help="also write song and drums as audio, the drums through a SoundFont (FluidSynth)")
    p.add_argument("--onset-method", default="specflux", metavar="NAME",
                   help="audio input: aubio onset method (specflux, hfc, complex, energy, ...)")
    _model_options(p)
    feel_options(p)
    p.set_defaults(func=run_accompany)


def run_accompany(args: argparse.Namespace) -> int:
    from livedrum.midifile import load_song, without_realtime
    from livedrum.midiwrite import write_accompaniment

    t0 = time.perf_counter()
    source = Path(args.input)
    mix = output_file(args.render, "--render") if args.render else None
    from livedrum.audio.accompany import is_audio_name
    from livedrum.kits import DEFAULT_KIT, load_kit

    kit = load_kit(args.kit)  # a bad map stops here, before any work
    if is_audio_name(source):
        if kit.name != DEFAULT_KIT:
            raise ValueError("--kit applies to MIDI input for now (the audio path writes General MIDI drums)")
        return run_accompany_audio(args, source, mix, t0)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {source}: {exc.strerror or exc}") from exc
    song = load_song(data, source.name)
    if len(song.band) == 0:
        raise ValueError(f"{source.name} has no band notes to play along with")
    out = output_file(args.output, "-o")
    drummer = make_drummer(args)
    drums = drummer(song)
    write_accompaniment(without_realtime(data), drums, out, keep_drums=args.keep_drums, kit=kit)
    bars = len(set(int(b) for b in song_bars(song)))
    print(f"wrote {args.output}: {len(drums)} drum notes over {bars} bars "
          f"({time.perf_counter() - t0:.1f} s)")
    if mix is not None:
        from livedrum.render import render_midi

        render_midi(out, mix)
        print(f"wrote {mix}: band and drums through the SoundFont")
    return 0


def run_accompany_audio(args: argparse.Namespace, source: Path, mix: Path | None, t0: float) -> int:
    """A recording in: beats tracked, the band heard on that grid, a MIDI drum track aligned to it."""
    import numpy as np

    from livedrum.audio.accompany import audio_grid, write_audio_accompaniment
    from livedrum.audio.onsets import ONSET_METHODS
    from livedrum.checkpoint import model_kind
    from livedrum.cli import default_model_path
    from livedrum.perform import ModelDrummer

    if args.onset_method not in ONSET_METHODS:
        raise ValueError(f"--onset-method {args.onset_method!r}: choose from {', '.join(ONSET_METHODS)}")
    out = output_file(args.output, "-o")
    if model_kind(Path(args.model) if args.model else default_model_path()) == "thesis-wav":
        return run_accompany_thesis_wav(args, source, out, mix, t0)
    drummer = make_drummer(args)
    if not isinstance(drummer, ModelDrummer):
        raise ValueError("the thesis network reads MIDI only: use a livedrum or thesis-wav model for audio input")
    grid = audio_grid(source, method=args.onset_method)
    drummer.sampling = drummer.sampling.for_audio()
    drums = drummer.play_grid(grid.grid)
    write_audio_accompaniment(grid, drums, out)
    bpm = 60.0 / float(np.median(np.diff(grid.beat_times[1:]))) if len(grid.beat_times) > 2 else 0.0
    print(f"wrote {args.output}: {len(drums)} drum notes over {grid.grid.n_beats} beats at about {bpm:.0f} BPM "
          f"({time.perf_counter() - t0:.1f} s)")
    if mix is not None:
        from livedrum.render import render_mix

        render_mix(source, out, mix)
        print(f"wrote {mix}: the recording with the drums through the SoundFont")
    return 0


def run_accompany_thesis_wav(args: argparse.Namespace, source: Path, out: Path, mix: Path | None, t0: float) -> int:
    """The seed thesis' WAV network on a recording: one drum event per onset, on the audio's tempo map."""
    from dataclasses import replace

    from livedrum.audio.accompany import audio_grid, write_audio_accompaniment
    from livedrum.audio.features import BeatTimes
    from livedrum.cli import default_model_path
    from livedrum.vocab import kit_mask

    if args.seed < 0:
        raise ValueError(f"--seed must be 0 or more, got {args.seed}")
    kit_off = frozenset(p.strip() for p in args.kit_off.split(",") if p.strip())
    kit_mask(kit_off)  # an unknown piece stops here, before any work
    device = resolve_device(args.device)
    if device == "cpu":
        import torch

        torch.set_num_threads(1)
    path = Path(args.model) if args.model else default_model_path()
    drummer = load_thesis(path, device, thesis_temperature(args), args.seed, wav=True)
    grid = audio_grid(source, method=args.onset_method)
    onsets = [o.time for o in grid.analyzer.onsets]
    seconds = drop_pieces(drummer.play(source, onsets), kit_off)
    timeline = BeatTimes(grid.beat_times)
    drums = replace(seconds, start=timeline.beat_at(seconds.start), end=timeline.beat_at(seconds.end))
    write_audio_accompaniment(grid, drums, out)
    print(f"wrote {args.output}: {len(drums)} drum notes at {len(onsets)} onsets, thesis-wav network "
          f"({time.perf_counter() - t0:.1f} s)")
    if mix is not None:
        from livedrum.render import render_mix

        render_mix(source, out, mix)
        print(f"wrote {mix}: the recording with the drums through the SoundFont")
    return 0


def output_file(name: str, option: str) -> Path:
    """Where a result goes: a file name (its folder is made when written), checked before the work."""
    path = Path(name)
    if not name or path.is_dir():
        raise ValueError(f"{option} {name!r}: wants a file name, not a folder")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{option} {name}: {parent} is a file, not a folder")
            break
    return path


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
    p.add_argument("--model", default="drumnet", choices=("drumnet", "thesis", "thesis-wav"),
                   help="which network: ours, or the seed thesis' MIDI or WAV baseline")
    p.add_argument("--wav-songs", type=int, default=200, metavar="N",
                   help="thesis-wav: training songs rendered to audio (validation: --val-songs, default 24)")
    p.add_argument("--wav-seconds", type=float, default=60.0, metavar="S",
                   help="thesis-wav: the first S seconds of each song are rendered")
    p.add_argument("--wav-cache", default="cache/audio-train", metavar="DIR",
                   help="thesis-wav: where the rendered songs are kept (reused by the next run)")
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
    check_train_options(args, cfg)
    if args.model == "thesis":
        from livedrum.training_jobs import train_thesis_job

        return train_thesis_job(args, cfg)
    if args.model == "thesis-wav":
        from livedrum.training_jobs import train_thesis_wav_job

        return train_thesis_wav_job(args, cfg)
    from livedrum.train import distributed

    rank, _ = distributed()
    records = load_dataset(args, cfg.cache, build_it=rank == 0)
    from livedrum.training_jobs import train_drumnet_job

    return train_drumnet_job(args, cfg, records)


def check_train_options(args: argparse.Namespace, cfg) -> None:  # noqa: ANN001
    """Every number of the recipe within what trains, the device and folders usable: before any work."""
    import torch

    m = cfg.model
    at_least = {"--epochs": (cfg.epochs, 1), "--streams": (cfg.streams, 1), "--chunk-beats": (cfg.chunk_beats, 1),
                "--plateau-patience": (cfg.plateau_patience, 0), "--early-stop": (cfg.early_stop, 1),
                "--max-batches": (cfg.max_batches, 0), "--val-songs": (cfg.val_songs, 0),
                "--threads": (cfg.threads, 0), "--enc-hidden": (m.enc_hidden, 1), "--enc-layers": (m.enc_layers, 1),
                "--dec-hidden": (m.dec_hidden, 1), "--workers": (args.workers or 0, 0),
                "--calibrate-songs": (args.calibrate_songs, 0), "--selector-templates": (m.selector_templates, 0),
                "--selector-hidden": (m.selector_hidden, 1), "--wav-songs": (args.wav_songs, 1)}
    for option, (value, low) in at_least.items():
        if value < low:
            raise ValueError(f"{option} must be at least {low}, got {value}")
    for option, value in (("--lr", cfg.lr), ("--clip", cfg.clip), ("--hours-cap", cfg.hours_cap),
                          ("--eval-weight", cfg.eval_weight), ("--wav-seconds", args.wav_seconds)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{option} must be a number above 0, got {value}")
    if not (math.isfinite(cfg.weight_decay) and cfg.weight_decay >= 0):
        raise ValueError(f"--weight-decay must be a number 0 or above, got {cfg.weight_decay}")
    for option, value in (("--dropout", m.dropout), ("--feedback-dropout", m.feedback_dropout),
                          ("--lag-dropout", m.lag_dropout), ("--lag-seed", m.lag_seed)):
        check_number(option, value, 0.0, 1.0)
    try:
        device = torch.device(cfg.device)
    except RuntimeError:
        raise ValueError(f"--device {cfg.device!r}: not a device (cpu, cuda, cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {cfg.device}: no CUDA GPU is available here (use --device cpu)")
    for option, folder in (("--out", cfg.out), ("--cache", cfg.cache)):
        if Path(folder).exists() and not Path(folder).is_dir():
            raise ValueError(f"{option} {folder}: is a file, not a folder")


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
        summary = build(sources, Path(cache), workers=args.workers or os.cpu_count() or 1)
        if summary.n_songs == 0:
            files = "file" if summary.n_files == 1 else "files"
            raise ValueError(f"nothing to train on: none of the {summary.n_files} MIDI {files} has both band "
                             "and drums (the reasons are listed above)")
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
    from livedrum.evaluate import MIN_DRUM_HITS, evaluate

    if args.limit < 0:
        raise ValueError(f"--limit must be 0 (all songs) or more, got {args.limit}")
    json_out = None if args.json in (None, "-") else output_file(args.json, "--json")
    plot_out = None if args.plot is None else output_file(args.plot, "--plot")
    drummers: dict = {}
    if not args.no_model:
        drummers["livedrum"] = make_drummer(args)
    if args.thesis:
        drummers["thesis"] = load_thesis(args.thesis, seed=args.seed)
    drummers["fixed rock beat"] = fixed_rock_beat
    drummers["onset mirror"] = onset_mirror
    split = args.split or ("all" if args.paths else "validation")
    songs = list(eval_songs(args, split))
    if not songs:
        raise ValueError("nothing to evaluate: no readable song (the reasons are listed above)")
    report = evaluate(songs, drummers, progress=sys.stderr.isatty())
    if not report.songs:
        raise ValueError(f"nothing could be scored: none of the {len(songs)} songs has {MIN_DRUM_HITS} "
                         "or more real drum hits to compare with")
    if args.json == "-":
        print(json.dumps(report.to_json(), indent=1))
    else:
        print(report.format_table())
    try:
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(report.to_json(), indent=1))
        if plot_out is not None:
            plot_out.parent.mkdir(parents=True, exist_ok=True)
            report.plot(plot_out)
    except OSError as exc:
        raise ValueError(f"cannot write {exc.filename or json_out or plot_out}: {exc.strerror or exc}") from exc
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
            if isinstance(data, OSError):
                raise ValueError(f"cannot read the file: {data.strerror or data}")
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
    """(source, bytes) for loose files and archive members alike, one pass per archive; a loose
    file that cannot be read comes with its OSError instead of bytes."""
    from livedrum.corpus import iter_archive

    archives: dict[Path, dict] = {}
    for s in sources:
        if s.member is None:
            try:
                data: bytes | OSError = s.path.read_bytes()
            except OSError as exc:
                data = exc
            yield s, data
        else:
            archives.setdefault(s.path, {})[s.label] = s
    for path, members in archives.items():
        yield from iter_archive(path, members)
