"""The audio selector's fit: rendered bands on their true beats, the real drums as labels, a model file
whose audio input chooses with it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from livedrum.audio.selector_fit import true_grid_bars, with_audio_selector
from livedrum.batches import bar_lengths
from livedrum.checkpoint import load_model, save_checkpoint
from livedrum.engine import Engine
from livedrum.features import song_arrays
from livedrum.midifile import load_song
from livedrum.sampler import Sampling
from livedrum.selector import song_bars
from livedrum.song import Notes
from livedrum.vocab import EVAL_CLASSES
from tests.audio.conftest import RenderedSong
from tests.conftest import write_band_song


def test_true_grid_bars_hold_the_real_drums_and_hear_the_band(band_audio: RenderedSong, tmp_path) -> None:  # noqa: ANN001
    """The rendered band (12 bars at 104 BPM) with the drums its MIDI file would have: the labels are the
    MIDI's own bars, and the audio hears the band play where the MIDI does."""
    song = load_song(write_band_song(tmp_path / "with-drums.mid", bars=12, bpm=104.0).read_bytes(), "with-drums")
    assert np.array_equal(song.band.start, band_audio.song.band.start)  # the same band part
    heard = true_grid_bars(song, band_audio.audio)
    arrays = song_arrays(song)
    midi = song_bars(arrays.band, arrays.hits, arrays.beat_in_bar, bar_lengths(arrays))
    assert heard is not None and midi is not None
    assert heard.drums.shape == midi.drums.shape and heard.drums.any()
    np.testing.assert_array_equal(heard.drums, midi.drums)
    assert (heard.played == midi.played).mean() > 0.9
    # notes the kit folds into a piece count as it (a hand clap is the backbeat): labels as the MIDI selector's
    beats = np.arange(1.0, 48.0, 2.0)
    claps = replace(song, drums=Notes.from_lists(beats, beats + 0.1, [39] * len(beats), [100] * len(beats),
                                                 [9] * len(beats), [0] * len(beats)))
    snare = true_grid_bars(claps, band_audio.audio).drums[:, :, list(EVAL_CLASSES).index("snare")]
    assert snare[:, [12, 36]].all() and snare.sum() == 2 * len(snare)


def test_the_audio_selector_is_saved_and_used_for_audio_only(tiny_model, band_audio, tmp_path) -> None:  # noqa: ANN001
    from livedrum.batches import train_song
    from livedrum.selector_fit import with_selector

    net, _ = load_model(tiny_model)
    songs = [train_song(f"s{i}", "synthetic", song_arrays(load_song(
        write_band_song(tmp_path / f"s{i}.mid", 8, seed=i).read_bytes(), f"s{i}"))) for i in range(3)]
    torch.manual_seed(0)
    net, _ = with_selector(net, songs[:2], songs[2:], templates=4, epochs=2)
    song = load_song(write_band_song(tmp_path / "with-drums.mid", bars=12, bpm=104.0).read_bytes(), "with-drums")
    bars = [true_grid_bars(song, band_audio.audio)] * 6
    tuned, figures = with_audio_selector(net, bars, epochs=2)
    assert tuned.audio_selector is not None and figures["held_out_songs"] == 1
    midi = zip(tuned.selector.state_dict().values(), net.selector.state_dict().values())
    assert all(torch.equal(a, b) for a, b in midi)  # the MIDI selector is left as it was
    path = tmp_path / "audio.pt"
    save_checkpoint(path, {"model_config": tuned.cfg.to_dict(), "model": tuned.state_dict()})
    loaded, _ = load_model(path)
    assert loaded.cfg.audio_selector
    engine = Engine(loaded, Sampling(groove="band").for_audio())
    assert engine.selector is loaded.audio_selector
    for a, b in zip(loaded.audio_selector.state_dict().values(), tuned.audio_selector.state_dict().values()):
        assert torch.equal(a, b)


def test_refitting_the_midi_selector_drops_the_audio_one_grown_from_it(tiny_model, band_audio, tmp_path) -> None:  # noqa: ANN001
    from livedrum.batches import train_song
    from livedrum.selector_fit import with_selector

    net, _ = load_model(tiny_model)
    songs = [train_song(f"s{i}", "synthetic", song_arrays(load_song(
        write_band_song(tmp_path / f"s{i}.mid", 8, seed=i).read_bytes(), f"s{i}"))) for i in range(3)]
    net, _ = with_selector(net, songs[:2], songs[2:], templates=4, epochs=1)
    song = load_song(write_band_song(tmp_path / "with-drums.mid", bars=12, bpm=104.0).read_bytes(), "with-drums")
    net, _ = with_audio_selector(net, [true_grid_bars(song, band_audio.audio)] * 3, epochs=1)
    refit, _ = with_selector(net, songs[:2], songs[2:], templates=6, epochs=1)  # other pattern counts
    assert refit.selector is not None and refit.audio_selector is None and not refit.cfg.audio_selector


def test_a_song_that_cannot_be_rendered_is_skipped_with_one_line(band_audio, tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    from livedrum.audio import selector_fit

    good = write_band_song(tmp_path / "with-drums.mid", bars=12, bpm=104.0).read_bytes()
    song = load_song(good, "good")
    picked = [("broken", b"MThd garbage", song), ("good", good, song)]
    monkeypatch.setattr(selector_fit, "pick_songs", lambda n, data, split: picked)
    monkeypatch.setattr(selector_fit, "render_band", lambda blob, cache: (
        band_audio.audio if blob == good else (_ for _ in ()).throw(OSError("fluidsynth could not render it"))))
    bars = selector_fit.collect(2, tmp_path / "cache")
    assert len(bars) == 1 and bars[0].drums.any()
    err = capsys.readouterr().err
    assert "skipped broken: fluidsynth could not render it" in err and "Traceback" not in err
