"""Turn the corpus into training arrays once: parse in parallel, keep shards on disk, summarise.

Parsing thousands of MIDI files takes minutes, so the arrays are cached per split in
`<cache>/<split>/shard-NNN.npz` with a manifest keyed on the sources and the feature layout;
a build with nothing changed returns at once. Archives are read front to back, one pass each,
because random access to a .tar.xz member decompresses everything before it.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from livedrum import features
from livedrum.corpus import SPLITS, SourceFile, duplicates, iter_archive, split_of
from livedrum.features import SongArrays, song_arrays
from livedrum.grid import STEPS_PER_BEAT
from livedrum.midifile import load_song
from livedrum.vocab import N_VOICES, voice_of

FEATURE_VERSION = 1  # bump when song_arrays changes meaning, so caches rebuild
MIN_DRUM_HITS = 16
MIN_BEATS = 8
SONGS_PER_SHARD = 200
SHARD_BYTES = 256 * 2**20  # long songs: a smaller shard, so the builder's memory stays bounded
FLOAT_KEYS = ("band", "position", "velocity", "offset")  # stored as float16
MANIFEST = "manifest.json"
START_METHOD: str | None = None  # the platform's default; workers only get picklable data, so "spawn" works


@dataclass
class SongRecord:
    song_id: str
    collection: str
    label: str
    arrays: SongArrays
    bpm: float = 120.0  # mean tempo: beats over seconds


@dataclass
class Summary:
    """What a build holds: songs and hours per split and collection, and why files were skipped."""

    n_files: int = 0
    songs: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> collection -> songs
    hours: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> files

    @property
    def n_songs(self) -> int:
        return sum(sum(c.values()) for c in self.songs.values())

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())

    def add_song(self, split: str, collection: str, seconds: float) -> None:
        self.songs.setdefault(split, {}).setdefault(collection, 0)
        self.songs[split][collection] += 1
        self.hours.setdefault(split, {}).setdefault(collection, 0.0)
        self.hours[split][collection] += seconds / 3600.0

    def format(self) -> str:
        """A table of songs / hours per collection and split, then the skips by reason."""
        collections = sorted({c for per in self.songs.values() for c in per})
        cols = [*SPLITS, "all"]
        lines = [f"{self.n_songs} songs, {self._hours():.1f} h from {self.n_files} files",
                 f"{'':<16}" + "".join(f"{c:>17}" for c in cols),
                 f"{'collection':<16}" + "  songs    hours" * len(cols)]
        for name in [*collections, "all"]:
            cells = [self._cell(split, name) for split in cols]
            lines.append(f"{name:<16}" + "".join(f"{n:>7}{h:>10.1f}" for n, h in cells))
        lines.append(self._format_skips())
        return "\n".join(lines)

    def _cell(self, split: str, collection: str) -> tuple[int, float]:
        splits = SPLITS if split == "all" else (split,)
        songs = hours = 0.0
        for s in splits:
            per_s, per_h = self.songs.get(s, {}), self.hours.get(s, {})
            names = per_s if collection == "all" else [collection]
            songs += sum(per_s.get(n, 0) for n in names)
            hours += sum(per_h.get(n, 0.0) for n in names)
        return int(songs), hours

    def _hours(self) -> float:
        return sum(sum(c.values()) for c in self.hours.values())

    def _format_skips(self) -> str:
        if not self.skipped:
            return "skipped no files"
        groups: dict[str, Counter[str]] = {}
        for reason, n in self.skipped.items():
            head, _, detail = reason.partition(": ")
            groups.setdefault(head, Counter())[detail] += n
        parts = []
        for head, details in sorted(groups.items(), key=lambda kv: (-kv[1].total(), kv[0])):
            text = f"{details.total()} {head}"
            named = [(d, n) for d, n in details.most_common() if d]
            if named:
                shown = ", ".join(f"{n} {d}" for d, n in named[:4])
                text += f" ({shown}{', ...' if len(named) > 4 else ''})"
            parts.append(text)
        files = "file" if self.n_skipped == 1 else "files"
        return f"skipped {self.n_skipped} {files}: " + ", ".join(parts)


def build(
    sources: list[SourceFile],
    cache_dir: Path,
    workers: int | None = None,
    progress: bool = True,
) -> Summary:
    """Parse every source into arrays, in `workers` processes, and cache them by split.

    Returns at once with the stored summary when the cache matches the sources and the feature
    layout. Of byte-identical files (same `digest`) only the first is kept. With `progress`, shows
    a progress bar and prints the summary.
    """
    cache_dir = Path(cache_dir)
    key = cache_key(sources)
    manifest = _read_manifest(cache_dir)
    if manifest is not None and manifest.get("key") == key:
        summary = Summary(**manifest["summary"])
        if progress:
            print(f"dataset cache {cache_dir} is up to date\n{summary.format()}")
        return summary
    (cache_dir / MANIFEST).unlink(missing_ok=True)  # a half-replaced cache must never look valid
    staging = cache_dir / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    dropped = duplicates(sources)
    kept = [s for s in sources if s.label not in dropped]
    summary = Summary(n_files=len(sources))
    if dropped:
        summary.skipped["duplicate (identical bytes)"] = len(dropped)
    skipped_files = [(label, f"duplicate of {orig}") for label, orig in dropped.items()]
    writers = {split: _ShardWriter(staging / split) for split in SPLITS}
    bar = tqdm(total=len(kept), unit="file", desc="parsing MIDI", disable=not progress)
    for source, payload, reason in _run(kept, workers or os.cpu_count() or 1):
        bar.update()
        if payload is None:
            summary.skipped[reason] = summary.skipped.get(reason, 0) + 1
            skipped_files.append((source.label, reason))
            continue
        split = split_of(source.song_id)
        writers[split].add(source, payload)
        summary.add_song(split, source.collection, float(payload["seconds"]))
    bar.close()
    shards = {split: writer.close() for split, writer in writers.items()}
    for split in SPLITS:
        shutil.rmtree(cache_dir / split, ignore_errors=True)
        (staging / split).rename(cache_dir / split)
    shutil.rmtree(staging, ignore_errors=True)
    lines = "".join(f"{label}\t{reason}\n" for label, reason in sorted(skipped_files))
    _write_atomic(cache_dir / "skipped.tsv", lines)
    manifest = {"key": key, "feature_version": FEATURE_VERSION, "created": time.time(),
                "summary": asdict(summary), "shards": shards}
    _write_atomic(cache_dir / MANIFEST, json.dumps(manifest, indent=1))
    if progress:
        print(summary.format())
    return summary


def load_split(cache_dir: Path, split: str, dtype: type = np.float32) -> list[SongRecord]:
    """The songs of one split, sorted by label; per-song arrays are views into their shard.

    Floats come back as `dtype`: float32 converts each shard once, float16 returns the stored
    arrays unconverted (half the memory).
    """
    cache_dir = Path(cache_dir)
    manifest = _read_manifest(cache_dir)
    if manifest is None:
        raise ValueError(f"no built dataset in {cache_dir}: run the build first")
    if split not in manifest["shards"]:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(manifest['shards'])})")
    records = []
    for name in manifest["shards"][split]:
        with np.load(cache_dir / split / name) as shard:
            data = {key: shard[key] for key in shard.files}
        for key in FLOAT_KEYS:
            data[key] = data[key].astype(dtype, copy=False)
        steps, beats = data["step_offsets"], data["beat_offsets"]
        for i in range(len(data["label"])):
            s, b = slice(steps[i], steps[i + 1]), slice(beats[i], beats[i + 1])
            arrays = SongArrays(
                band=data["band"][s], position=data["position"][s], hits=data["hits"][s],
                velocity=data["velocity"][s], offset=data["offset"][s],
                bar=data["bar"][b], beat_in_bar=data["beat_in_bar"][b],
            )
            seconds = float(data["seconds"][i])
            bpm = 60.0 * float(data["n_beats"][i]) / seconds if seconds > 0 else 120.0
            records.append(SongRecord(str(data["song_id"][i]), str(data["collection"][i]),
                                      str(data["label"][i]), arrays, bpm))
    return sorted(records, key=lambda r: r.label)


def cache_key(sources: Iterable[SourceFile]) -> str:
    """A hash of what the cache depends on: the sources (labels, ids, contents, sizes, mtimes), the layout."""
    digest = hashlib.sha256()
    layout = [FEATURE_VERSION, features.BAND_FEATURES, features.POSITION_FEATURES, N_VOICES,
              STEPS_PER_BEAT, MIN_DRUM_HITS, MIN_BEATS]
    digest.update(json.dumps(layout).encode())
    stats: dict[Path, str] = {}
    for src in sources:
        if src.path not in stats:
            try:
                st = src.path.stat()
                stats[src.path] = f"{st.st_size}\t{st.st_mtime_ns}"
            except OSError:
                stats[src.path] = "missing"  # reported as unreadable by the build
        line = f"{src.label}\t{src.collection}\t{src.song_id}\t{src.digest}\t{stats[src.path]}\n"
        digest.update(line.encode())
    return digest.hexdigest()


def usable_song(data: bytes, label: str) -> tuple[dict[str, np.ndarray] | None, str]:
    """(compact arrays, "") for a song fit for training, else (None, a one-line reason)."""
    try:
        song = load_song(data, label)
    except ValueError as exc:
        return None, f"unreadable: {exc}"
    hits = sum(voice_of(int(p)) is not None for p in song.drums.pitch)
    if len(song.band) == 0:
        return None, "no band notes"
    if len(song.drums) == 0:
        return None, "no drums"
    if hits < MIN_DRUM_HITS:
        return None, f"too few drum hits (<{MIN_DRUM_HITS})"
    if song.length_beats < MIN_BEATS:
        return None, f"too short (<{MIN_BEATS} beats)"
    arrays = song_arrays(song)
    payload = {key: getattr(arrays, key).astype(np.float16) for key in FLOAT_KEYS}
    payload.update(hits=arrays.hits.astype(bool), bar=arrays.bar.astype(np.int32),
                   beat_in_bar=arrays.beat_in_bar.astype(np.int32),
                   seconds=np.float64(song.seconds_at(song.length_beats)))
    return payload, ""


# ---- parallel parsing --------------------------------------------------------------------------

Task = tuple[SourceFile, bytes | None, str]  # source, bytes (None: the worker reads it), archive error
Result = tuple[SourceFile, dict[str, np.ndarray] | None, str]  # source, arrays or None, skip reason


def _process(task: Task) -> Result:
    """Worker: one file to arrays or a skip reason; never raises, so no file stops the build."""
    source, data, error = task
    if error:
        return source, None, f"unreadable: {error}"
    try:
        payload, reason = usable_song(source.read_bytes() if data is None else data, source.label)
    except OSError as exc:
        return source, None, f"unreadable: cannot read file: {exc.strerror or type(exc).__name__}"
    except Exception as exc:  # a bug or a pathological file: skip it, say why
        text = str(exc).splitlines()[0] if str(exc) else ""
        return source, None, f"failed: {type(exc).__name__}: {text}"
    return source, payload, reason


def _tasks(sources: list[SourceFile]) -> Iterator[Task]:
    """Archive members first (each archive in one pass), then loose files (read by the workers)."""
    archives = sorted({s.path for s in sources if s.member is not None})
    for archive in archives:
        wanted = {s.label: s for s in sources if s.path == archive and s.member is not None}
        seen = set()
        try:
            for src, data in iter_archive(archive, wanted):
                seen.add(src.label)
                yield src, data, ""
        except Exception as exc:  # a truncated archive: what was read still counts
            reason = f"archive {archive.name} broken: {type(exc).__name__}"
            for label in sorted(set(wanted) - seen):
                yield wanted[label], None, reason
    for src in sources:
        if src.member is None:
            yield src, None, ""


def _run(sources: list[SourceFile], workers: int) -> Iterator[Result]:
    if workers <= 1:
        yield from map(_process, _tasks(sources))
        return
    context = multiprocessing.get_context(START_METHOD)
    with context.Pool(workers) as pool:
        yield from pool.imap_unordered(_process, _tasks(sources), chunksize=1)


# ---- shards ------------------------------------------------------------------------------------


class _ShardWriter:
    """Collects songs of one split and writes them SONGS_PER_SHARD (or SHARD_BYTES) at a time."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names: list[str] = []
        self.pending: list[tuple[SourceFile, dict[str, np.ndarray]]] = []
        self.bytes = 0

    def add(self, source: SourceFile, payload: dict[str, np.ndarray]) -> None:
        self.pending.append((source, payload))
        self.bytes += sum(a.nbytes for a in payload.values())
        if len(self.pending) >= SONGS_PER_SHARD or self.bytes >= SHARD_BYTES:
            self._flush()

    def close(self) -> list[str]:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.pending:
            self._flush()
        return self.names

    def _flush(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        songs = sorted(self.pending, key=lambda item: item[0].label)
        arrays = {key: np.concatenate([p[key] for _, p in songs])
                  for key in (*FLOAT_KEYS, "hits", "bar", "beat_in_bar")}
        steps = np.cumsum([0] + [len(p["hits"]) for _, p in songs], dtype=np.int64)
        beats = np.cumsum([0] + [len(p["bar"]) for _, p in songs], dtype=np.int64)
        name = f"shard-{len(self.names):03d}.npz"
        tmp = self.folder / f"{name}.tmp.npz"
        np.savez(
            tmp, **arrays, step_offsets=steps, beat_offsets=beats,
            song_id=np.array([s.song_id for s, _ in songs]),
            collection=np.array([s.collection for s, _ in songs]),
            label=np.array([s.label for s, _ in songs]),
            n_beats=np.array([len(p["bar"]) for _, p in songs], dtype=np.int64),
            seconds=np.array([float(p["seconds"]) for _, p in songs]),
        )
        os.replace(tmp, self.folder / name)
        self.names.append(name)
        self.pending, self.bytes = [], 0


def _read_manifest(cache_dir: Path) -> dict | None:
    try:
        return json.loads((cache_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
