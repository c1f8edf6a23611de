"""Genre presets: every shipped one loads, bad ones say why, and they change how the drums play."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from livedrum.cli import main
from livedrum.midifile import load_song
from livedrum.presets import available_presets, load_preset

GENRES = ("rock", "pop", "hiphop", "jazz", "blues", "shuffle", "funk", "latin", "ballad")


def test_every_genre_has_a_preset() -> None:
    assert set(GENRES) <= set(available_presets())
    for name in GENRES:
        assert load_preset(name).name == name


@pytest.mark.parametrize(("text", "reason"), [
    ("swing = 2.0", "swing"), ("kit_off = ['gong']", "gong"), ("tempo = 3", "unknown field"),
    ("beats_per_bar = 1", "beats_per_bar"), ("swing = ", "preset bad.toml"),
])
def test_a_bad_preset_file_says_what_is_wrong(tmp_path: Path, text: str, reason: str) -> None:
    (tmp_path / "bad.toml").write_text(text + "\n")
    with pytest.raises(ValueError, match=reason):
        load_preset("bad", tmp_path)


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: .*shuffle"):
        load_preset("polka")


def _offbeat_position(path: Path) -> float:
    drums = load_song(path).drums
    keep = np.isin(drums.pitch, [42, 44, 46, 51, 59])  # hi-hats and rides
    pos = drums.start[keep] % 1.0
    return float(pos[(pos > 0.3) & (pos < 0.9)].mean())


def test_swing_genres_swing_and_straight_ones_do_not(tmp_path: Path, band_song: Path) -> None:
    where = {}
    for name in ("rock", "pop", "shuffle", "jazz", "blues"):
        out = tmp_path / f"{name}.mid"
        assert main(["accompany", str(band_song), "-o", str(out), "--preset", name, "--humanize", "0"]) == 0
        where[name] = _offbeat_position(out)
    assert where["rock"] <= 0.55 and where["pop"] <= 0.55
    assert min(where["shuffle"], where["jazz"], where["blues"]) >= 0.60


def test_an_unknown_preset_on_the_command_line_is_one_error_line(tmp_path: Path, band_song: Path, capsys) -> None:  # noqa: ANN001
    assert main(["accompany", str(band_song), "-o", str(tmp_path / "x.mid"), "--preset", "polka"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown preset 'polka'" in err
