"""The groove selector: streaming memory, pattern scores, learning to choose, and the engine's use of it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from livedrum.batches import bar_lengths, train_song
from livedrum.checkpoint import load_model
from livedrum.engine import Engine
from livedrum.features import BAND_FEATURES, N_REGISTERS, song_arrays
from livedrum.groove import seed_groove
from livedrum.midifile import load_song
from livedrum.perform import perform, song_grid
from livedrum.sampler import Sampling
from livedrum.selector import (
    BAR_FEATURES,
    BAR_STEPS,
    PLAY_VOICES,
    BarMemory,
    ChoiceTrace,
    GrooveSelector,
    SelectorConfig,
    SongBars,
    bar_vector,
    common_patterns,
    fine_tune_selector,
    fit_selector,
    pattern_scores,
    song_bars,
    standard_bar,
    training_arrays,
)
from livedrum.selector_fit import with_selector
from livedrum.vocab import N_VOICES, VOICE_OF_NOTE
from tests.conftest import write_band_song

S = 12
FIRST = 2 * BAR_FEATURES + N_REGISTERS * BAR_STEPS  # index of the "first bar" flag; the tempo follows
KICK, SNARE, HAT = (VOICE_OF_NOTE[n] for n in (36, 38, 42))


def _arrays(kick_beats: tuple[int, ...], bars: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(band, hits) of a 4/4 song whose bass plays where its kick plays; snare on 2 and 4, eighth hi-hats."""
    rng = np.random.default_rng(seed)
    T = bars * 4 * S
    band = np.zeros((T, BAND_FEATURES), np.float32)
    hits = np.zeros((T, N_VOICES), bool)
    for bar in range(bars):
        b0 = bar * 4 * S
        for beat in kick_beats:
            band[b0 + beat * S, 0] = rng.uniform(0.6, 1.0)  # a bass onset
            hits[b0 + beat * S, KICK] = True
        band[b0 : b0 + 4 * S, 4] = 0.25  # a bass note sounding
        for beat in (1, 3):
            hits[b0 + beat * S, SNARE] = True
        hits[b0 : b0 + 4 * S : S // 2, HAT] = True
    return band, hits


def _bars(band: np.ndarray, hits: np.ndarray) -> SongBars:
    beats = len(band) // S
    return song_bars(band, hits, np.arange(beats) % 4, np.full(beats, 4))


def _song(kick_beats: tuple[int, ...], bars: int = 12, seed: int = 0) -> SongBars:
    return _bars(*_arrays(kick_beats, bars, seed))


def _pattern(beats: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(BAR_STEPS, bool)
    out[[b * S for b in beats]] = True
    return out


def test_memory_before_a_bar_knows_only_the_bars_before_it():
    band, hits = _arrays((0, 2), 12, 0)
    quiet_end = band.copy()
    quiet_end[8 * 4 * S :] = 0.0  # the last four bars silent
    song, changed = _bars(band, hits), _bars(quiet_end, hits)
    np.testing.assert_array_equal(song.features[:9], changed.features[:9])  # bar 8 is chosen from bars 0..7
    assert not np.array_equal(song.features[9:], changed.features[9:])
    assert song.features[0, FIRST] == 1.0 and (song.features[1:, FIRST] == 0.0).all()  # the "first bar" flag
    assert song.played[:8].all() and not changed.played[8:].any()


def test_bar_memory_fades_and_averages():
    memory = BarMemory()
    a, b = np.zeros((BAR_STEPS, BAND_FEATURES), np.float32), np.zeros((BAR_STEPS, BAND_FEATURES), np.float32)
    a[0, 0], b[0, 0] = 1.0, 0.5
    memory.add(bar_vector(a))
    memory.add(bar_vector(b))
    f = memory.features()
    n = 2 * 4 * BAR_STEPS
    assert f[0] == 0.5  # the last bar
    assert f[n] == pytest.approx(0.3 * 0.7 + 0.3 * 0.5)  # fading: 0.7 of itself per bar
    assert f[2 * n] == pytest.approx(0.75)  # the song's mean of onsets
    assert f[FIRST] == 0.0


def test_the_memory_hears_the_tempo_and_keeps_it_when_a_source_knows_none():
    memory = BarMemory()
    slow = memory.features()[FIRST + 1 :]
    memory.set_tempo(180.0)
    fast = memory.features()[FIRST + 1 :]
    memory.set_tempo(None)
    assert slow.sum() == fast.sum() == 1.0 and not np.array_equal(slow, fast)
    assert np.array_equal(memory.features()[FIRST + 1 :], fast)
    band, hits = _arrays((0, 2), 4, 0)
    beats = len(band) // S
    at_90 = song_bars(band, hits, np.arange(beats) % 4, np.full(beats, 4), bpm=90.0)
    at_170 = song_bars(band, hits, np.arange(beats) % 4, np.full(beats, 4), bpm=170.0)
    assert not np.array_equal(at_90.features[:, FIRST + 1 :], at_170.features[:, FIRST + 1 :])
    np.testing.assert_array_equal(at_90.features[:, : FIRST + 1], at_170.features[:, : FIRST + 1])


def test_common_patterns_are_what_most_songs_play_most():
    songs = [_song((0, 2)) for _ in range(3)] + [_song((0, 1, 2, 3))]
    patterns = common_patterns(songs, 2)
    assert np.array_equal(patterns[0, 0], _pattern((0, 2)))  # kick: 1 and 3 in three songs
    assert np.array_equal(patterns[0, 1], _pattern((0, 1, 2, 3)))
    assert np.array_equal(patterns[1, 0], _pattern((1, 3)))  # snare: 2 and 4
    assert patterns[2, 0].sum() == 8  # eighth hi-hats


def test_the_pattern_the_drummer_plays_scores_best():
    song = _song((0, 2))
    patterns = np.zeros((3, 3, BAR_STEPS), bool)
    patterns[:, 0] = _pattern((0, 2))
    patterns[:, 1] = _pattern((0, 1, 2, 3))
    scores = pattern_scores(song, patterns)  # (bars, 3, 3)
    assert (scores[:, 0, 0] > scores[:, 0, 1]).all() and (scores[:, 0, 1] > scores[:, 0, 2]).all()
    # near the end fewer bars are ahead: a choice is scored on the bars it starts
    assert scores[0, 0, 0] > scores[-1, 0, 0] > 0


def test_the_selector_learns_to_hear_which_kick_the_bass_asks_for():
    train = [_song((0, 2), seed=i) for i in range(20)] + [_song((0, 1, 2, 3), seed=100 + i) for i in range(20)]
    val = [_song((0, 2), seed=50), _song((0, 1, 2, 3), seed=150)]
    selector, figures = fit_selector(train, val, epochs=60, log=False, batch=32)
    assert figures["validation_score"] > figures["fixed_groove_score"]
    with torch.no_grad():
        for song, beats in zip(val, ((0, 2), (0, 1, 2, 3))):
            pick = selector(torch.from_numpy(song.features[1:])).argmax(-1)[:, 0]  # kick, after the first bar
            chosen = selector.patterns[0, pick].numpy() > 0.5
            assert (chosen == _pattern(beats)).all()


@pytest.fixture(scope="module")
def selector_model(tiny_model, tmp_path_factory):  # noqa: ANN001, ANN201
    """The tiny model with a selector fitted on generated songs (real files through the real path)."""
    net, _ = load_model(tiny_model)
    d = tmp_path_factory.mktemp("selector")
    songs = [train_song(f"s{i}", "synthetic", song_arrays(load_song(write_band_song(d / f"s{i}.mid", 8, seed=i))))
             for i in range(4)]
    torch.manual_seed(0)
    with_net, _ = with_selector(net, songs[:3], songs[3:], templates=4, epochs=2)
    return with_net


def test_the_engine_continues_the_chosen_groove_and_chooses_as_offline(selector_model, band_song):  # noqa: ANN001
    net = selector_model
    song = load_song(band_song)
    grid = song_grid(song)
    engine = Engine(net, Sampling(complexity=0.0, bias=-30.0, groove="band"), seed=1)  # never hits: only the groove
    arrays = song_arrays(song)
    offline = song_bars(arrays.band, arrays.hits, arrays.beat_in_bar, bar_lengths(arrays))
    with torch.no_grad():
        scores = net.selector(torch.from_numpy(offline.features))
    trace = ChoiceTrace()  # the engine's first choice is at bar 1, once a whole bar has been heard
    gain = net.selector.standard_gain()  # the standard groove's prior
    picks = torch.stack([(scores[0] + gain).argmax(-1)] + [(trace.update(s) + gain).argmax(-1) for s in scores[1:]])
    Fb = net.cfg.band_features
    for beat in range(grid.n_beats):
        position = grid.position[beat * S : (beat + 1) * S]
        lag = engine.last_bar(position, 4)
        bar, in_bar = divmod(beat, 4)
        if 0 < beat < 4:  # the band has been heard, but no whole bar of it yet: the seed groove, to come in
            np.testing.assert_array_equal(lag[:, Fb:-1], seed_groove("rock", position))
        elif beat >= 4:  # the groove chosen for this bar, as the offline pass chooses it
            expect = np.zeros((S, N_VOICES), np.float32)
            for c, voice in enumerate(PLAY_VOICES):
                expect[:, voice] = net.selector.patterns[c, picks[bar, c]][in_bar * S : (in_bar + 1) * S].numpy()
            np.testing.assert_array_equal(lag[:, Fb:-1], expect)
        if beat > 0:
            assert (lag[:, -1] == 1).all()
        engine._fresh = 0
        engine.play(position, 4)
        engine.hear(grid.band[beat * S : (beat + 1) * S], position)


def test_other_meters_keep_the_seed_groove(selector_model, band_song):  # noqa: ANN001
    grid = song_grid(load_song(band_song))
    engine = Engine(selector_model, Sampling(complexity=0.0, bias=-30.0, groove="band"), seed=1)
    position = grid.position[:S]
    engine.play(position, 3)
    engine.hear(grid.band[:S], position)
    lag = engine.last_bar(grid.position[S : 2 * S], 3)
    np.testing.assert_array_equal(lag[:, selector_model.cfg.band_features : -1],
                                  seed_groove("rock", grid.position[S : 2 * S]))


def test_a_model_with_a_selector_saves_loads_and_plays_the_same(selector_model, band_song, tmp_path):  # noqa: ANN001
    from livedrum.checkpoint import save_checkpoint

    path = tmp_path / "m.pt"
    save_checkpoint(path, {"model_config": selector_model.cfg.to_dict(), "model": selector_model.state_dict()})
    loaded, _ = load_model(path)
    s = Sampling(complexity=0.5, groove="band")
    grid = song_grid(load_song(band_song))
    a = perform(grid, Engine(selector_model, s, seed=2))
    b = perform(grid, Engine(loaded, s, seed=2))
    assert sum(w.hits.sum() for w in a) > 0
    assert all(np.array_equal(x.hits, y.hits) for x, y in zip(a, b))


def test_train_with_a_selector_exports_a_model_that_plays_the_band_groove(tmp_path):  # noqa: ANN001
    from livedrum.model import ModelConfig
    from livedrum.train import TrainConfig, train
    from livedrum.training_jobs import export_model

    files = [write_band_song(tmp_path / f"s{i}.mid", 8, seed=i) for i in range(5)]
    songs = [train_song(f"s{i}", "synth", song_arrays(load_song(f)), bpm=100.0 + 10 * i) for i, f in enumerate(files)]
    cfg = TrainConfig(out=str(tmp_path / "run"), epochs=1, streams=2, chunk_beats=8,
                      model=ModelConfig(enc_hidden=16, dec_hidden=16, selector_templates=3, selector_hidden=8))
    train(cfg, songs[:3], songs[3:], progress=False)
    path = export_model(tmp_path / "run", songs[3:], songs[:3])
    net, ckpt = load_model(path)
    assert net.selector is not None and net.selector.patterns.shape == (3, 3, BAR_STEPS)
    assert net.selector.patterns.sum() > 0  # fitted: the songs' own patterns, not the untrained zeros
    assert ckpt["sampling"]["groove"] == "band" and "validation_score" in ckpt["sampling"]["selector"]


def test_fine_tuning_learns_the_new_bars_and_never_ends_worse_than_it_began():
    """Fine-tuning keeps the start's patterns and learns what other bars (an audio band) ask for; the
    epoch kept is the best on held-out bars, the start among them."""
    straight = [_song((0, 2), seed=i) for i in range(20)]
    base, _ = fit_selector(straight + [_song((0, 1, 2, 3), seed=200 + i) for i in range(4)],
                           [_song((0, 2), seed=50)], epochs=20, log=False, batch=32)
    four = [_song((0, 1, 2, 3), seed=100 + i) for i in range(20)]
    held = [_song((0, 1, 2, 3), seed=150 + i) for i in range(3)]
    tuned, figures = fine_tune_selector(base, four, held, epochs=30, lr=1e-3, log=False, batch=32)
    assert torch.equal(tuned.patterns, base.patterns) and tuned is not base
    start = fine_tune_selector(base, four, held, epochs=0, log=False)[1]["validation_score"]
    assert figures["validation_score"] >= start
    with torch.no_grad():
        for selector, right in ((base, False), (tuned, True)):  # the start mostly hears a straight kick
            pick = selector(torch.from_numpy(held[0].features[1:])).argmax(-1)[:, 0]
            assert ((selector.patterns[0, pick].numpy() > 0.5) == _pattern((0, 1, 2, 3))).all() == right
    bad = fine_tune_selector(base, four, held, epochs=3, lr=10.0, log=False)[1]  # a rate that wrecks it
    assert bad["validation_score"] >= start  # ... is never kept
    again, _ = fine_tune_selector(base, four, held, epochs=30, lr=1e-3, log=False, batch=32)
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), tuned.state_dict().values()))


def test_audio_ears_use_the_audio_selector_or_else_the_seed_groove(selector_model, band_song):  # noqa: ANN001
    """`Sampling.for_audio()`: a model with an audio selector chooses with it; one without plays the seed
    groove, as every model did for audio before the audio selector."""
    from dataclasses import replace

    from livedrum.model import DrumNet

    grid = song_grid(load_song(band_song))
    midi = Sampling(complexity=0.5, groove="band")
    audio = midi.for_audio()
    assert audio.ears == "audio" and midi.ears == "midi"
    assert Engine(selector_model, audio).selector is None
    seeded = perform(grid, Engine(selector_model, audio, seed=2))
    rock = perform(grid, Engine(selector_model, midi.with_(groove="rock"), seed=2))
    assert all(np.array_equal(x.hits, y.hits) for x, y in zip(seeded, rock))

    with_audio = DrumNet(replace(selector_model.cfg, audio_selector=True))
    state = selector_model.state_dict()
    state.update({f"audio_selector.{k}": v for k, v in selector_model.selector.state_dict().items()})
    with_audio.load_state_dict(state)
    with_audio.eval()
    engine = Engine(with_audio, audio)
    assert engine.selector is with_audio.audio_selector and Engine(with_audio, midi).selector is with_audio.selector
    same = perform(grid, Engine(with_audio, audio, seed=2))  # an audio selector equal to the MIDI one ...
    band = perform(grid, Engine(selector_model, midi, seed=2))
    assert all(np.array_equal(x.hits, y.hits) for x, y in zip(same, band))  # ... plays the band groove
    with pytest.raises(ValueError, match="ears"):
        Sampling(ears="eyes")


def test_the_choice_trace_keeps_a_groove_through_one_odd_bar_and_follows_a_lasting_change():
    a, b = torch.zeros(3, 4), torch.zeros(3, 4)
    a[:, 0], b[:, 1] = 1.0, 1.2  # bar by bar, pattern 1 would win the odd bar
    trace = ChoiceTrace(keep=0.7)
    picks = [int(trace.update(x)[0].argmax()) for x in (a, a, a, b, a, a)]
    assert picks == [0, 0, 0, 0, 0, 0]  # one odd bar does not flip the groove
    picks = [int(trace.update(b)[0].argmax()) for _ in range(4)]
    assert picks[0] == 0 and picks[-1] == 1  # the band asking for the other one, bar after bar, gets it


def test_an_engine_reset_forgets_the_choices(selector_model, band_song):  # noqa: ANN001
    song = load_song(band_song)
    engine = Engine(selector_model, Sampling(complexity=0.0, groove="band"), seed=1)
    first = np.stack([w.hits for w in perform(song_grid(song), engine)])
    assert engine._choices["midi"].scores is not None
    engine.reset()
    assert engine._choices["midi"].scores is None
    np.testing.assert_array_equal(np.stack([w.hits for w in perform(song_grid(song), engine)]), first)


def _selector_scoring(gap: float) -> GrooveSelector:
    """A selector whose table holds the standard groove and four on the floor for every piece, and that
    scores four on the floor `gap` above the standard groove whatever it hears."""
    selector = GrooveSelector(SelectorConfig(templates=2))
    table = np.stack([np.stack([standard_bar()[c], _pattern((0, 1, 2, 3))]) for c in range(3)])
    selector.patterns.copy_(torch.from_numpy(table.astype(np.float32)))
    out = selector.net[-1]
    torch.nn.init.zeros_(out.weight)
    out.bias.data = torch.tensor([0.0, gap] * 3)
    return selector.eval()


@pytest.mark.parametrize(("gap", "kick", "snare", "hihat"), [(0.1, 1, 0, 0), (0.6, 1, 1, 1), (-0.1, 0, 0, 0)])
def test_the_standard_groove_stays_unless_the_band_clearly_asks_for_another(gap, kick, snare, hihat):  # noqa: ANN001
    selector = _selector_scoring(gap)
    assert selector.prior[0] == 0.0 and selector.prior[1] > 0.1 and selector.prior[2] > 0.1
    bar = selector.choose(BarMemory())
    expect = [standard_bar()[c] if pick == 0 else _pattern((0, 1, 2, 3)) for c, pick in enumerate((kick, snare, hihat))]
    for c, voice in enumerate(PLAY_VOICES):
        np.testing.assert_array_equal(bar[:, voice] > 0, expect[c])


def test_without_the_prior_the_best_scored_pattern_plays():
    selector = _selector_scoring(0.1)
    selector.prior = (0.0, 0.0, 0.0)
    bar = selector.choose(BarMemory())
    for voice in PLAY_VOICES:
        np.testing.assert_array_equal(bar[:, voice] > 0, _pattern((0, 1, 2, 3)))


def test_the_standard_gain_goes_to_the_standard_patterns_only():
    gain = _selector_scoring(0.0).standard_gain().numpy()
    np.testing.assert_allclose(gain[:, 0], _selector_scoring(0.0).prior)
    assert (gain[:, 1] == 0).all()


def test_training_weighs_every_collection_alike():
    big = [replace(_song((0, 2), seed=i), collection="big") for i in range(3)]
    small = [replace(_song((0, 1, 2, 3), seed=9), collection="small")]
    _, _, weights = training_arrays(big + small, common_patterns(big + small, 2))
    n_big = sum(int(song.played.any(axis=1).sum()) for song in big)
    assert weights.mean().item() == pytest.approx(1.0)
    assert weights[:n_big].sum().item() == pytest.approx(weights[n_big:].sum().item())  # 3 songs weigh as 1
