"""Sampling hits: the complexity knob, kit mask, four limbs, determinism given the uniforms."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from livedrum.sampler import Sampling, draw_uniforms, hit_probability, sample_step
from livedrum.vocab import N_VOICES, kit_mask, piece_voices

V = N_VOICES
prob32 = st.floats(0.0, 1.0, width=32)
uniform32 = st.floats(0.0, 1.0, exclude_max=True, width=32)


@st.composite
def step_inputs(draw: st.DrawFn, distinct: bool = True):
    """(prob, uniform, mask) for a batch of 1..3 rows, and a Sampling with random limbs/kit."""
    rows = draw(st.integers(1, 3))
    prob = [draw(st.lists(prob32, min_size=V, max_size=V, unique=distinct)) for _ in range(rows)]
    uniform = [draw(st.lists(uniform32, min_size=V, max_size=V)) for _ in range(rows)]
    mask = draw(st.lists(st.booleans(), min_size=V, max_size=V))
    s = Sampling(complexity=draw(st.floats(0, 1)), max_hits=draw(st.integers(1, V)))
    return (torch.tensor(prob), torch.tensor(uniform), torch.tensor(mask, dtype=torch.float32)[None], s)


# ---- Sampling -----------------------------------------------------------------------------------

@pytest.mark.parametrize("complexity", [-0.01, 1.01, 2.0, math.nan])
def test_complexity_outside_zero_to_one_is_refused(complexity):
    with pytest.raises(ValueError, match="complexity must be within 0..1"):
        Sampling(complexity=complexity)


@pytest.mark.parametrize("changes, message", [
    ({"consistency": 1.5}, "consistency must be within 0..1"),
    ({"consistency": -0.1}, "consistency must be within 0..1"),
    ({"max_hits": 0}, f"max_hits must be within 1..{V}"),
    ({"max_hits": V + 1}, f"max_hits must be within 1..{V}"),
    ({"kit_off": frozenset({"cowbell"})}, r"unknown kit piece 'cowbell' \(known: kick"),
])
def test_bad_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        Sampling(**changes)


def test_edges_are_allowed_and_with_revalidates():
    s = Sampling(complexity=0.0, max_hits=V, consistency=1.0, kit_off=frozenset({"kick", "toms"}))
    assert s.with_(complexity=1.0).complexity == 1.0
    assert s.with_(max_hits=1).kit_off == frozenset({"kick", "toms"})  # other fields kept
    with pytest.raises(ValueError, match="complexity"):
        s.with_(complexity=1.5)
    with pytest.raises(ValueError, match="unknown kit piece"):
        s.with_(kit_off=frozenset({"gong"}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.complexity = 0.3  # type: ignore[misc]


def test_temperature_and_shift_rise_with_complexity():
    grid = np.linspace(0, 1, 21)
    temps = [Sampling(complexity=c).temperature for c in grid]
    shifts = [Sampling(complexity=c, bias=-1.2, spread=3.0).shift for c in grid]
    assert (np.diff(temps) > 0).all() and (np.diff(shifts) > 0).all()
    assert Sampling(complexity=0.0).temperature == pytest.approx(0.25)
    assert Sampling(complexity=1.0).temperature == pytest.approx(0.4)
    assert Sampling(complexity=0.5, bias=-1.2).shift == pytest.approx(-1.2)  # bias is the midpoint
    assert shifts[-1] - shifts[0] == pytest.approx(3.0)  # spread is the whole range


@settings(max_examples=200, deadline=None, database=None)
@given(logit=st.floats(-12.0, 0.5), bias=st.floats(-0.5, 0.5), lo=st.floats(0, 1), hi=st.floats(0, 1))
def test_hit_probability_rises_with_complexity_for_unlikely_voices(logit, bias, lo, hi):
    # d/dc of (logit + bias + 0.6 (c - 0.5)) / (0.25 + 0.15 c) > 0 whenever logit + bias < 1.3
    lo, hi = min(lo, hi), max(lo, hi)
    x = torch.full((N_VOICES,), logit, dtype=torch.float64)
    p_lo = hit_probability(x, Sampling(complexity=lo, bias=bias))[0].item()
    p_hi = hit_probability(x, Sampling(complexity=hi, bias=bias))[0].item()
    assert p_hi >= p_lo - 1e-9  # rounding: hypothesis found a 1e-11 dip for complexities 1e-10 apart


def test_hit_probability_is_one_half_at_minus_bias_for_the_default_knob():
    s = Sampling(bias=0.7)
    assert hit_probability(torch.full((N_VOICES,), -0.7), s)[0].item() == pytest.approx(0.5)
    assert hit_probability(torch.zeros(N_VOICES), Sampling()).max().item() == pytest.approx(0.5)
    kicks = Sampling(piece_bias=(("kick", 1.0),))
    p = hit_probability(torch.zeros(N_VOICES), kicks)
    assert p[0].item() > 0.5 and p[2].item() == pytest.approx(0.5)  # voice 0 is a kick, 2 a snare
    # temperature 0.325 sharpens: logit 1 -> sigmoid(1 / 0.325)
    assert hit_probability(torch.ones(N_VOICES), Sampling())[0].item() == pytest.approx(1 / (1 + math.exp(-1 / 0.325)))


def test_draw_uniforms_shape_range_and_seed():
    u = draw_uniforms(np.random.default_rng(5), 12)
    assert u.shape == (12, V) and u.dtype == np.float32
    assert (u >= 0).all() and (u < 1).all()
    np.testing.assert_array_equal(u, draw_uniforms(np.random.default_rng(5), 12))
    assert not np.array_equal(u, draw_uniforms(np.random.default_rng(6), 12))


# ---- sample_step ----------------------------------------------------------------------------------

@settings(max_examples=150, deadline=None, database=None)
@given(step_inputs(distinct=True))
def test_sample_step_limits_hits_respects_mask_and_keeps_the_likeliest(inputs):
    prob, uniform, mask, s = inputs
    hits = sample_step(prob, uniform, mask, None, s)
    assert hits.shape == prob.shape and hits.dtype == torch.float32
    assert set(hits.unique().tolist()) <= {0.0, 1.0}
    sampled = uniform < prob * mask
    assert (hits.sum(-1) <= s.max_hits).all()  # four limbs (or whatever max_hits says)
    assert not hits[:, mask[0] == 0].any()  # a switched-off piece never plays
    assert (hits.bool() <= sampled).all()  # only what the uniforms drew
    for row in range(prob.shape[0]):
        drawn = torch.nonzero(sampled[row]).flatten().tolist()
        likeliest = sorted(drawn, key=lambda v: -prob[row, v].item())[: s.max_hits]
        assert sorted(torch.nonzero(hits[row]).flatten().tolist()) == sorted(likeliest)
    # deterministic given the uniforms
    assert torch.equal(hits, sample_step(prob.clone(), uniform.clone(), mask.clone(), None, s))


@settings(max_examples=80, deadline=None, database=None)
@given(step_inputs(distinct=False), st.floats(0, 1), st.data())
def test_memory_pull_never_plays_a_masked_voice(inputs, consistency, data):
    prob, uniform, mask, s = inputs
    memory = torch.tensor(data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=V, max_size=V)))[None]
    s = s.with_(consistency=consistency)
    hits = sample_step(prob, uniform, mask, memory, s)
    mixed = (1 - consistency) * prob + consistency * memory
    assert not hits[:, mask[0] == 0].any()
    assert (hits.bool() <= (uniform < mixed * mask)).all()


def test_full_consistency_replays_the_memory():
    prob = torch.zeros(1, V)
    memory = torch.zeros(1, V)
    memory[0, [1, 4, 6]] = 1.0
    hits = sample_step(prob, torch.full((1, V), 0.5), torch.ones(1, V), memory,
                       Sampling(consistency=1.0))
    assert torch.equal(hits, memory)
    # memory is ignored while consistency is 0
    assert not sample_step(prob, torch.full((1, V), 0.5), torch.ones(1, V), memory, Sampling()).any()


def test_kit_mask_from_sampling_settings_silences_the_piece():
    s = Sampling(kit_off=frozenset({"hihat"}), max_hits=V)
    mask = torch.from_numpy(kit_mask(s.kit_off).astype(np.float32))[None]
    hits = sample_step(torch.ones(1, V), torch.zeros(1, V), mask, None, s)
    playing = [v for v in range(V) if v not in piece_voices("hihat")]
    assert torch.nonzero(hits[0]).flatten().tolist() == playing


def test_fewer_draws_than_limbs_are_all_kept():
    prob = torch.linspace(0.05, 0.95, V)[None]
    uniform = torch.ones(1, V)
    uniform[0, [3, 10]] = 0.0
    hits = sample_step(prob, uniform, torch.ones(1, V), None, Sampling(max_hits=4))
    assert torch.nonzero(hits[0]).flatten().tolist() == [3, 10]


def test_tied_probabilities_still_respect_max_hits():
    # at complexity 0 the temperature is 0.25: logits of 6 and more saturate to exactly 1.0 in float32
    logits = torch.full((1, V), -8.0)
    logits[0, :6] = torch.tensor([6.0, 7.0, 8.0, 9.0, 10.0, 11.0])
    s = Sampling(complexity=0.0, max_hits=4)
    prob = hit_probability(logits, s)
    hits = sample_step(prob, torch.zeros(1, V), torch.ones(1, V), None, s)
    assert hits.sum().item() <= 4
