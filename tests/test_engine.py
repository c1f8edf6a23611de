"""The streaming engine: window by window equals one continuous pass; seeds; devices."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from livedrum.batches import train_song
from livedrum.checkpoint import load_model
from livedrum.engine import Engine
from livedrum.features import song_arrays
from livedrum.midifile import load_song
from livedrum.perform import perform, song_grid
from livedrum.sampler import Sampling


def _windows(net, song, sampling: Sampling, seed: int = 3, device: str = "cpu"):  # noqa: ANN001
    return perform(song_grid(song), Engine(net, sampling, seed, device))


def test_window_by_window_equals_one_continuous_pass(tiny_model, band_song) -> None:  # noqa: ANN001
    net, _ = load_model(tiny_model)
    song = load_song(band_song)
    windows = _windows(net, song, Sampling(complexity=0.8))
    played = np.concatenate([w.hits for w in windows]).astype(np.float32)  # (T, V)
    streamed = np.concatenate([w.logit for w in windows])
    arrays = song_arrays(song)
    T = len(played)
    prev = np.zeros_like(played)
    prev[1:] = played[:-1]

    def t(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x[:T], dtype=np.float32))[None]

    # what the engine heard one bar earlier: the band, and the drums it played itself
    as_played = dataclasses.replace(arrays, hits=played[:, :] > 0.5)
    lag = train_song("s", "c", as_played).lag
    with torch.no_grad():
        logit, _, _, _ = net(t(arrays.band), t(arrays.position), t(lag), t(prev), net.zero_state(1))
    assert played.sum() > 0
    np.testing.assert_allclose(streamed, logit[0].numpy(), atol=1e-4)


def test_same_seed_same_drums_other_seed_other_drums(tiny_model, band_song) -> None:  # noqa: ANN001
    net, _ = load_model(tiny_model)
    song = load_song(band_song)
    s = Sampling(complexity=0.9)
    a = np.stack([w.hits for w in _windows(net, song, s, seed=1)])
    b = np.stack([w.hits for w in _windows(net, song, s, seed=1)])
    c = np.stack([w.hits for w in _windows(net, song, s, seed=2)])
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_reset_starts_the_song_again(tiny_model, band_song) -> None:  # noqa: ANN001
    net, _ = load_model(tiny_model)
    grid = song_grid(load_song(band_song))
    engine = Engine(net, Sampling(complexity=0.7), seed=5)
    first = [w.hits for w in perform(grid, engine)]
    engine.reset()
    again = [w.hits for w in perform(grid, engine)]
    assert all(np.array_equal(x, y) for x, y in zip(first, again))


def test_at_most_four_limbs_and_kit_mask(tiny_model, band_song) -> None:  # noqa: ANN001
    net, _ = load_model(tiny_model)
    song = load_song(band_song)
    windows = _windows(net, song, Sampling(complexity=1.0, bias=4.0, kit_off=frozenset({"hihat"})))
    hits = np.concatenate([w.hits for w in windows])
    assert hits.sum(axis=1).max() == 4  # busy enough to hit the limit, never over it
    from livedrum.vocab import piece_voices

    assert hits[:, piece_voices("hihat")].sum() == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
def test_cuda_gives_the_cpu_drums(tiny_model, band_song) -> None:  # noqa: ANN001
    net, _ = load_model(tiny_model)
    song = load_song(band_song)
    s = Sampling(complexity=0.6)
    cpu = np.stack([w.hits for w in _windows(net, song, s)])
    net_gpu, _ = load_model(tiny_model, "cuda")
    gpu = np.stack([w.hits for w in _windows(net_gpu, song, s, device="cuda")])
    assert (cpu != gpu).mean() < 1e-3  # float tolerance may flip a hit balanced on its threshold


def test_seed_groove_stands_in_for_a_bar_the_drummer_did_not_play(tiny_model, band_song) -> None:  # noqa: ANN001
    from livedrum.groove import seed_groove

    net, _ = load_model(tiny_model)
    grid = song_grid(load_song(band_song))
    S, Fb = grid.band.shape[0] // grid.n_beats, net.cfg.band_features
    quiet = Sampling(complexity=0.0, bias=-30.0)  # a drummer that never hits
    for groove in ("rock", "none"):
        engine = Engine(net, quiet.with_(groove=groove), seed=1)
        before = engine.last_bar(grid.position[:S], 4)
        assert not before[:, Fb:].any()  # nothing heard yet: no groove before the band plays
        engine.play(grid.position[:S], 4)
        engine.hear(grid.band[:S], grid.position[:S])
        lag = engine.last_bar(grid.position[S : 2 * S], 4)
        if groove == "rock":
            assert np.array_equal(lag[:, Fb:-1], seed_groove("rock", grid.position[S : 2 * S]))
            assert (lag[:, -1] == 1).all()
        else:
            assert not lag[:, Fb:].any()
