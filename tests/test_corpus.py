"""corpus: which files are found (folders, archives), which song each is, and which split."""

from __future__ import annotations

import io
import pickle
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from livedrum import corpus
from livedrum.corpus import SourceFile, discover, iter_archive, song_key, split_of


def write_tar(path: Path, members: dict[str, bytes]) -> Path:
    """A tar archive (compression from the name) holding the given members."""
    mode = "w:xz" if path.name.endswith(".xz") else "w:gz" if path.name.endswith(".gz") else "w"
    with tarfile.open(path, mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def touch(folder: Path, names: list[str]) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(name.encode())


# ---- discovery ---------------------------------------------------------------------------------


def test_discover_folder_finds_midi_names_recursively_in_sorted_order(tmp_path: Path) -> None:
    band = tmp_path / "mysongs"
    touch(band, ["b.MID", "a.mid", "x.midi", "Help.mid0", "Help.mid13", "karaoke.kar", "Pop.S001.STY",
                 "p.prs", "s.sst", "c.bcs", "sub/deep/z.mid", "notes.txt", "a.mid.bak", "cover.png"])
    sources = discover([band])
    labels = [s.label for s in sources]
    assert labels == sorted(labels)
    assert {Path(s.label).name for s in sources} == {
        "b.MID", "a.mid", "x.midi", "Help.mid0", "Help.mid13", "karaoke.kar", "Pop.S001.STY",
        "p.prs", "s.sst", "c.bcs", "z.mid"}
    assert "mysongs/sub/deep/z.mid" in labels  # relative to the given folder's parent
    assert {s.collection for s in sources} == {"mysongs"}
    deep = next(s for s in sources if s.label.endswith("z.mid"))
    assert deep.member is None and deep.read_bytes() == b"sub/deep/z.mid"
    assert pickle.loads(pickle.dumps(deep)) == deep


def test_discover_labels_relative_to_root_and_single_files(tmp_path: Path) -> None:
    touch(tmp_path / "midi" / "casio", ["songs/a.mid", "styles/Rock 1.mid"])
    sources = discover([tmp_path / "midi" / "casio"], root=tmp_path)
    assert [s.label for s in sources] == ["midi/casio/songs/a.mid", "midi/casio/styles/Rock 1.mid"]
    single = discover([tmp_path / "midi" / "casio" / "songs" / "a.mid"])
    assert [(s.label, s.collection) for s in single] == [("songs/a.mid", "songs")]
    with pytest.raises(ValueError, match="no such file or folder"):
        discover([tmp_path / "missing"])


def test_discover_and_iter_archive_read_tar_xz_members(tmp_path: Path) -> None:
    members = {"demos/rock/one.mid": b"one", "demos/two.MID": b"two", "demos/readme.txt": b"no",
               "demos/three.mid1": b"three"}
    archive = write_tar(tmp_path / "demos.tar.xz", members)
    sources = discover([archive])
    assert [s.label for s in sources] == [
        "demos.tar.xz:demos/rock/one.mid", "demos.tar.xz:demos/three.mid1", "demos.tar.xz:demos/two.MID"]
    assert {s.collection for s in sources} == {"demos"}
    assert all(s.path == archive and s.member for s in sources)
    assert sources[0].read_bytes() == b"one"
    unpickled = pickle.loads(pickle.dumps(sources[2]))
    assert unpickled.read_bytes() == b"two"
    # one pass, with and without discover's sources; with them, only those are read
    assert {s.label: data for s, data in iter_archive(archive)} == {
        s.label: members[s.member] for s in sources}
    wanted = {sources[1].label: sources[1]}
    assert [(s, data) for s, data in iter_archive(archive, wanted)] == [(sources[1], b"three")]


def test_plain_and_gz_archives_work_too(tmp_path: Path) -> None:
    for name in ("plain.tar", "zipped.tar.gz"):
        archive = write_tar(tmp_path / name, {"x/a.mid": b"a"})
        (src,) = discover([archive])
        assert src.collection == name.split(".")[0] and src.read_bytes() == b"a"


# ---- song ids and splits -----------------------------------------------------------------------


def test_beatles_alternative_transcriptions_share_a_song_and_a_split(tmp_path: Path) -> None:
    album = "01_-_Please_Please_Me"
    touch(tmp_path / "beatles", [f"{album}/01_-_I_Saw_Her_Standing_There.mid{i}" for i in (0, 1, 2, 13)]
          + [f"{album}/02_-_Misery.mid0", f"{album}/02_-_Misery.mid1", "05_-_Help!/01_-_Help!.mid0"])
    by_song: dict[str, list[SourceFile]] = {}
    for src in discover([tmp_path / "beatles"]):
        by_song.setdefault(src.song_id, []).append(src)
    assert sorted(len(v) for v in by_song.values()) == [1, 2, 4]
    assert f"beatles/{album}/isawherstandingthere" in by_song
    for files in by_song.values():
        assert len({split_of(s.song_id) for s in files}) == 1


STG, FAN = "touhou/1 - Shooter Games/", "touhou/7 - Fan and Related Games/Related Games/"
EOSD, HRTP = STG + "6 - The Embodiment of Scarlet Devil/", STG + "1 - Highly Responsive to Prayers/"
UNUSED = STG + "2 - Story of Eastern Wonderland/[Unused Tracks] Akyu's Untouched Score vol.3/"
TOUHOU = [
    # real member names: arrangers, "(Piano Only)", "(X - XG)", "[arrange]", typos, other games
    EOSD + "13. Septette for a Dead Princess (unknown).mid",
    EOSD + "13. Septette for a Dead Princess (Piano Only).mid",
    EOSD + "13. Septette for a Dead Princess (Shirai Yuki - XG).mid",
    "touhou/3 - Fighting Games/10.5 - Scarlet Weather Rhapsody/"
    "4. Septette for a Dead Princess [arrange] (adazakura - GS).mid",
    HRTP + "1. A Sacred Lot (TouhouMIDICreator).mid",
    HRTP + "1. A Sacret Lot (Blargzargo).mid",
    STG + "18 - Unconnected Marketeers/7. Smoking Dragon (KR.Palto47) SC88pro (GS).mid",
    STG + "18 - Unconnected Marketeers/7. Smoking Dragon (Karl Zuñiga).mid",
    FAN + "Seihou 1 - Shuusou Gyoku/01 - Shuusou Gyoku ~ Clockworks (ZUN).mid",
    FAN + "Seihou 1 - Shuusou Gyoku/01 - Shuusou Gyoku ~ Clockworks (ZUN) (SC-88 Pro).mid",
    STG + "10 - Mountain of Faith/13. The Venerable Ancient Battlefield ~ Suwa Foughten Field (unknown).mid",
    "touhou/6 - Arranges/UI-70 - The Venerable Ancient Battlefield ~ Suwa Foughten Field (Jacob31593).mid",
    UNUSED + "1. Hakurei Shrine Grounds/hakurei_shrine_grounds_kitaichi_rei.mid",
    UNUSED + "1. Hakurei Shrine Grounds/touhou_2_soew_-_16_-_hakurei_shrine.mid",
    HRTP + "14. Iris (ZUN).mid",
    HRTP + "15. Shrine of the Wind (Blargzargo).mid",
]


def test_touhou_arrangements_of_one_tune_share_a_song_id(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "touhou.tar.xz", {name: name.encode() for name in TOUHOU})
    ids = {s.member: s.song_id for s in discover([archive])}
    groups = Counter(ids.values())
    assert sorted(groups.values()) == [1, 1, 2, 2, 2, 2, 2, 4]
    assert ids[TOUHOU[0]] == "touhou/septetteforadeadprincess"
    assert len({ids[name] for name in TOUHOU[:4]}) == 1  # across games, arrangers and [arrange]
    assert ids[TOUHOU[4]] == ids[TOUHOU[5]]  # misspelt, same track number in the same game
    assert ids[TOUHOU[-1]] != ids[TOUHOU[-2]]


def test_song_key_rules_for_other_collections() -> None:
    key = song_key
    # a copy marker, an "Artist - " prefix and underscores do not make a new song
    huey = {key("jamboree", "Huey Lewis/Huey Lewis & The News/Hip to Be Square.1.mid"),
            key("jamboree", "Huey Lewis/Huey_Lewis_-_Hip_to_be_Square.mid"),
            key("jamboree", "Huey Lewis/Hip to Be Square.mid")}
    assert huey == {"jamboree/Huey Lewis/hiptobesquare"}
    assert key("jamboree", "Video Games/UNDERTALE/010 - Ghost Fight (3).mid") == key(
        "jamboree", "Video Games/UNDERTALE/piano/010 - Ghost Fight.mid")
    # one style filed under two genre folders and at two sizes
    assert {key("yamaha-styles", "rhythms/R&B/KoolFunk.STY"), key("yamaha-styles", "yamaha/KoolFunk.STY"),
            key("yamaha-styles", "rhythms/R&B/KoolFunk.S596.sst")} == {"yamaha-styles/koolfunk"}
    # different songs stay apart: numbered styles, time signatures in names, loose files
    assert key("casio", "styles/Rock 1.mid") != key("casio", "styles/Rock 2.mid")
    assert key("groove", "drummer1/session1/1_funk_80_beat_4-4.mid").endswith("funk80beat44")
    assert key("freedoom", "d_e1m1.mid") == "freedoom/de1m1"


def test_identical_files_share_a_song_whatever_their_names(tmp_path: Path) -> None:
    """Copies under unrelated names (a game's tracks filed twice) must land in one split."""
    game = tmp_path / "game"
    for name, data in {"Zone 1/Act 1.mid": b"act one", "Remix/D_ZONE1.mid": b"act one",
                       "Zone 1/Act 2.mid": b"act two", "Remix/Act 2 (old).mid": b"old act two"}.items():
        (game / name).parent.mkdir(parents=True, exist_ok=True)
        (game / name).write_bytes(data)
    archive = write_tar(tmp_path / "more.tar.xz", {"more/elsewhere.mid": b"act two"})
    ids = {s.label: s.song_id for s in discover([game, archive])}
    assert ids["game/Zone 1/Act 1.mid"] == ids["game/Remix/D_ZONE1.mid"]
    assert ids["game/Zone 1/Act 2.mid"] == ids["more.tar.xz:more/elsewhere.mid"]  # across sources too
    assert ids["game/Zone 1/Act 1.mid"] != ids["game/Zone 1/Act 2.mid"]
    sources = discover([game, archive])
    assert corpus.duplicates(sources) == {  # the first label of each content stays
        "game/Zone 1/Act 1.mid": "game/Remix/D_ZONE1.mid",
        "more.tar.xz:more/elsewhere.mid": "game/Zone 1/Act 2.mid"}
    assert all(len(s.digest) == 40 for s in sources)
def test_split_of_is_stable_and_about_80_10_10() -> None:
    # fixed answers: a different hash (or Python's salted hash()) would move songs between splits
    assert [split_of(f"song{i}") for i in (0, 25, 29)] == ["train", "validation", "test"]
    assert split_of("touhou/septetteforadeadprincess") == "train"
    counts = Counter(split_of(f"collection/song {i}") for i in range(20_000))
    assert counts["train"] / 20_000 == pytest.approx(0.8, abs=0.015)
    assert counts["validation"] / 20_000 == pytest.approx(0.1, abs=0.01)
    assert counts["test"] / 20_000 == pytest.approx(0.1, abs=0.01)


# ---- where the data is -------------------------------------------------------------------------


def test_default_paths_are_the_paired_corpora(tmp_path: Path) -> None:
    (tmp_path / "extra").mkdir()
    for name in ("touhou", "jamboree"):
        write_tar(tmp_path / "extra" / f"{name}.tar.xz", {})
    assert corpus.default_paths(tmp_path) == [
        tmp_path / "midi" / "beatles", tmp_path / "midi" / "freedoom", tmp_path / "midi" / "casio",
        tmp_path / "extra" / "jamboree.tar.xz", tmp_path / "extra" / "touhou.tar.xz"]
    assert corpus.groove_paths(tmp_path) == [tmp_path / "groove"]


def test_data_root_prefers_argument_then_environment_then_shared_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit, env, shared = tmp_path / "explicit", tmp_path / "env", tmp_path / "shared" / "data"
    for folder in (explicit, env, shared):
        folder.mkdir(parents=True)
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("LIVEDRUM_DATA", str(env))
    assert corpus.data_root(str(explicit)) == explicit
    assert corpus.data_root(None) == env
    monkeypatch.delenv("LIVEDRUM_DATA")
    assert corpus.data_root(None).resolve() == shared.resolve()  # ../shared/data from here
    with pytest.raises(ValueError, match="does not exist"):
        corpus.data_root(str(tmp_path / "nowhere"))
    monkeypatch.setenv("LIVEDRUM_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="LIVEDRUM_DATA"):
        corpus.data_root(None)
