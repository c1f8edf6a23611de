"""Style-conditioned playing: per-genre decoder weights (models/styles) change how the drums play,
load only when they fit the model, switch live between windows, and fail in one clear line."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from livedrum.batches import TrainSong
from livedrum.checkpoint import load_model
from livedrum.cli import default_model_path, main
from livedrum.engine import Engine
from livedrum.midifile import load_song
from livedrum.perform import perform, song_grid
from livedrum.sampler import Sampling
from livedrum.style_tune import enough, hold_out, holdout_order, style_sets
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
    engine.styles = StyleBank.load(net, STYLE_DIR, [s for s in STYLES if s != "blues"])  # blues: base weights
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
    style = next(s for s in reversed(TUNED_STYLES) if s != "blues")
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
    controller.preset("blues")
    beats(4)  # a preset without weights in the bank: back to the base's
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


# ---- validation sets for styles with few validation songs (style_tune.hold_out) ------------------

def _loop(song_id: str) -> TrainSong:
    """A labelled loop as the tuner sees it; hold-out and pooling look at the song id only."""
    return TrainSong(song_id, "casio", None, np.zeros((0, 1)))  # type: ignore[arg-type]


def _ids(songs: list[TrainSong]) -> set[str]:
    return {s.song_id for s in songs}


def test_hold_out_makes_up_validation_from_whole_training_songs_never_trained_on() -> None:
    rng = np.random.default_rng(0)
    for trial in range(200):
        n_train, n_val = int(rng.integers(0, 12)), int(rng.integers(0, 5))
        # song i has 1 to 3 files (alternative transcriptions share the song id)
        train = [_loop(f"t{trial}/{i}") for i in range(n_train) for _ in range(int(rng.integers(1, 4)))]
        val = [_loop(f"v{trial}/{i}") for i in range(n_val)]
        kept, made, held = hold_out(train, val, min_songs=3)
        assert not _ids(kept) & _ids(made)  # a held-out song is never trained on, not one of its files
        assert sorted(map(id, kept + made)) == sorted(map(id, train + val))  # every file on exactly one side
        assert all(s in made for s in val)  # the project's validation songs stay validation songs
        assert set(held) == _ids(made) - _ids(val)
        if n_val >= 3:
            assert not held
        else:  # made up to 3 songs, or as many as there are
            assert len(_ids(made)) == min(3, n_val + len(_ids(train)))


def test_hold_out_keeps_the_alternative_files_of_a_song_together() -> None:
    train = [_loop(f"yamaha-styles/song{i}") for i in range(10) for _ in range(3)]  # 3 files per song
    kept, made, held = hold_out(train, [], min_songs=3)
    assert len(held) == 3 and len(made) == 9 and len(kept) == 21
    for sid in held:
        assert sum(s.song_id == sid for s in made) == 3


def test_hold_out_is_the_same_whatever_order_the_files_come_in() -> None:
    train = [_loop(f"casio/styles/{name}") for name in ("hiphop", "urban", "triphop", "garage1", "garage2",
                                                        "ushiphop", "newrb", "classichiphop")]
    first = hold_out(train, [_loop("casio/styles/hiphoppop")], min_songs=3)[2]
    rng = np.random.default_rng(1)
    for _ in range(20):
        order = [train[i] for i in rng.permutation(len(train))]
        assert hold_out(order, [_loop("casio/styles/hiphoppop")], min_songs=3)[2] == first
    assert holdout_order([s.song_id for s in train]) == holdout_order([s.song_id for s in reversed(train)])
    assert len(first) == 2


def test_style_sets_leave_the_test_split_and_full_validation_sets_alone() -> None:
    songs = {s: {} for s in STYLES}
    songs["rock"] = {"train": [_loop(f"r{i}") for i in range(10)], "validation": [_loop(f"rv{i}") for i in range(3)],
                     "test": [_loop("rt")]}
    sets = style_sets(songs, "rock")
    assert sets.train == songs["rock"]["train"] and sets.validation == songs["rock"]["validation"]
    assert sets.test == songs["rock"]["test"] and not sets.held_out and sets.policy.startswith("project split")


def test_a_pooled_style_never_trains_on_its_own_or_the_pools_validation_or_test_songs() -> None:
    songs = {s: {} for s in STYLES}
    songs["blues"] = {"train": [_loop(f"b{i}") for i in range(5)], "test": [_loop("bt")]}
    songs["shuffle"] = {"train": [_loop(f"s{i}") for i in range(14)] + [_loop("s0")], "test": [_loop("st")]}
    blues, shuffle = style_sets(songs, "blues"), style_sets(songs, "shuffle")
    assert len(_ids(blues.validation)) == 3 and _ids(blues.validation) <= {f"b{i}" for i in range(5)}
    assert not _ids(blues.train) & (_ids(blues.validation) | _ids(shuffle.validation) | {"bt", "st"})
    assert _ids(blues.train) == (_ids(songs["blues"]["train"]) - _ids(blues.validation)) | _ids(shuffle.train)
    assert blues.pooled == {"shuffle": len(shuffle.train)} and "held out" in blues.policy
    assert enough(blues) and enough(shuffle)
