"""Which MIDI files make the corpus, which song each belongs to, and which split each song is in.

Splits are by song, never by file: alternative transcriptions and arrangements of one tune share
a song id, so none of them can sit in training while another sits in validation.

Song id rules (a key is the title lower-cased, accents folded, with every non-alphanumeric dropped):
- style files (.sty .prs .sst .bcs): collection + style name; folders and the ".S123" numbers are
  ignored, so one style filed under two genres, or saved at two sizes, is one song.
- touhou: collection + tune, across all games and albums (tunes come back in later games). The tune
  is the title before the first "(" or "[" (arranger, "Piano Only", "GM/XG" ...), without the track
  number, and without the "Circle - " prefix in the Arranges folder; files in a "N. Title" folder
  take that title. Files that share a game folder and track number, or a "~" half of a title, are
  merged too, which catches misspelt titles ("A Sacret Lot" / "A Sacred Lot").
- all others: collection + first folder below it + title, where the title drops the extension
  (.mid0 ... .mid13 included), a leading track number, trailing "(...)"/"[...]" groups, a ".1"/"-1"
  copy marker and an "Artist - " prefix equal to that folder. Beatles alternatives thus share an id.
- byte-identical files share a song id whatever their names (a game's tracks filed twice under
  other names), so every user of discover() puts both copies in one split; `duplicates()` says
  which copies a dataset should drop.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")

MIDI_NAME = re.compile(r"\.(mid|midi|mid\d{1,2}|kar|sty|prs|sst|bcs)$", re.IGNORECASE)
STYLE_NAME = re.compile(r"\.(sty|prs|sst|bcs)$", re.IGNORECASE)
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2")
_TRACK_NO = re.compile(r"^(\d{1,4})(?:\s*\.(?!\d)|\s*-+\s|\s)\s*")
_TRAILING_GROUP = re.compile(r"\s*(\([^()]*\)|\[[^\[\]]*\])\s*$")
_COPY_MARK = re.compile(r"(\.\d{1,2}|(?<=[^\d\s])-1)$")


@dataclass(frozen=True)
class SourceFile:
    """One MIDI file of the corpus: a loose file (member None) or a member of a tar archive.

    Plain data, so it pickles into worker processes.
    """

    label: str  # "beatles/01_-_Please_Please_Me/x.mid0" or "touhou.tar.xz:touhou/..."
    collection: str
    song_id: str
    path: Path  # the file itself, or the archive holding it
    member: str | None = None
    digest: str = ""  # sha1 of the bytes, "" when unknown (unreadable, or made by hand)

    def read_bytes(self) -> bytes:
        """The file's bytes. For an archive member this scans the archive: use iter_archive for many."""
        if self.member is None:
            return self.path.read_bytes()
        with tarfile.open(self.path, "r|*") as tar:
            for info in tar:
                if info.name == self.member:
                    handle = tar.extractfile(info)
                    if handle is not None:
                        return handle.read()
        raise FileNotFoundError(f"{self.member} not in {self.path}")


def is_midi_name(name: str) -> bool:
    return MIDI_NAME.search(name) is not None


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def collection_of(path: Path) -> str:
    """The collection a discovered path stands for: its name without the archive suffix."""
    name = path.name
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def discover(paths: Sequence[Path], root: Path | None = None) -> list[SourceFile]:
    """Every MIDI file under the given folders, archives or single files, sorted by label.

    Labels are relative to `root` when the file lies under it, else to the given path's parent.
    Every file is read once (archives in one pass) to find byte-identical copies.
    """
    found: dict[str, tuple[SourceFile, str]] = {}
    for path in (Path(os.path.abspath(p)) for p in paths):  # "." and ".." get their real names
        if not path.exists():
            raise ValueError(f"no such file or folder: {path}")
        base = path.parent if root is None or not _is_under(path, root) else root
        if path.is_dir():
            listed = _folder_sources(path, base)
        elif is_archive(path):
            listed = _archive_sources(path, base)
        else:  # a single file: its folder is the collection
            base = path.parent.parent if base == path.parent else base
            label = f"{_prefix(path.parent, base)}/{path.name}"
            listed = [(_make_source(collection_of(path.parent), label, path.name, path, None,
                                    _digest_of(path)), path.name)]
        for src, rel in listed:
            found.setdefault(src.label, (src, rel))
    sources = [found[label][0] for label in sorted(found)]
    return _merge_aliases(sources, [_aliases(*found[s.label]) for s in sources])


def iter_archive(
    path: Path, sources: dict[str, SourceFile] | None = None
) -> Iterator[tuple[SourceFile, bytes]]:
    """(source, bytes) of each MIDI member, in one sequential pass (random access to .xz is slow).

    Pass the sources from discover() (by label) to skip the listing pass and keep only those.
    """
    path = Path(path)
    if sources is None:
        sources = {s.label: s for s in discover([path])}
    here = path.resolve()
    by_member = {s.member: s for s in sources.values() if s.member is not None and s.path.resolve() == here}
    with tarfile.open(path, "r|*") as tar:
        for info in tar:
            src = by_member.get(info.name)
            if src is None or not info.isfile():
                continue
            handle = tar.extractfile(info)
            if handle is not None:
                yield src, handle.read()


def split_of(song_id: str) -> Split:
    """Stable 80/10/10 split from a hash of the song id (the same on every machine and run)."""
    bucket = int.from_bytes(hashlib.sha1(song_id.encode("utf-8")).digest()[:8], "big") % 100
    return "train" if bucket < 80 else "validation" if bucket < 90 else "test"


def default_paths(data_root: Path) -> list[Path]:
    """The paired band+drums corpora of the shared data."""
    midi = [data_root / "midi" / name for name in ("beatles", "freedoom", "casio")]
    return midi + sorted((data_root / "extra").glob("*.tar.xz"))


def groove_paths(data_root: Path) -> list[Path]:
    """The drums-only Groove MIDI Dataset (for pre-training the drum side, not band-to-drums)."""
    return [data_root / "groove"]


def data_root(explicit: str | None = None) -> Path:
    """Where the training data is: the argument, $LIVEDRUM_DATA, ../shared/data, or next to the repo."""
    if explicit:
        if not Path(explicit).is_dir():
            raise ValueError(f"data folder {explicit} does not exist")
        return Path(explicit)
    env = os.environ.get("LIVEDRUM_DATA")
    if env:
        if not Path(env).is_dir():
            raise ValueError(f"LIVEDRUM_DATA={env} is not a folder")
        return Path(env)
    candidates = [Path.cwd().parent / "shared" / "data",
                  Path(__file__).resolve().parent.parent.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise ValueError("no training data found: pass a data folder or set LIVEDRUM_DATA")


def duplicates(sources: Sequence[SourceFile]) -> dict[str, str]:
    """{label of a byte-identical copy: label of the first file with those bytes}, to drop copies."""
    first: dict[str, str] = {}
    copies = {}
    for src in sorted(sources, key=lambda s: s.label):
        if src.digest and src.digest in first:
            copies[src.label] = first[src.digest]
        elif src.digest:
            first[src.digest] = src.label
    return copies


# ---- song ids ----------------------------------------------------------------------------------


def song_key(collection: str, relpath: str) -> str:
    """The song id of one file from its collection and its path inside it (see the module doc)."""
    parts = relpath.split("/")
    name = parts[-1]
    stem = MIDI_NAME.sub("", name) or name
    if STYLE_NAME.search(name):
        return f"{collection}/{_key(stem.split('.')[0]) or _key(stem)}"
    if collection == "touhou":
        return f"{collection}/{_touhou_title(parts[:-1], stem)}"
    top = parts[0] if len(parts) > 1 else ""
    title = _title(stem, top)
    return f"{collection}/{top}/{title}" if top else f"{collection}/{title}"


def _touhou_title(folders: list[str], stem: str) -> str:
    parent = folders[-1] if folders else ""
    if _TRACK_NO.match(parent) and not re.match(r"^\d+\s*-", parent):
        stem = parent  # "[Unused Tracks] .../1. Hakurei Shrine Grounds/<any name>.mid"
    title = _TRACK_NO.sub("", re.split(r"[(\[]", stem, maxsplit=1)[0].strip())
    if "Arranges" in parent and " - " in title:
        title = title.split(" - ", 1)[1]
    return _key(title) or _key(stem)


def _touhou_aliases(folders: list[str], stem: str) -> list[str]:
    """Keys that tie misspelt or shortened titles of one tune together."""
    aliases = []
    match = _TRACK_NO.match(stem)
    if match:
        aliases.append("track:" + "/".join(folders) + "#" + str(int(match.group(1))))
    title = re.split(r"[(\[]", stem, maxsplit=1)[0]
    if "~" in title:
        aliases += ["part:" + k for k in map(_key, _TRACK_NO.sub("", title).split("~")) if len(k) >= 6]
    return aliases


def _title(stem: str, top: str) -> str:
    text = stem.replace("_", " ").strip()
    while True:
        shorter = _COPY_MARK.sub("", _TRAILING_GROUP.sub("", text)).strip()
        if shorter == text or not shorter:
            break
        text = shorter
    text = _TRACK_NO.sub("", text)
    spaced, artist = _spaced(text), _spaced(top.replace("_", " "))
    if artist and spaced.startswith(artist + " "):
        spaced = spaced[len(artist) + 1 :]
    return spaced.replace(" ", "") or _key(stem)


def _spaced(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(re.findall(r"[0-9a-z]+", folded.lower()))


def _key(text: str) -> str:
    return _spaced(text).replace(" ", "")


def _merge_aliases(sources: list[SourceFile], aliases: list[list[str]]) -> list[SourceFile]:
    """Files sharing a song id or an alias become one song, named by its smallest song id."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for src, keys in zip(sources, aliases):
        for key in keys:
            a, b = find(src.song_id), find(key)
            if a != b:
                parent[max(a, b)] = min(a, b)
    # a root may be an alias key: name each group by its smallest real song id instead
    name: dict[str, str] = {}
    for src in sources:
        root = find(src.song_id)
        name[root] = min(name.get(root, src.song_id), src.song_id)
    return [replace(src, song_id=name[find(src.song_id)]) for src in sources]


# ---- listing -----------------------------------------------------------------------------------


def _is_under(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _prefix(path: Path, base: Path) -> str:
    """`path` relative to `base`, for labels (resolved, so "." and symlinked folders do not matter)."""
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def _make_source(collection: str, label: str, relpath: str, path: Path, member: str | None,
                 digest: str) -> SourceFile:
    return SourceFile(label, collection, song_key(collection, relpath), path, member, digest)


def _digest_of(file: Path) -> str:
    try:
        return hashlib.sha1(file.read_bytes()).hexdigest()
    except OSError:
        return ""  # the build reports it as unreadable


def _folder_sources(folder: Path, base: Path) -> list[tuple[SourceFile, str]]:
    collection, prefix = collection_of(folder), _prefix(folder, base)
    listed = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            if is_midi_name(name):
                file = Path(dirpath) / name
                rel = file.relative_to(folder).as_posix()
                src = _make_source(collection, f"{prefix}/{rel}", rel, file, None, _digest_of(file))
                listed.append((src, rel))
    return listed


def _archive_sources(archive: Path, base: Path) -> list[tuple[SourceFile, str]]:
    collection, prefix = collection_of(archive), _prefix(archive, base)
    digests = {}
    try:
        with tarfile.open(archive, "r|*") as tar:
            for info in tar:
                handle = tar.extractfile(info) if info.isfile() and is_midi_name(info.name) else None
                if handle is not None:
                    digests[info.name] = hashlib.sha1(handle.read()).hexdigest()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ValueError(f"cannot read archive {archive}: {exc}") from exc
    listed = []
    for member in sorted(digests):
        rel = member.removeprefix("./")
        rel = rel.split("/", 1)[1] if rel.startswith(collection + "/") else rel
        src = _make_source(collection, f"{prefix}:{member}", rel, archive, member, digests[member])
        listed.append((src, rel))
    return listed


def _aliases(src: SourceFile, rel: str) -> list[str]:
    """Keys besides the song id that tie files into one song: same bytes, touhou spellings."""
    parts = rel.split("/")
    aliases = _touhou_aliases(parts[:-1], MIDI_NAME.sub("", parts[-1])) if src.collection == "touhou" else []
    return aliases + (["content:" + src.digest] if src.digest else [])
