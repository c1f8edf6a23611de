"""Control maps: the shipped maps load, each kind of entry turns messages into the right action,
band music passes untouched, and a bad map fails with one line naming the file and the problem."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from livedrum.live.clock import MIN_BPM
from livedrum.live.control_map import (
    ACTIONS,
    DEFAULT_CONTROLS,
    PRESETS_DIR,
    Action,
    ControlMap,
    available_controls,
    load_controls,
)


def cc(control: int, value: int, channel: int = 0) -> mido.Message:
    return mido.Message("control_change", control=control, value=value, channel=channel)


def note_on(note: int, velocity: int = 100, channel: int = 0) -> mido.Message:
    return mido.Message("note_on", note=note, velocity=velocity, channel=channel)


def note_off(note: int, channel: int = 0) -> mido.Message:
    return mido.Message("note_off", note=note, channel=channel)


def program(number: int, channel: int = 0) -> mido.Message:
    return mido.Message("program_change", program=number, channel=channel)


def write_map(folder: Path, text: str, name: str = "mine") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_text(folder: Path, text: str) -> ControlMap:
    return load_controls(str(write_map(folder, text)))


@pytest.fixture
def beatbuddy() -> ControlMap:
    return load_controls("beatbuddy")


@pytest.fixture
def generic() -> ControlMap:
    return load_controls("generic")


# ---- the shipped maps ---------------------------------------------------------------------

def test_both_shipped_maps_load_and_beatbuddy_is_the_default() -> None:
    assert {"beatbuddy", "generic"} <= set(available_controls())
    assert DEFAULT_CONTROLS == "beatbuddy"
    for name in ("beatbuddy", "generic"):
        controls = load_controls(name)
        assert controls.name == name and controls.description
    assert load_controls(str(PRESETS_DIR / "generic.toml")).name == "generic"  # a path works too


def test_beatbuddy_transport_and_fills_act_on_any_non_zero_value(beatbuddy: ControlMap) -> None:
    for control, action in ((112, "fill"), (113, "transition"), (121, "transition"), (114, "start"),
                            (115, "stop"), (117, "tap")):
        assert beatbuddy.action_for(cc(control, 127)) == Action(action)
        assert beatbuddy.action_for(cc(control, 1)) == Action(action)
        assert beatbuddy.action_for(cc(control, 0)) is None  # the release
        assert beatbuddy.claims(cc(control, 0))


def test_beatbuddy_pause_follows_its_values(beatbuddy: ControlMap) -> None:
    assert beatbuddy.action_for(cc(111, 0)) == Action("pause", "off")
    assert beatbuddy.action_for(cc(111, 1)) == Action("pause", "on")
    assert beatbuddy.action_for(cc(111, 2)) == Action("pause", "toggle")
    assert beatbuddy.action_for(cc(111, 127)) == Action("pause", "toggle")


def test_beatbuddy_tempo_msb_and_lsb_per_channel(beatbuddy: ControlMap) -> None:
    assert beatbuddy.claims(cc(106, 1)) and beatbuddy.action_for(cc(106, 1)) is None  # remembered, no action yet
    assert beatbuddy.action_for(cc(107, 1)) == Action("tempo", 129.0)
    assert beatbuddy.action_for(cc(107, 44)) == Action("tempo", 172.0)  # the MSB stays
    beatbuddy.action_for(cc(106, 2, channel=3))
    assert beatbuddy.action_for(cc(107, 44, channel=3)) == Action("tempo", 300.0)
    assert beatbuddy.action_for(cc(107, 44)) == Action("tempo", 172.0)  # channel 1 keeps its own MSB
    beatbuddy.action_for(cc(106, 0))
    assert beatbuddy.action_for(cc(107, 120)) == Action("tempo", 120.0)
    assert beatbuddy.action_for(cc(107, 5)) == Action("tempo", MIN_BPM)  # kept playable
    beatbuddy.action_for(cc(106, 3, channel=5))
    assert beatbuddy.action_for(cc(107, 127, channel=5)) == Action("tempo", 300.0)


def test_beatbuddy_tempo_steps_by_value(beatbuddy: ControlMap) -> None:
    assert beatbuddy.action_for(cc(80, 10)) == Action("tempo_step", 10.0)
    assert beatbuddy.action_for(cc(81, 3)) == Action("tempo_step", -3.0)
    assert beatbuddy.action_for(cc(96, 1)) == Action("tempo_step", 1.0)
    assert beatbuddy.action_for(cc(97, 1)) == Action("tempo_step", -1.0)
    assert beatbuddy.action_for(cc(80, 0)) is None and beatbuddy.claims(cc(80, 0))


def test_beatbuddy_feel_and_kit_notes(beatbuddy: ControlMap) -> None:
    assert beatbuddy.action_for(cc(1, 0)) == Action("complexity", 0.0)
    assert beatbuddy.action_for(cc(1, 127)) == Action("complexity", 1.0)
    assert beatbuddy.action_for(cc(11, 64)).value == pytest.approx(64 / 127)
    pieces = ["kick", "snare", "hihat", "toms", "cymbals", "percussion"]
    for n, piece in enumerate(pieces):
        assert beatbuddy.action_for(note_on(n, channel=n)) == Action("kit", "toggle", piece)
    assert beatbuddy.action_for(note_on(6)) == Action("tap")


# ---- each kind of entry -------------------------------------------------------------------

def test_continuous_values_scale_onto_the_range(tmp_path: Path) -> None:
    controls = load_text(tmp_path, """
[[cc]]
control = 20
action = "swing"
min = 0.2
max = 0.6

[[cc]]
control = 21
action = "humanize"
min = 1.0
max = 0.0
""")
    assert controls.action_for(cc(20, 0)).value == pytest.approx(0.2)
    assert controls.action_for(cc(20, 127)).value == pytest.approx(0.6)
    assert controls.action_for(cc(20, 127 // 2)).value == pytest.approx(0.2 + 0.4 * 63 / 127)
    assert controls.action_for(cc(21, 127)) == Action("humanize", 0.0)  # a pedal turned around


def test_triggers_act_on_the_press_only(generic: ControlMap) -> None:
    for control, action in ((65, "tap"), (66, "start"), (67, "stop"), (69, "transition")):
        assert generic.action_for(cc(control, 127)) == Action(action)
        assert generic.action_for(cc(control, 64)) == Action(action)
        assert generic.action_for(cc(control, 63)) is None
        assert generic.action_for(cc(control, 0)) is None
        assert generic.claims(cc(control, 0)) and generic.claims(cc(control, 127))
    assert generic.action_for(cc(65, 127)) == Action("tap")  # a button that never sends a release


def test_edge_pedal_makes_one_fill_per_press(generic: ControlMap) -> None:
    actions = [generic.action_for(cc(64, v)) for v in (0, 30, 70, 100, 127, 90, 10, 127)]
    assert actions == [None, None, Action("fill"), None, None, None, None, Action("fill")]


def test_generic_pause_toggles_on_press(generic: ControlMap) -> None:
    assert generic.action_for(cc(68, 127)) == Action("pause", "toggle")
    assert generic.action_for(cc(68, 0)) is None


def test_channel_filter_and_the_specific_channel_winning(tmp_path: Path) -> None:
    controls = load_text(tmp_path, """
channel = 16

[[cc]]
control = 64
action = "fill"

[[cc]]
control = 64
channel = 2
action = "tap"

[[note]]
note = 36
channel = 10
action = "kit"
piece = "kick"
""")
    assert controls.action_for(cc(64, 127, channel=15)) == Action("fill")
    assert controls.action_for(cc(64, 127, channel=1)) == Action("tap")
    assert controls.action_for(cc(64, 127, channel=0)) is None and not controls.claims(cc(64, 127, channel=0))
    assert controls.action_for(note_on(36, channel=9)) == Action("kit", "toggle", "kick")
    assert not controls.claims(note_on(36, channel=0))  # the band's kick on channel 1 is music
    assert controls.action_for(note_on(36, channel=0)) is None


def test_note_offs_of_claimed_notes_are_claimed(generic: ControlMap) -> None:
    assert generic.action_for(note_on(2)) == Action("kit", "toggle", "hihat")
    for message in (note_off(2), note_on(2, velocity=0), mido.Message("polytouch", note=2, value=50)):
        assert generic.claims(message)
        assert generic.action_for(message) is None


def test_kit_on_a_cc_switches_by_threshold_or_toggles(tmp_path: Path) -> None:
    controls = load_text(tmp_path, """
[[cc]]
control = 80
action = "kit"
piece = "hihat"

[[cc]]
control = 81
action = "kit"
piece = "toms"
mode = "toggle"

[[note]]
note = 7
action = "kit"
piece = "snare"
mode = "switch"
""")
    assert controls.action_for(cc(80, 127)) == Action("kit", "on", "hihat")
    assert controls.action_for(cc(80, 0)) == Action("kit", "off", "hihat")
    assert controls.action_for(cc(81, 127)) == Action("kit", "toggle", "toms")
    assert controls.action_for(cc(81, 0)) is None
    assert controls.action_for(note_on(7)) == Action("kit", "on", "snare")
    assert controls.action_for(note_off(7)) == Action("kit", "off", "snare")


def test_tempo_forms_steps_presets_and_modes(tmp_path: Path) -> None:
    controls = load_text(tmp_path, """
[[cc]]
control = 20
action = "tempo"
offset = 40

[[cc]]
control = 21
action = "tempo"
min = 60
max = 187

[[cc]]
control = 22
action = "tempo_step"
step = -2

[[cc]]
control = 23
action = "preset"
value = "shuffle"

[[cc]]
control = 24
action = "mode"
value = "lead"

[[note]]
note = 8
action = "mode"

[[note]]
note = 9
action = "tempo_step"
step = 1
""")
    assert controls.action_for(cc(20, 80)) == Action("tempo", 120.0)
    assert controls.action_for(cc(21, 127)) == Action("tempo", 187.0)
    assert controls.action_for(cc(21, 0)) == Action("tempo", 60.0)
    assert controls.action_for(cc(22, 127)) == Action("tempo_step", -2.0)
    assert controls.action_for(cc(22, 0)) is None
    assert controls.action_for(cc(23, 127)) == Action("preset", "shuffle")
    assert controls.action_for(cc(24, 127)) == Action("mode", "lead")
    assert controls.action_for(note_on(8)) == Action("mode", "toggle")
    assert controls.action_for(note_on(9)) == Action("tempo_step", 1.0)


def test_program_changes_select_presets_by_name(tmp_path: Path) -> None:
    controls = load_text(tmp_path, """
[[program]]
presets = ["ballad", "rock", "shuffle"]

[[program]]
program = 20
channel = 3
preset = "half-time"
""")
    assert controls.action_for(program(0)) == Action("preset", "ballad")
    assert controls.action_for(program(2, channel=7)) == Action("preset", "shuffle")
    assert controls.action_for(program(20, channel=2)) == Action("preset", "half-time")
    assert controls.action_for(program(20)) is None and not controls.claims(program(20))
    assert controls.action_for(program(3)) is None and not controls.claims(program(3))


def test_band_music_is_not_claimed(beatbuddy: ControlMap, generic: ControlMap) -> None:
    music = [note_on(60), note_off(60), note_on(36, channel=9), cc(7, 100), cc(10, 64), cc(74, 3),
             mido.Message("pitchwheel", pitch=2000), mido.Message("aftertouch", value=30),
             mido.Message("clock"), mido.Message("start"), mido.Message("sysex", data=[1, 2]), program(5)]
    for controls in (beatbuddy, generic):
        for message in music:
            assert controls.action_for(message) is None, message
            assert not controls.claims(message), message
    assert not beatbuddy.claims(cc(64, 127))  # the keyboard's sustain pedal is the band's there
    assert not beatbuddy.claims(cc(102, 127))  # the BeatBuddy's own MIDI OUT "next part"


def test_an_action_must_be_known() -> None:
    assert set(ACTIONS) >= {"complexity", "kit", "tempo_step", "mode"}
    with pytest.raises(ValueError, match="unknown action 'explode'"):
        Action("explode")


# ---- bad maps -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "problem"), [
    ('[[cc]]\ncontrol = 1\naction = "explode"\n', "[[cc]] #1: unknown action 'explode' (known: complexity"),
    ('[[cc]]\ncontrol = 200\naction = "fill"\n', "[[cc]] #1: control must be within 0..127, got 200"),
    ('[[cc]]\naction = "fill"\n', "[[cc]] #1: missing 'control'"),
    ('[[note]]\nnote = 1\n', "[[note]] #1: missing 'action'"),
    ('[[cc]]\ncontrol = 1\naction = "fill\n', "not valid TOML"),
    ('[[cc]]\ncontrol = 1\naction = "fill"\ntreshold = 3\n', "[[cc]] #1: unknown key 'treshold'"),
    ('[[cc]]\ncontrol = 1\nchannel = 17\naction = "fill"\n', "channel must be within 1..16, got 17"),
    ('[[cc]]\ncontrol = 1\naction = "fill"\nthreshold = 0\n', "threshold must be within 1..127, got 0"),
    ('[[cc]]\ncontrol = 1.5\naction = "fill"\n', "control must be a whole number, got 1.5"),
    ('[[cc]]\ncontrol = 1\naction = "intensity"\nmax = 2\n', "max must be within 0..1, got 2"),
    ('[[cc]]\ncontrol = 5\naction = "fill"\n\n[[cc]]\ncontrol = 5\naction = "tap"\n',
     "[[cc]] #2: control 5 on any channel is mapped twice"),
    ('[[cc]]\ncontrol = 5\naction = "tempo"\n', "tempo needs exactly one of msb, offset, or min and max"),
    ('[[cc]]\ncontrol = 5\naction = "tempo"\nmsb = 6\n\n[[cc]]\ncontrol = 6\naction = "fill"\n',
     "CC 6 is the tempo MSB of CC 5"),
    ('[[note]]\nnote = 1\naction = "kit"\npiece = "cowbell"\n', "unknown kit piece 'cowbell'"),
    ('[[note]]\nnote = 1\naction = "kit"\n', "missing 'piece'"),
    ('[[note]]\nnote = 1\naction = "complexity"\n', "complexity needs a value: map it from a [[cc]]"),
    ('[[cc]]\ncontrol = 1\naction = "tempo_step"\nstep = 0\n', "step must not be 0"),
    ('[[cc]]\ncontrol = 1\naction = "preset"\n', "missing 'value' (the preset's name)"),
    ('[[cc]]\ncontrol = 1\naction = "pause"\nvalues = { 200 = "on" }\n', "values keys must be CC values 0..127"),
    ('[[cc]]\ncontrol = 1\naction = "mode"\nvalue = "solo"\n', "mode value must be one of follow, lead, toggle"),
    ('[cc]\ncontrol = 1\naction = "fill"\n', "cc must be a list of tables: write [[cc]]"),
    ('[[program]]\npresets = []\n', "[[program]] #1: presets must be a list of preset names"),
    ('[[program]]\nprogram = 126\npresets = ["a", "b", "c"]\n', "run past program 127"),
    ('colour = "red"\n', "the top level: unknown key 'colour'"),
])
def test_bad_maps_fail_with_one_line_naming_file_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = write_map(tmp_path, text, "bad")
    for ref in (str(path), "bad"):
        with pytest.raises(ValueError) as info:
            load_controls(ref, presets_dir=tmp_path)
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith(f"{path}: ") and problem in message, message


def test_unknown_map_names_list_the_available_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown control map 'beatbudy' \(available: .*beatbuddy.*generic"):
        load_controls("beatbudy")
    write_map(tmp_path, "", "one")
    write_map(tmp_path, "", "two")
    with pytest.raises(ValueError, match=r"^unknown control map 'three' \(available: one, two\)$"):
        load_controls("three", presets_dir=tmp_path)
    assert available_controls(tmp_path) == ["one", "two"]
    assert available_controls(tmp_path / "missing") == []
    with pytest.raises(ValueError, match="does not exist"):
        load_controls(str(tmp_path / "nowhere.toml"))


def test_an_empty_map_claims_nothing(tmp_path: Path) -> None:
    controls = load_controls("one", presets_dir=Path(write_map(tmp_path, "", "one")).parent)
    assert not controls.claims(cc(1, 127)) and controls.action_for(note_on(0)) is None
