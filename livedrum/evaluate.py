"""The report behind `livedrum eval`: drummers play songs without their drums, scored against the real ones.

A drummer is any callable that takes a Song with its drums removed and returns drum Notes in
beats: a baseline, a trained model behind the engine, or an oracle in a test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from livedrum.baselines import BASELINES
from livedrum.metrics import CLASS_NAMES, SongScores, drum_note_count, score_song
from livedrum.song import Notes, Song

MIN_DRUM_HITS = 16  # fewer real drum hits than this: nothing to compare with, the song is skipped
Drummer = Callable[[Song], Notes]


def without_drums(song: Song) -> Song:
    """A copy of the song with empty drums and its own band arrays, so no drummer can peek or spoil."""
    band = Notes(*(getattr(song.band, f.name).copy() for f in dataclasses.fields(Notes)))
    return dataclasses.replace(
        song, band=band, drums=Notes.empty(), tempos=list(song.tempos),
        time_signatures=list(song.time_signatures),
    )


@dataclass(frozen=True)
class SongRow:
    """One drummer on one song."""

    song: str
    drummer: str
    scores: SongScores


@dataclass(frozen=True)
class Failure:
    """A drummer that raised ValueError on a song (recorded, not fatal)."""

    song: str
    drummer: str
    reason: str


@dataclass(frozen=True)
class DrummerMeans:
    """One drummer over every song it played.

    F1 means are over songs (a class only over the songs where it is not None); density is
    pooled, total generated over total real notes, so that a song with a sparse real part
    cannot dominate it as it would a mean of ratios.
    """

    mean_f1: float | None
    f1: dict[str, float | None]
    overlap: float | None
    density: float | None
    songs: int
    failed: int


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _fmt(value: float | None, width: int = 7) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.3f}"


def source_of(song: str) -> str:
    """The collection a song's label names: its first folder ("touhou.tar.xz:touhou/..." -> "touhou");
    "" for a label without one."""
    if "/" not in song:
        return ""
    return song.split("/", 1)[0].rsplit(":", 1)[-1]


@dataclass
class Report:
    """Per-song scores of every drummer, their means, and what was skipped."""

    drummers: list[str]
    baselines: list[str] = field(default_factory=list)  # drummers that are the baselines' functions
    songs: list[str] = field(default_factory=list)  # scored songs, in order
    rows: list[SongRow] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # songs with fewer than MIN_DRUM_HITS real hits

    def means(self) -> dict[str, DrummerMeans]:
        out = {}
        for name in self.drummers:
            scores = [r.scores for r in self.rows if r.drummer == name]
            n_ref = sum(s.ref_notes for s in scores)
            out[name] = DrummerMeans(
                mean_f1=_mean(s.mean_f1 for s in scores),
                f1={c: _mean(s.f1[c] for s in scores) for c in CLASS_NAMES},
                overlap=_mean(s.overlap for s in scores),
                density=sum(s.est_notes for s in scores) / n_ref if n_ref else None,
                songs=len(scores),
                failed=sum(f.drummer == name for f in self.failures),
            )
        return out

    def by_source(self) -> dict[str, dict]:
        """Per source (source_of), its number of scored songs and each drummer's mean F1 there: a
        drummer can win overall on one collection's grooves and lose on every other source."""
        out: dict[str, dict] = {}
        for source in sorted({source_of(song) for song in self.songs}):
            songs = {song for song in self.songs if source_of(song) == source}
            out[source] = {"songs": len(songs), "mean_f1": {
                name: _mean(r.scores.mean_f1 for r in self.rows if r.drummer == name and r.song in songs)
                for name in self.drummers}}
        return out

    def best_baseline(self) -> tuple[str, float] | None:
        """(name, mean F1) of the better baseline in this report, or None if none was run."""
        means = self.means()
        scored = [(n, means[n].mean_f1) for n in self.baselines if n in means]
        scored = [(n, f) for n, f in scored if f is not None]
        return max(scored, key=lambda nf: nf[1]) if scored else None

    def format_table(self) -> str:
        """A plain-text table for the terminal, one line per drummer."""
        means = self.means()
        best = self.best_baseline()
        width = max([len("drummer"), *(len(n) for n in self.drummers)])
        head = f"{'drummer':<{width}}  songs failed {'F1':>7}" + "".join(f" {c:>7}" for c in CLASS_NAMES)
        head += f" {'overlap':>7} {'density':>7}"
        if best:
            head += f" {'F1/base':>7}"
        lines = [
            f"{len(self.songs)} songs scored, {len(self.skipped)} skipped "
            f"(fewer than {MIN_DRUM_HITS} real drum hits); hit F1 at +-1/8 beat",
            head,
            "-" * len(head),
        ]
        for name in self.drummers:
            m = means[name]
            line = f"{name:<{width}}  {m.songs:>5} {m.failed:>6} {_fmt(m.mean_f1)}"
            line += "".join(f" {_fmt(m.f1[c])}" for c in CLASS_NAMES)
            line += f" {_fmt(m.overlap)} {_fmt(m.density)}"
            if best:
                ratio = None if m.mean_f1 is None or best[1] == 0 else m.mean_f1 / best[1]
                line += f" {_fmt(ratio)}"
            lines.append(line)
        if best:
            lines.append(f"F1/base: mean F1 over that of the better baseline ({best[0]}, {best[1]:.3f})")
        sources = self.by_source()
        if len(sources) > 1:
            lines += ["", "mean F1 by source:", self._source_table(sources)]
        return "\n".join(lines)

    def _source_table(self, sources: dict[str, dict]) -> str:
        width = max(len("source"), *(len(s) for s in sources))
        cols = [max(7, len(name)) for name in self.drummers]
        lines = [f"{'source':<{width}}  songs" + "".join(f" {n:>{w}}" for n, w in zip(self.drummers, cols))]
        for source, fig in sources.items():
            lines.append(f"{source:<{width}}  {fig['songs']:>5}" + "".join(
                f" {_fmt(fig['mean_f1'][n], w)}" for n, w in zip(self.drummers, cols)))
        return "\n".join(lines)

    def to_json(self) -> dict:
        """Everything in the report as plain JSON types (None for undefined values)."""
        best = self.best_baseline()
        return {
            "songs": self.songs,
            "skipped": list(self.skipped),
            "min_drum_hits": MIN_DRUM_HITS,
            "best_baseline": None if best is None else {"name": best[0], "mean_f1": best[1]},
            "drummers": {name: dataclasses.asdict(m) for name, m in self.means().items()},
            "by_source": self.by_source(),
            "rows": [
                {"song": r.song, "drummer": r.drummer, **dataclasses.asdict(r.scores)} for r in self.rows
            ],
            "failures": [dataclasses.asdict(f) for f in self.failures],
        }

    def plot(self, path: str | Path) -> None:
        """A PNG: per-drummer bars (F1 per class, mean F1, overlap, density) and per-song F1."""
        from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

        means = self.means()
        metrics = [*CLASS_NAMES, "mean F1", "overlap", "density"]
        fig = Figure(figsize=(12, 4.5), layout="constrained")
        bars, spread = fig.subplots(1, 2, width_ratios=[2, 1])
        x = np.arange(len(metrics))
        width = 0.8 / max(1, len(self.drummers))
        for i, name in enumerate(self.drummers):
            m = means[name]
            values = [*(m.f1[c] for c in CLASS_NAMES), m.mean_f1, m.overlap, m.density]
            bars.bar(x + (i - (len(self.drummers) - 1) / 2) * width,
                     [np.nan if v is None else v for v in values], width, label=name)
        bars.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
        bars.set_xticks(x, metrics)
        bars.set_title(f"means over {len(self.songs)} songs (density: generated / real notes)")
        bars.legend(fontsize="small")
        per_song = [[r.scores.mean_f1 for r in self.rows if r.drummer == n and r.scores.mean_f1 is not None]
                    for n in self.drummers]
        spread.boxplot([v or [np.nan] for v in per_song], showfliers=False)
        jitter = np.random.default_rng(0)
        for i, values in enumerate(per_song, start=1):
            x_jit = i + jitter.uniform(-0.15, 0.15, len(values))
            spread.scatter(x_jit, values, s=8, alpha=0.6, color=f"C{i - 1}")
        spread.set_xticks(np.arange(1, len(self.drummers) + 1), self.drummers, rotation=20)
        spread.set_ylim(0, 1.02)
        spread.set_title("hit F1 per song")
        fig.savefig(path, dpi=100)


def evaluate(songs: Iterable[Song], drummers: dict[str, Drummer], progress: bool = True) -> Report:
    """Let every drummer play every song that has real drums, and score it against them.

    A drummer gets the song without its drums (`without_drums`). ValueError from a drummer is
    recorded as a failure for that song; any other exception is a bug and propagates. Drummers
    that are the functions of `baselines.BASELINES` (under any name) are the report's baselines.
    """
    baselines = list(BASELINES.values())
    report = Report(drummers=list(drummers), baselines=[n for n, d in drummers.items() if d in baselines])
    for song in tqdm(songs, desc="eval", unit="song", disable=not progress):
        if drum_note_count(song.drums) < MIN_DRUM_HITS:
            report.skipped.append(song.name)
            continue
        report.songs.append(song.name)
        for name, drummer in drummers.items():
            try:
                est = drummer(without_drums(song))
            except ValueError as exc:
                report.failures.append(Failure(song.name, name, str(exc)))
                continue
            report.rows.append(SongRow(song.name, name, score_song(song.drums, est, song.time_signatures)))
    return report
