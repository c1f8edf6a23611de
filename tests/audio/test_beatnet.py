"""The beat network: its input, its file, its training on a rendered song, and the tracker on its output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from livedrum.audio.accompany import audio_grid, find_beats
from livedrum.audio.beatnet import (
    FRAME_HOPS,
    N_INPUTS,
    BeatNet,
    BeatNetConfig,
    beat_activation,
    frame_features,
    load_beatnet,
    save_beatnet,
    shipped_beatnet,
)
from livedrum.audio.beatnet_train import labels, song_frames, train_beatnet
from livedrum.audio.source import analyse_file
from livedrum.audio.tempo import beat_f_measure
from livedrum.midifile import load_song
from tests.audio.conftest import RenderedSong
from tests.conftest import write_band_song

TINY = BeatNetConfig(channels=8, layers=4)


def test_frame_features_pool_hops_and_ignore_the_input_gain() -> None:
    rng = np.random.default_rng(0)
    flux, band, levels = rng.random(101), rng.random((101, 16)), rng.random((101, 4))
    x = frame_features(flux, band, levels)
    assert x.shape == (101 // FRAME_HOPS, N_INPUTS) and x.dtype == np.float32
    np.testing.assert_allclose(frame_features(10 * flux, 10 * band, levels), x, atol=1e-5)
    assert frame_features(flux[:1], band[:1], levels[:1]).shape == (0, N_INPUTS)


def test_the_network_keeps_the_length_and_survives_its_file(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = BeatNet(TINY).eval()
    x = np.random.default_rng(1).random((333, N_INPUTS)).astype(np.float32)
    beat, down = beat_activation(net, x)
    assert beat.shape == down.shape == (333,) and ((beat > 0) & (beat < 1)).all()
    save_beatnet(net, tmp_path / "b.pt", {"songs": 1})
    again, _ = beat_activation(load_beatnet(tmp_path / "b.pt"), x)
    np.testing.assert_array_equal(again, beat)


@pytest.mark.parametrize("content", [None, b"", b"not a model"])
def test_a_missing_or_broken_network_is_one_line(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "beats.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match="cannot load the beat network") as err:
        load_beatnet(path)
    assert "\n" not in str(err.value)


def test_a_missing_shipped_network_leaves_the_onset_tracker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LIVEDRUM_BEATNET", str(tmp_path / "gone.pt"))
    shipped_beatnet.cache_clear()
    try:
        assert shipped_beatnet() is None
    finally:
        shipped_beatnet.cache_clear()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "onset tracker" in err[0]


def test_the_shipped_network_finds_the_beats_of_a_rendered_band(band_audio: RenderedSong) -> None:
    net = shipped_beatnet()
    assert net is not None, "models/livedrum-beats.pt is shipped"
    beats = find_beats(analyse_file(band_audio.audio), net)
    truth = band_audio.beat_times()
    assert beat_f_measure(truth, beats[beats <= truth[-1] + 0.1]) > 0.9
    grid = audio_grid(band_audio.audio)  # accompany's default: the shipped network
    assert beat_f_measure(truth, grid.beat_times[(grid.beat_times > 0) & (grid.beat_times <= truth[-1] + 0.1)]) > 0.9


def test_labels_mark_the_true_beats_and_bar_lines_within_the_band(tmp_path: Path) -> None:
    song = load_song(write_band_song(tmp_path / "s.mid", bars=4, bpm=120.0, drums=False).read_bytes(), "s")
    frame_s = 0.01
    y, mask = labels(song, 1000, 0.0, frame_s)
    beats = np.flatnonzero(y[:, 0] == 1.0)
    np.testing.assert_allclose(beats * frame_s, song.seconds_at(np.arange(len(beats))), atol=frame_s)
    assert (np.flatnonzero(y[:, 1] == 1.0) == beats[::4]).all()
    assert (y[beats + 1, 0] == 0.5).all()
    assert mask[: beats[-1]].all() and not mask[beats[-1] + 60:].any()


def test_training_on_a_rendered_song_learns_where_its_beats_are(band_audio: RenderedSong, tmp_path: Path) -> None:
    """A tiny network, a few hundred steps on one rendered song (and its copy held out): its activation is
    higher on the true beats than between them."""
    blob = band_audio.midi.read_bytes()
    frames = song_frames("band", blob, load_song(blob, "band"), tmp_path / "cache")
    assert frames is not None and (tmp_path / "cache").glob("*.beats.npz")
    torch.manual_seed(0)
    net, figures = train_beatnet([frames, frames], epochs=6, steps=20, batch=2, config=TINY)
    assert figures["held_out_songs"] == 1 and len(figures["history"]) == 6
    beat, _ = beat_activation(net, frames.x)
    on = frames.y[:, 0] == 1.0
    between = (frames.y[:, 0] == 0) & (frames.mask > 0)
    assert beat[on].mean() > 2 * beat[between].mean()
