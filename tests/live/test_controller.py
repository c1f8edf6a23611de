"""Live settings: validation leaves the state unchanged; presets wait for the bar line; fills land."""

from __future__ import annotations

import numpy as np
import pytest

from livedrum.live.control_map import Action
from livedrum.live.controller import Controller
from livedrum.live.drummer import Drummer, RunConfig
from livedrum.live.osc import build_dispatcher
from livedrum.live.scheduler import Scheduler
from livedrum.vocab import KIT_PIECES, PIECE_NAMES
from tests.live.live_helpers import shipped_engine


class VirtualTime:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def make(mode: str = "lead", bpm: float = 120.0) -> tuple[Controller, Drummer, VirtualTime]:
    now = VirtualTime()
    drummer = Drummer(shipped_engine(), RunConfig(bpm=bpm, mode=mode), Scheduler(lambda m: None),
                      clock_source=now)
    return Controller(drummer, now=now), drummer, now


def play_beats(drummer: Drummer, now: VirtualTime, beats: int) -> None:
    """Decide beats on a virtual clock, as the daemon's loop does in real time."""
    for _ in range(beats):
        b = drummer.next_beat
        now.t = drummer.clock.time_of(b - 0.05)
        drummer.step(b)


def planned_notes(drummer: Drummer) -> list[tuple[float, int]]:
    """(beat, note) of every note-on planned and not sent yet."""
    return sorted((drummer.clock.beat_at(p.time), p.message.note) for p in drummer.scheduler._heap
                  if not p.cancelled and p.message.type == "note_on" and p.message.velocity > 0)


def test_every_contract_address_has_a_handler() -> None:
    c, _, _ = make()
    table = build_dispatcher(c)
    wanted = {f"/livedrum/{a}" for a in ("complexity", "intensity", "swing", "humanize", "preset", "fill",
                                         "tempo", "tap", "start", "stop", "mode", "status")}
    wanted |= {f"/livedrum/kit/{p}" for p in PIECE_NAMES}
    assert set(table) == wanted


@pytest.mark.parametrize(("setter", "value", "error"), [
    ("complexity", "loud", TypeError), ("complexity", 1.5, ValueError), ("complexity", float("nan"), ValueError),
    ("intensity", True, TypeError), ("swing", -0.1, ValueError), ("tempo", 10, ValueError),
    ("tempo", "fast", TypeError), ("preset", "polka", ValueError), ("preset", 3, TypeError),
    ("mode", "jam", ValueError),
])
def test_bad_values_are_refused_and_change_nothing(setter: str, value: object, error: type) -> None:
    c, _, _ = make()
    before = c.state()
    with pytest.raises(error):
        getattr(c, setter)(value)
    assert c.state() == before


def test_touchosc_values_are_accepted_as_floats_and_ints() -> None:
    c, drummer, _ = make()
    assert c.kit("hihat", 0.0) is False and "hihat" in drummer.engine.sampling.kit_off
    assert c.kit("hihat", 1) is True and "hihat" not in drummer.engine.sampling.kit_off
    assert c.complexity(1) == 1.0 and drummer.engine.sampling.complexity == 1.0
    assert c.tempo(96) == 96.0 and drummer.cfg.bpm == 96.0


def test_a_preset_waits_for_the_next_bar_line() -> None:
    c, drummer, now = make()
    drummer.start(0.0, play_first=False)
    play_beats(drummer, now, 2)
    assert c.preset("shuffle") == "shuffle"
    assert drummer.cfg.feel.swing == 0.0  # not yet: the bar is not over
    play_beats(drummer, now, 1)
    assert drummer.cfg.feel.swing == 0.0
    play_beats(drummer, now, 2)  # beat 4: the next bar line
    assert drummer.preset == "shuffle" and drummer.cfg.feel.swing == 1.0


def test_a_fill_plays_toms_and_snare_and_lands_on_the_downbeat_with_a_crash() -> None:
    c, drummer, now = make()
    drummer.start(0.0, play_first=False)
    play_beats(drummer, now, 8)  # two bars of groove
    groove = planned_notes(drummer)
    c.fill(1)  # the whole next bar, into the bar line after it
    assert drummer.fill == (8, 12)
    play_beats(drummer, now, 5)  # the fill bar and the downbeat after it
    notes = planned_notes(drummer)
    fill_bar = [n for b, n in notes if 8 <= b < 12]
    fills = set(KIT_PIECES["toms"]) | set(KIT_PIECES["snare"])

    def per_bar(ns: list[int], bars: float) -> float:
        return sum(n in fills for n in ns) / bars

    assert per_bar(fill_bar, 1) >= 2 * max(per_bar([n for _, n in groove], 2), 0.5)
    downbeat = [n for b, n in notes if abs(b - 12) < 1e-6]
    assert 49 in downbeat
    assert drummer.fill is None
    bars = np.diff([drummer.clock.time_of(b) for b in (0, 4, 8, 12)])
    assert np.allclose(bars, bars[0])  # the bar never stretches


def test_stop_silences_and_start_plays_again() -> None:
    c, drummer, now = make()
    drummer.start(0.0, play_first=False)
    play_beats(drummer, now, 2)
    assert c.stop() == "stopped" and not drummer.playing and drummer.scheduler.pending == 0
    assert c.start() == "playing" and drummer.playing


def test_midi_control_actions_map_onto_the_same_setters() -> None:
    c, drummer, _ = make()
    assert c.apply(Action("complexity", 0.75)) == [("complexity", 0.75)]
    assert c.apply(Action("kit", "toggle", "toms")) == [("kit/toms", False)]
    assert c.apply(Action("kit", "on", "toms")) == [("kit/toms", True)]
    assert c.apply(Action("tempo_step", -4.0)) == [("tempo", 116.0)]
    c.apply(Action("pause", "toggle"))
    assert drummer.stopped


def test_a_model_gone_bad_falls_back_to_the_last_good_bar_and_keeps_playing() -> None:
    import torch

    logged: list[str] = []
    c, drummer, now = make()
    drummer.log = lambda event, **f: logged.append(f.get("line", event))
    drummer.start(0.0, play_first=False)
    play_beats(drummer, now, 8)
    good_bar = [(round((b - 4) * 12), n) for b, n in planned_notes(drummer) if 4 <= b < 8]
    with torch.no_grad():  # a corrupted weight: every window from now on is NaN
        drummer.engine.net.decoder.lstm.weight_hh_l0.fill_(float("nan"))
    play_beats(drummer, now, 4)
    fallback_bar = [(round((b - 8) * 12), n) for b, n in planned_notes(drummer) if 8 <= b < 12]
    assert fallback_bar == good_bar  # the last good bar, note for note
    errors = [x for x in logged if "inference failed" in x]
    assert len(errors) == 1  # said once, not every beat
    assert drummer.playing


def test_a_preset_fills_at_the_end_of_each_phrase() -> None:
    c, drummer, now = make()
    c.preset("blues")  # not playing yet: at once; a fill every 4 bars
    drummer.start(0.0, play_first=False)
    play_beats(drummer, now, 17)
    crashes = [b for b, n in planned_notes(drummer) if n == 49 and abs(b - round(b)) < 1e-9]
    assert 16 in [round(b) for b in crashes]  # the downbeat after bar 4's fill
    assert drummer.fill is None or drummer.fill[0] >= 17


def test_the_kit_map_routes_every_hit_to_the_plugins_notes() -> None:
    from livedrum.kits import load_kit
    from livedrum.vocab import DRUM_NOTES

    c, drummer, now = make()
    drummer.kit = load_kit("addictive-drums-2")
    drummer.start(0.0, play_first=False)
    play_beats(drummer, now, 8)
    played = {n for _, n in planned_notes(drummer)}
    assert played and played <= {drummer.kit.out_note(n)[1] for n in DRUM_NOTES}
    assert drummer.kit.out_note(42)[1] in played  # the closed hi-hat, on AD2's own note
    assert 42 not in played or drummer.kit.out_note(42)[1] == 42


def test_osc_allow_list_and_rate_limit() -> None:
    from livedrum.live.osc import OscServer, osc_bytes

    c, _, _ = make()
    server = OscServer(c, allow=["10.0.0.0/8"], rate=10.0, burst=5.0)
    packet = osc_bytes("/livedrum/complexity", 0.4)
    server.datagram_received(packet, ("192.168.1.5", 9000))  # a stranger on the Wi-Fi
    assert server.stats.dropped == 1 and c.state()["complexity"] != pytest.approx(0.4)
    server.datagram_received(packet, ("10.1.2.3", 9000))  # the band's phone
    assert server.stats.accepted == 1 and c.state()["complexity"] == pytest.approx(0.4)
    server.datagram_received(osc_bytes("/livedrum/complexity", 0.6), ("127.0.0.1", 5000))  # always localhost
    assert c.state()["complexity"] == pytest.approx(0.6)
    for _ in range(50):  # a flood from one sender: only its burst gets through
        server.datagram_received(packet, ("10.9.9.9", 9000))
    assert server.stats.accepted <= 2 + 5 + 1 and server.stats.dropped >= 40


def test_a_band_building_up_brings_a_fill_halfway_through_the_phrase() -> None:
    import mido

    def played(louder_from_bar: int | None) -> list[tuple[float, int]]:
        c, drummer, now = make()
        c.preset("rock")  # a fill every 8 bars: bar 4 fills only when the band builds up
        drummer.start(0.0, play_first=False)
        for b in range(17):
            if b > 0:  # the band's beat b-1, heard before beat b is decided
                bar = (b - 1) // 4
                loud = louder_from_bar is not None and bar >= louder_from_bar
                step, velocity = (0.25, 110) if loud else (0.5, 70)
                for k in np.arange(0.0, 1.0, step):
                    for note in (40, 64, 67):
                        now.t = drummer.clock.time_of(b - 1 + k)
                        drummer.hear(now.t, mido.Message("note_on", note=note, velocity=velocity))
            now.t = drummer.clock.time_of(b - 0.05)
            drummer.step(b)
        return planned_notes(drummer)

    rising, steady = played(louder_from_bar=2), played(louder_from_bar=None)
    assert 49 in [n for b, n in rising if abs(b - 16) < 1e-6]  # the fill at the end of bar 4 landed
    assert 49 not in [n for b, n in steady if abs(b - 16) < 1e-6]
