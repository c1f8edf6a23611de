"""Kit maps: shipped maps load and cover the vocabulary, the schema's features work, bad files fail in one line."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from livedrum.kits import KITS_DIR, HihatCC, KitMap, available_kits, load_kit
from livedrum.vocab import DRUM_NOTES, KIT_PIECES

SHIPPED = ("gm", "superior-drummer-3", "ezdrummer-3", "addictive-drums-2", "ableton-drum-rack", "roland-tr-8s")


def write(tmp_path: Path, text: str, name: str = "mine") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_map_asked_for_ships():
    assert set(SHIPPED) <= set(available_kits())


@pytest.mark.parametrize("name", available_kits())
def test_every_shipped_map_loads_and_routes_every_vocabulary_note(name):
    kit = load_kit(name)
    assert kit.name == name and kit.description
    assert sorted(gm for gm, _, _ in kit.routes) == list(DRUM_NOTES)
    for note in DRUM_NOTES:
        channel, out = kit.out_note(note)
        assert 0 <= channel <= 15 and 0 <= out <= 127
        messages = kit.map(note, 100)
        assert messages[-1].type == "note_on" and (messages[-1].channel, messages[-1].note) == (channel, out)
        assert 1 <= messages[-1].velocity <= 127


def test_gm_is_the_identity():
    kit = load_kit("gm")
    for note in DRUM_NOTES:
        assert kit.out_note(note) == (9, note)
        for velocity in (1, 37, 64, 100, 127):
            assert kit.map(note, velocity) == [mido.Message("note_on", channel=9, note=note, velocity=velocity)]
    assert all(kit.velocity(v) == v for v in range(1, 128))
    assert KitMap("plain").out_note(38) == (9, 38)  # a map with no routes is GM too


def test_tr8s_plays_its_instrument_notes():
    kit = load_kit("roland-tr-8s")
    bd, sd, ch, oh, cc, rc = 36, 38, 42, 46, 49, 51
    assert kit.out_note(36) == kit.out_note(35) == (9, bd)
    assert kit.out_note(38) == kit.out_note(40) == (9, sd)
    assert kit.out_note(42) == kit.out_note(44) == (9, ch)
    assert kit.out_note(46) == (9, oh)
    assert {kit.out_note(n)[1] for n in (49, 52, 55, 57)} == {cc}
    assert {kit.out_note(n)[1] for n in (51, 53, 59)} == {rc}
    toms = [kit.out_note(n)[1] for n in KIT_PIECES["toms"]]
    assert set(toms) == {43, 47, 50} and toms == sorted(toms)  # low to high stays low to high


def test_toontrack_maps_move_the_notes_that_are_cymbal_chokes_there():
    for name in ("superior-drummer-3", "ezdrummer-3"):
        kit = load_kit(name)
        assert kit.out_note(50) == (9, 48)  # high tom -> rack tom 1, not the choke on 50
        assert kit.out_note(56)[1] != 56
        assert kit.out_note(42) == (9, 42) and kit.out_note(44) == (9, 44) and kit.out_note(46) == (9, 46)


def test_addictive_drums_keymap():
    kit = load_kit("addictive-drums-2")
    assert [kit.out_note(n)[1] for n in (36, 38, 37, 42, 44, 46, 49, 51, 53)] == [36, 38, 42, 49, 48, 55, 77, 60, 61]
    toms = [kit.out_note(n)[1] for n in KIT_PIECES["toms"]]
    assert set(toms) == {65, 67, 69, 71} and toms == sorted(toms)


def test_ableton_pads_are_the_default_view():
    kit = load_kit("ableton-drum-rack")
    pads = {kit.out_note(n)[1] for n in DRUM_NOTES}
    assert pads <= set(range(36, 52))
    assert [kit.out_note(n)[1] for n in (36, 37, 38, 42, 44, 46)] == [36, 37, 38, 40, 41, 42]


def test_hihat_cc_goes_before_the_note_with_the_openness(tmp_path):
    kit = load_kit(str(write(tmp_path, """
        [notes]
        42 = 8
        44 = 44
        46 = 8
        [hihat_cc]
        controller = 4
        closed = 127
        pedal = 100
        open = 10
    """)))
    for note, value, out in ((42, 127, 8), (44, 100, 44), (46, 10, 8)):
        cc, hit = kit.map(note, 90)
        assert (cc.type, cc.channel, cc.control, cc.value) == ("control_change", 9, 4, value)
        assert (hit.type, hit.channel, hit.note, hit.velocity) == ("note_on", 9, out, 90)
    assert len(kit.map(38, 90)) == 1  # only the hat gets a controller
    assert kit.note_off(46) == [mido.Message("note_off", channel=9, note=8, velocity=0)]


def test_hihat_cc_defaults_are_the_e_drum_pedal(tmp_path):
    kit = load_kit(str(write(tmp_path, "[hihat_cc]\n")))
    assert kit.hihat_cc == HihatCC(controller=4, closed=127, pedal=127, open=0)
    assert [kit.map(n, 100)[0].value for n in (42, 44, 46)] == [127, 127, 0]
    assert HihatCC().value(38) is None


@pytest.mark.parametrize("curve, low, high",
                         [(1.0, 1, 127), (0.5, 20, 110), (2.0, 1, 127), (1.7, 64, 64), (0.1, 5, 127)])
def test_velocity_curve_is_monotonic_and_in_range(tmp_path, curve, low, high):
    kit = load_kit(str(write(tmp_path, f"velocity_curve = {curve}\nvelocity_min = {low}\nvelocity_max = {high}\n")))
    out = [kit.velocity(v) for v in range(0, 128)]
    assert all(1 <= v <= 127 for v in out)
    assert out == sorted(out)
    assert (out[1], out[127]) == (low, high)
    assert [m.velocity for m in kit.map(38, 1)] == [low]


def test_velocity_curve_bends_the_middle(tmp_path):
    soft = load_kit(str(write(tmp_path, "velocity_curve = 2.0", "soft")))
    hard = load_kit(str(write(tmp_path, "velocity_curve = 0.5", "hard")))
    assert soft.velocity(64) < 64 < hard.velocity(64)


def test_per_piece_channel_overrides(tmp_path):
    kit = load_kit(str(write(tmp_path, """
        channel = 10
        [channels]
        toms = 11
        cymbals = 12
        [notes]
        41 = 60
    """)))
    for note in DRUM_NOTES:
        channel, _ = kit.out_note(note)
        expected = 10 if note in KIT_PIECES["toms"] else 11 if note in KIT_PIECES["cymbals"] else 9
        assert channel == expected, note
    assert kit.map(41, 100)[0].channel == 10 and kit.map(41, 100)[0].note == 60
    assert kit.note_off(49)[0].channel == 11


@pytest.mark.parametrize("name", available_kits())
def test_note_off_matches_map(name):
    kit = load_kit(name)
    for note in DRUM_NOTES:
        on = kit.map(note, 80)[-1]
        (off,) = kit.note_off(note)
        assert (off.type, off.channel, off.note) == ("note_off", on.channel, on.note)


def test_missing_notes_fall_back_to_a_named_relative_or_to_gm(tmp_path):
    kit = load_kit(str(write(tmp_path, """
        [notes]
        36 = 24
        38 = 26
        42 = 30
    """)))
    assert kit.out_note(35) == (9, 24)  # the other kick
    assert kit.out_note(40) == kit.out_note(37) == (9, 26)  # snare articulations
    assert kit.out_note(44) == kit.out_note(46) == (9, 30)
    assert kit.out_note(49) == (9, 49) and kit.out_note(45) == (9, 45)  # nothing related named: GM
    gm = load_kit(str(write(tmp_path, 'fallback = "gm"\n[notes]\n36 = 24\n', "gm_fallback")))
    assert gm.out_note(35) == (9, 35)


def test_a_borrowed_note_plays_on_the_lenders_channel(tmp_path):
    kit = load_kit(str(write(tmp_path, "[channels]\ncymbals = 12\n[notes]\n53 = 70\n")))
    assert kit.out_note(56) == (11, 70)  # the cowbell plays the ride bell, on the cymbals' channel


def test_articulation_names(tmp_path):
    kit = load_kit(str(write(tmp_path, '[articulations]\nhh_open_3 = 26\n[notes]\n46 = "hh_open_3"\n')))
    assert kit.out_note(46) == (9, 26)
    assert dict(kit.articulations) == {"hh_open_3": 26}


def test_other_gm_notes_fold_onto_the_vocabulary_and_the_rest_pass_through():
    kit = load_kit("roland-tr-8s")
    assert kit.out_note(39) == kit.out_note(38)  # hand clap plays the snare
    assert kit.out_note(100) == (9, 100)


def test_a_kit_by_path_and_from_another_folder(tmp_path):
    path = write(tmp_path, "channel = 2", "two")
    assert load_kit(str(path)).channel == 1
    assert load_kit("two", kits_dir=tmp_path).channel == 1
    assert available_kits(tmp_path) == ["two"]
    assert available_kits(tmp_path / "nowhere") == []


@pytest.mark.parametrize("text, words", [
    ("colour = 3", "unknown key(s) 'colour'"),
    ("[notes]\n42 = 200", "[notes]: 42 must be within 0..127, got 200"),
    ("channel = 17", "channel must be within 1..16, got 17"),
    ("channel = 0", "channel must be within 1..16, got 0"),
    ("[channels]\ntoms = 17", "[channels]: toms must be within 1..16, got 17"),
    ("[channels]\ntambourine = 3", "unknown kit piece 'tambourine'"),
    ("[notes]\n39 = 39", "'39' is not a GM note of the drum vocabulary"),
    ("[notes]\nkick = 36", "'kick' is not a GM note of the drum vocabulary"),
    ('[notes]\n46 = "open"', "unknown articulation 'open'"),
    ("[notes]\n46 = 4.5", "[notes]: 46 must be a whole number"),
    ("[articulations]\nx = -1", "[articulations]: x must be within 0..127"),
    ("velocity_curve = 0", "velocity_curve must be a positive number"),
    ("velocity_curve = true", "velocity_curve must be a positive number"),
    ("velocity_min = 100\nvelocity_max = 50", "velocity_min 100 is above velocity_max 50"),
    ("velocity_max = 128", "velocity_max must be within 1..127"),
    ('fallback = "loud"', "fallback must be one of nearest, gm"),
    ("[hihat_cc]\nopen = 128", "[hihat_cc]: open must be within 0..127, got 128"),
    ("[hihat_cc]\ncc = 4", "[hihat_cc]: unknown key(s) 'cc'"),
    ("notes = 3", "notes must be a table"),
    ("description = 3", "description must be a string"),
    ("[notes\n42 = 1", "not valid TOML"),
    ("channel = = 3", "not valid TOML"),
])
def test_bad_files_fail_in_one_line_naming_the_file(tmp_path, text, words):
    path = write(tmp_path, text, "bad")
    with pytest.raises(ValueError) as info:
        load_kit(str(path))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ") and words in message, message


def test_unknown_names_list_the_available_kits(tmp_path):
    with pytest.raises(ValueError) as info:
        load_kit("superior-drummer-2")
    message = str(info.value)
    assert "\n" not in message and "'superior-drummer-2'" in message and "superior-drummer-2.toml" in message
    assert all(name in message for name in SHIPPED)
    with pytest.raises(ValueError, match=r"^kit map .*missing\.toml does not exist$"):
        load_kit(str(tmp_path / "missing.toml"))
    with pytest.raises(ValueError, match=r"unknown kit 'gm': there is no .*gm\.toml \(available: none\)"):
        load_kit("gm", kits_dir=tmp_path)


def test_kit_maps_are_frozen_and_hashable():
    kit = load_kit("addictive-drums-2")
    assert hash(kit) == hash(load_kit("addictive-drums-2")) and kit == load_kit("addictive-drums-2")
    with pytest.raises(AttributeError):
        kit.channel = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        KitMap("bad", channel=16)
    with pytest.raises(ValueError):
        HihatCC(open=128)
    assert KITS_DIR.name == "kits"
