"""Seed grooves: the plain groove the drummer comes in with, by position in the bar."""

from __future__ import annotations

import numpy as np
import pytest

from livedrum.features import positions_for
from livedrum.grid import STEPS_PER_BEAT, TimeSignature
from livedrum.groove import HAT, KICK, SNARE, seed_groove
from livedrum.sampler import Sampling

S = STEPS_PER_BEAT


def _beats(n: int, sig: TimeSignature) -> list[np.ndarray]:
    position, _, _ = positions_for(n, [sig])
    return [seed_groove("rock", position[b * S : (b + 1) * S]) for b in range(n)]


def test_rock_in_four_four_is_kick_snare_kick_snare_with_eighth_hats() -> None:
    beats = _beats(8, TimeSignature(0.0, 4, 4))
    kicks = [b for b, g in enumerate(beats) if g[0, KICK]]
    snares = [b for b, g in enumerate(beats) if g[0, SNARE]]
    assert kicks == [0, 2, 4, 6] and snares == [1, 3, 5, 7]
    for g in beats:
        assert set(np.nonzero(g[:, HAT])[0]) == {0, S // 2}
        assert g.sum() == 3  # hat, hat, and kick or snare


def test_rock_in_three_four_has_one_kick_per_bar() -> None:
    beats = _beats(6, TimeSignature(0.0, 3, 4))
    assert [b for b, g in enumerate(beats) if g[0, KICK]] == [0, 3]


def test_none_and_unknown() -> None:
    position, _, _ = positions_for(1, [TimeSignature(0.0)])
    assert seed_groove("none", position) is None
    with pytest.raises(ValueError, match="unknown seed groove"):
        seed_groove("polka", position)
    with pytest.raises(ValueError, match="unknown seed groove"):
        Sampling(groove="polka")


def test_the_models_rock_groove_matches_the_engines() -> None:
    import torch

    from livedrum.model import rock_groove

    for sig in (TimeSignature(0.0, 4, 4), TimeSignature(0.0, 3, 4), TimeSignature(0.0, 6, 8)):
        position, _, _ = positions_for(12, [sig])
        expected = np.concatenate([seed_groove("rock", position[b * S : (b + 1) * S]) for b in range(12)])
        assert np.array_equal(rock_groove(torch.from_numpy(position)).numpy(), expected)
