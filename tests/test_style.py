"""Style-conditioned playing: per-genre decoder weights (models/styles) change how the drums play,
load only when they fit the model, switch live between windows, and fail in one clear line."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from livedrum.checkpoint import load_model
from livedrum.cli import default_model_path, main
from livedrum.engine import Engine
from livedrum.midifile import load_song
from livedrum.perform import perform, song_grid
from livedrum.sampler import Sampling
from livedrum.styles import STYLES, TUNED, StyleBank, genre_of, playing_stats, style_dir
from tests.conftest import write_band_song

SHIPPED = default_model_path()
STYLE_DIR = style_dir(SHIPPED)
TUNED_STYLES = sorted(p.stem for p in STYLE_DIR.glob("*.pt")) if STYLE_DIR.is_dir() else []
needs_styles = pytest.mark.skipif(len(TUNED_STYLES) < 2, reason="no shipped style files in models/styles")


@pytest.mark.parametrize(("label", "genre"), [
    ("casio/styles/Rock 1.mid", "rock"), ("casio/styles/Bossa Nova 2.mid", "latin"),
    ("casio/styles/Pop Shuffle 1.mid", "shuffle"), ("casio/styles/Hip-Hop.mid", "hiphop"),
    ("casio/styles/Slow Swing.mid", "jazz"), ("casio/styles/Blues.mid", "blues"),
    ("yamaha-styles.tar.xz:yamaha-styles/rhythms/Latin/BigBandMambo.S380.sst", "latin"),
    ("yamaha-styles.tar.xz:yamaha-styles/rhythms/Ballad/R&B.S588.prs", "ballad"),
    ("yamaha-styles.tar.xz:yamaha-styles/rhythms/Pop&Rock/UnchainMyHeart.sty", "pop"),
    ("yamaha-styles.tar.xz:yamaha-styles/rhythms/R&B/KoolFunk.STY", "funk"),
    ("yamaha-styles.tar.xz:yamaha-styles/rhythms/Swing&Jazz/JazzClub.S120.prs", "jazz"),
    ("casio/styles/Viennese Waltz.mid", None), ("casio/styles/Country 1.mid", None),
    ("casio/songs/Swing Low.mid", None), ("beatles/x/Yer_Blues.mid0", None),
])
def test_style_loops_are_labelled_by_name_and_folder(label: str, genre: str | None) -> None:
    assert genre_of(label) == genre


def _grid_hits(net: torch.nn.Module, band: Path, seed: int = 0) -> np.ndarray:
    """The drums the engine decides on the raw step grid (no feel, so swing is the weights' own), for
    the band part, at the presets' middle complexity."""
    sampling = Sampling(complexity=0.5, bias=1.8, groove="rock", humanize=0.0)
    windows = perform(song_grid(load_song(band)), Engine(net, sampling, seed))
    return np.concatenate([w.hits for w in windows])[4 * 12 :]  # after the first bar


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """The same 16-bar band part, drummed by the base weights and by every shipped style."""
    if len(TUNED_STYLES) < 2:
        pytest.skip("no shipped style files in models/styles")
    band = write_band_song(tmp_path_factory.mktemp("band") / "band.mid", bars=16, drums=False)
    net, _ = load_model(SHIPPED)
    bank = StyleBank.load(net, STYLE_DIR)
    out = {}
    for name in [None, *TUNED_STYLES]:
        bank.use(name)
        out[name or "base"] = _grid_hits(net, band)
    return out


@needs_styles
def test_shipped_style_files_are_small_weights_only_and_fit_the_model() -> None:
    net, _ = load_model(SHIPPED)
    total = 0
    for name in TUNED_STYLES:
        path = STYLE_DIR / f"{name}.pt"
        data = torch.load(path, map_location="cpu", weights_only=True)
        assert set(data["delta"]) == set(TUNED) and data["style"] == name
        assert path.stat().st_size < 400_000
        total += path.stat().st_size
    assert total < 10_000_000
    assert set(StyleBank.load(net, STYLE_DIR).styles) == set(TUNED_STYLES) <= set(STYLES)


@needs_styles
def test_every_style_plays_differently_from_the_base(played: dict[str, np.ndarray]) -> None:
    base = playing_stats(played["base"])
    for name in TUNED_STYLES:
        s = playing_stats(played[name])
        moved = np.abs(np.subtract(s["snare_slots"], base["snare_slots"])).sum()
        assert (abs(s["density"] - base["density"]) > 0.15 * base["density"] or moved > 0.2
                or abs(s["swing"] - base["swing"]) > 0.03), (name, s, base)


@needs_styles
def test_styles_differ_from_each_other_in_density_swing_or_snare(played: dict[str, np.ndarray]) -> None:
    stats = {name: playing_stats(played[name]) for name in TUNED_STYLES}
    for i, a in enumerate(TUNED_STYLES):
        for b in TUNED_STYLES[i + 1 :]:
            sa, sb = stats[a], stats[b]
            moved = np.abs(np.subtract(sa["snare_slots"], sb["snare_slots"])).sum()
            kit = np.abs(_voice_share(played[a]) - _voice_share(played[b])).sum()  # which drums play
            assert (abs(sa["density"] - sb["density"]) > 0.1 * max(sa["density"], sb["density"]) or moved > 0.2
                    or abs(sa["swing"] - sb["swing"]) > 0.03 or kit > 0.1), (a, b, sa, sb, kit)


def _voice_share(hits: np.ndarray) -> np.ndarray:
    return hits.sum(axis=0) / max(1, hits.sum())


@needs_styles
def test_a_style_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    band = write_band_song(tmp_path / "band.mid", bars=8, drums=False)
    net, _ = load_model(SHIPPED)
    bank = StyleBank.load(net, STYLE_DIR)
    bank.use(TUNED_STYLES[0])
    assert np.array_equal(_grid_hits(net, band, seed=3), _grid_hits(net, band, seed=3))


@needs_styles
def test_accompany_with_a_preset_uses_its_style_weights(tmp_path: Path, band_song: Path) -> None:
    alone = tmp_path / "alone"  # the shipped model without its style files: presets steer only
    alone.mkdir()
    shutil.copy(SHIPPED, alone / SHIPPED.name)
    style = TUNED_STYLES[0]
    outs = {}
    for where in (SHIPPED, alone / SHIPPED.name):
        out = tmp_path / f"{where.parent.name}.mid"
        assert main(["accompany", str(band_song), "-o", str(out), "--preset", style, "--model", str(where)]) == 0
        outs[where.parent.name] = load_song(out).drums
    a, b = outs.values()
    assert len(a) != len(b) or not np.array_equal(a.start, b.start)


@needs_styles
def test_live_switch_swaps_weights_at_the_bar_line_and_keeps_the_encoder_state() -> None:
    from livedrum.live.controller import Controller
    from livedrum.live.drummer import Drummer, RunConfig
    from livedrum.live.scheduler import Scheduler

    net, ckpt = load_model(SHIPPED)
    engine = Engine(net, Sampling(complexity=0.0, bias=1.8, groove="rock", humanize=0.0))
    engine.styles = StyleBank.load(net, STYLE_DIR)
    now = [0.0]
    drummer = Drummer(engine, RunConfig(bpm=120.0, mode="lead"), Scheduler(lambda m: None),
                      clock_source=lambda: now[0])
    controller = Controller(drummer, now=lambda: now[0])
    drummer.start(0.0, play_first=False)

    def beats(n: int) -> None:
        for _ in range(n):
            b = drummer.next_beat
            now[0] = drummer.clock.time_of(b - 0.05)
            drummer.step(b)

    beats(2)
    style = TUNED_STYLES[-1]
    head = dict(net.named_parameters())["decoder.head.weight"]
    before = head.detach().clone()
    controller.preset(style)
    beats(1)
    assert torch.equal(head, before)  # not yet: the bar is not over
    state = engine.state
    beats(2)  # the bar line: the style changes before its window is decided
    assert drummer.preset == style and engine.styles.current == style
    assert not torch.equal(head, before)
    assert engine.state is not state and engine.state[0].abs().sum() > 0  # heard on, never reset
    controller.preset("blues" if "blues" not in TUNED_STYLES else "rock")
    beats(4)
    if "blues" not in TUNED_STYLES:  # no blues weights: back to the base's
        assert torch.equal(head, engine.styles.base["decoder.head.weight"])


def _model_with_styles(tmp_path: Path, files: dict[str, bytes | Path]) -> Path:
    folder = tmp_path / "m"
    (folder / "styles").mkdir(parents=True)
    shutil.copy(SHIPPED, folder / SHIPPED.name)
    for name, content in files.items():
        target = folder / "styles" / f"{name}.pt"
        if isinstance(content, Path):
            shutil.copy(content, target)
        else:
            target.write_bytes(content)
    return folder / SHIPPED.name


@needs_styles
@pytest.mark.parametrize(("content", "reason"), [
    (b"not a model", "not a livedrum style file"),
    ("other-shape", "does not fit the model: decoder.head.weight"),
    ("other-base", "was tuned from another model"),
])
def test_a_bad_style_file_is_one_error_line(tmp_path: Path, band_song: Path, capsys, content, reason) -> None:  # noqa: ANN001
    if isinstance(content, str):
        data = torch.load(STYLE_DIR / f"{TUNED_STYLES[0]}.pt", weights_only=True)
        if content == "other-shape":
            data["delta"]["decoder.head.weight"] = torch.zeros(3, 3)
        else:
            data["base"] = "0" * 16
        path = tmp_path / "x.pt"
        torch.save(data, path)
        content = path
    model = _model_with_styles(tmp_path, {"rock": content})
    assert main(["accompany", str(band_song), "-o", str(tmp_path / "o.mid"), "--model", str(model),
                 "--preset", "rock"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and reason in err and "Traceback" not in err


@needs_styles
def test_a_preset_without_style_weights_says_so_and_plays_the_base(tmp_path: Path, band_song: Path, capsys) -> None:  # noqa: ANN001
    model = _model_with_styles(tmp_path, {TUNED_STYLES[0]: STYLE_DIR / f"{TUNED_STYLES[0]}.pt"})
    missing = next(s for s in STYLES if s != TUNED_STYLES[0])
    assert main(["accompany", str(band_song), "-o", str(tmp_path / "o.mid"), "--model", str(model),
                 "--preset", missing]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "style weights" in line]
    assert len(err) == 1 and f"preset {missing}: no style weights" in err[0]
