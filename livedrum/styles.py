"""Style-conditioned playing: per-genre fine-tuned decoder weights, stored as small delta files.

Each genre preset may have `models/styles/<name>.pt` next to the model it was tuned from: the
difference between its fine-tuned decoder tensors (input weights, biases, context, heads) and the
base model's. The encoder is never tuned, so its state stays valid when the style changes: live, a
style switch is an in-place copy of a few tensors between two windows. A preset without a style
file plays with the base weights (its sampling settings still steer it).

Genre labels come from the style corpora, whose file names (Casio) and folders (Yamaha) name the
genre; see `genre_of`.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from livedrum.grid import STEPS_PER_BEAT
from livedrum.model import DrumNet
from livedrum.vocab import KIT_PIECES, VOICE_OF_NOTE

STYLES = ("rock", "pop", "hiphop", "jazz", "blues", "shuffle", "funk", "latin", "ballad")
FORMAT = "livedrum-style-delta"
VERSION = 1
# What a style tunes: the decoder's input weights and biases, its context projection and heads.
# The recurrent weights, the decoder's initial state and the whole encoder stay the base model's.
TUNED = (
    "decoder.lstm.weight_ih_l0", "decoder.lstm.bias_ih_l0", "decoder.lstm.bias_hh_l0",
    "decoder.context.weight", "decoder.context.bias", "decoder.head.weight", "decoder.head.bias",
)

# Not a preset's genre, or not in 4/4: left out of every style.
_EXCLUDE = ("waltz", "polka", "march", "6-8", "9-8", "five-four", "country", "bluegrass", "cntry", "2 beat",
            "ragtime", "enka", "sirtaki", "hawaiian", "folklore", "arpeggio", "quartet", "symphony",
            "musette", "hullygully", "fingerpickin", "modpickin", "foxtrot", "fox trot", "baladi", "adani",
            "showtune", "christmas", "orchestral", "mexican")
# (keyword, genre) in priority order: the first keyword found in the style's name decides.
_KEYWORDS = (
    ("shuffle", "shuffle"), ("boogie", "shuffle"), ("skiffle", "shuffle"),
    ("blues", "blues"),
    ("ballad", "ballad"), ("bld", "ballad"), ("serenade", "ballad"), ("lovesong", "ballad"),
    ("slow rock", "ballad"), ("slowrock", "ballad"),
    ("hip-hop", "hiphop"), ("hiphop", "hiphop"), ("triphop", "hiphop"), ("newr&b", "hiphop"),
    ("modernr&b", "hiphop"), ("urban", "hiphop"), ("garage", "hiphop"),
    ("jazzclub", "jazz"), ("house", "pop"), ("club", "pop"), ("chart", "pop"),
    ("funk", "funk"), ("soul", "funk"), ("gospel", "funk"), ("disco", "funk"),
    ("jazz", "jazz"), ("swing", "jazz"), ("big band", "jazz"), ("bigband", "jazz"), ("bebop", "jazz"),
    ("dixie", "jazz"), ("jive", "jazz"),
    ("bossa", "latin"), ("samba", "latin"), ("salsa", "latin"), ("mambo", "latin"),
    ("chacha", "latin"), ("cha-cha", "latin"),
    ("rumba", "latin"), ("rhumba", "latin"), ("tango", "latin"), ("merengue", "latin"),
    ("cumbia", "latin"), ("reggae", "latin"), ("calypso", "latin"), ("montuno", "latin"),
    ("afrocuban", "latin"), ("latin", "latin"), ("bolero", "latin"), ("punta", "latin"),
    ("benguine", "latin"), ("flamenca", "latin"), ("tex-mex", "latin"), ("ska", "latin"),
    ("rock", "rock"), ("metal", "rock"), ("r&r", "rock"), ("twist", "rock"), ("8 beat", "rock"),
    ("8beat", "rock"),
    ("pop", "pop"), ("16 beat", "pop"), ("16beat", "pop"), ("dance", "pop"), ("euro", "pop"),
    ("techno", "pop"), ("trance", "pop"), ("r&b", "hiphop"), ("unplugged", "pop"),
)
# Yamaha genre folders, for style names no keyword places
_FOLDERS = {"ballad": "ballad", "dance": "pop", "latin": "latin", "pop&rock": "pop", "r&b": "funk",
            "swing&jazz": "jazz", "ballroom": "latin"}
_STYLE_FILE = re.compile(r"\.(sty|prs|sst|bcs)$", re.IGNORECASE)


def genre_of(label: str) -> str | None:
    """The preset genre of a corpus file from its label, or None: only style loops are labelled
    (Casio `styles/` by file name, Yamaha style files by name, then by genre folder)."""
    path = label.split(":", 1)[-1]
    parts = path.split("/")
    casio = len(parts) >= 2 and parts[-2] == "styles" and "casio" in parts
    yamaha = _STYLE_FILE.search(parts[-1]) is not None
    if not (casio or yamaha):
        return None
    name = re.sub(r"(\.[st]\d+)?\.(mid|sty|prs|sst|bcs)$", "", parts[-1], flags=re.IGNORECASE).lower()
    if any(word in name for word in _EXCLUDE):
        return None
    folder = parts[-2].lower() if yamaha and len(parts) >= 2 else ""
    if folder in ("ballad", "latin"):  # these folders name the feel better than the style's name
        return _FOLDERS[folder]
    for word, genre in _KEYWORDS:
        if word in name:
            return genre
    return _FOLDERS.get(folder)


def style_dir(model_path: Path | str) -> Path:
    """Where a model's style files live: `styles/` beside the model file."""
    return Path(model_path).parent / "styles"


def fingerprint(net: DrumNet) -> str:
    """A short hash of the base tensors a style replaces, so a delta is never added to another model."""
    digest = hashlib.sha1()
    params = dict(net.named_parameters())
    for name in TUNED:
        digest.update(params[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def save_style(path: Path, name: str, base: DrumNet, tuned: DrumNet, metrics: dict) -> Path:
    """Write tuned - base for the TUNED tensors (float32), with the base's fingerprint and metrics."""
    b, t = dict(base.named_parameters()), dict(tuned.named_parameters())
    delta = {k: (t[k].detach() - b[k].detach()).float().cpu().contiguous() for k in TUNED}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".pt.tmp")
    torch.save({"format": FORMAT, "version": VERSION, "style": name, "base": fingerprint(base),
                "delta": delta, "metrics": metrics}, tmp)
    tmp.replace(path)
    return path


def read_style(path: Path | str, net: DrumNet) -> dict:
    """A style file checked against `net` (shapes and base fingerprint); ValueError in one line."""
    path = Path(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise ValueError(f"style file not found: {path}") from exc
    except Exception as exc:  # torch raises many types for foreign or broken files
        raise ValueError(f"not a livedrum style file: {path} ({type(exc).__name__})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("delta"), dict):
        raise ValueError(f"not a livedrum style file: {path}")
    if data.get("version") != VERSION:
        raise ValueError(f"style file {path} has format version {data.get('version')}, this livedrum reads {VERSION}")
    params = dict(net.named_parameters())
    delta = data["delta"]
    if set(delta) != set(TUNED):
        raise ValueError(f"style file {path} tunes other tensors than this livedrum does; re-tune it")
    for key, value in delta.items():
        if not isinstance(value, torch.Tensor) or value.shape != params[key].shape:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"style file {path} does not fit the model: {key} is {shape}, "
                             f"the model's is {tuple(params[key].shape)}")
        if not torch.isfinite(value).all():
            raise ValueError(f"style file {path} is damaged: {key} holds NaN or infinity")
    if data.get("base") != fingerprint(net):
        raise ValueError(f"style file {path} was tuned from another model than this one; re-tune it")
    return data


@dataclass
class StyleBank:
    """The base decoder tensors and every style's, loaded up front; `use` swaps them in place.

    In place, because the engine reads the decoder's parameters on every window: a copy between two
    windows changes how the next one plays, while the encoder state (never tuned) carries over.
    """

    net: DrumNet
    base: dict[str, torch.Tensor]
    styles: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    metrics: dict[str, dict] = field(default_factory=dict)
    current: str | None = None

    @classmethod
    def load(cls, net: DrumNet, folder: Path | str, names: tuple[str, ...] | list[str] = STYLES) -> StyleBank:
        """Every style file of `names` found in `folder`, for `net` holding its base weights (as
        loaded); a broken or foreign one is a ValueError (one line)."""
        params = dict(net.named_parameters())
        bank = cls(net, {k: params[k].detach().clone() for k in TUNED})
        for name in names:
            path = Path(folder) / f"{name}.pt"
            if path.is_file():
                data = read_style(path, net)
                bank.styles[name] = {k: bank.base[k] + v.to(bank.base[k].device) for k, v in data["delta"].items()}
                bank.metrics[name] = data.get("metrics", {}) if isinstance(data.get("metrics"), dict) else {}
        return bank

    def use(self, name: str | None) -> bool:
        """Play `name`'s weights (None or a style without a file: the base's); True if it has its own."""
        tensors = self.styles.get(name) if name is not None else None
        params = dict(self.net.named_parameters())
        with torch.no_grad():
            for key, value in (tensors or self.base).items():
                params[key].copy_(value)
        self.current = name if tensors is not None else None
        return tensors is not None


def styled(net: DrumNet, model_path: Path | str, preset: str | None, quiet: bool = False) -> StyleBank | None:
    """Load the style bank beside `model_path` into `net` and switch to `preset`'s style.

    None when the model has no style files at all. A preset without its own file plays the base
    weights, said in one line on stderr (unless quiet)."""
    folder = style_dir(model_path)
    if not folder.is_dir() or not any(folder.glob("*.pt")):
        return None
    bank = StyleBank.load(net, folder)
    if preset is not None and not bank.use(preset) and not quiet:
        print(f"preset {preset}: no style weights in {folder} (too little {preset} data to tune them; see "
              "models/README.md), playing the base weights steered by the preset", file=sys.stderr)
    return bank


def playing_stats(hits: np.ndarray, beats_per_bar: int = 4) -> dict[str, float]:
    """What a style should change, from hits on the step grid (T, V) that start on a bar line:
    density (hits per beat), swing (mean place of off-beat hi-hat/ride hits within the beat: 0.5
    straight, 0.67 triplet swing), backbeat (share of snare hits on beats 2 and 4) and the snare's
    share of hits per eighth-note slot of the bar (where the snare lands)."""
    S = STEPS_PER_BEAT
    steps = np.arange(len(hits))
    where = (steps % S) / S
    beat = (steps // S) % beats_per_bar
    hat = hits[:, [VOICE_OF_NOTE[n] for n in (42, 44, 46, 51, 59)]].any(axis=1)
    off = hat & (where > 0.3) & (where < 0.9)
    snare = hits[:, [VOICE_OF_NOTE[n] for n in KIT_PIECES["snare"]]].any(axis=1)
    slots = (steps % (S * beats_per_bar)) * 2 // S  # eighth-note slot of the bar, 0 .. 2*bpb-1
    on_grid = snare & (steps % (S // 2) == 0)
    per_slot = np.bincount(slots[snare], minlength=2 * beats_per_bar) / max(1, snare.sum())
    return {
        "density": float(hits.sum()) / max(1.0, len(hits) / S),
        "swing": float(where[off].mean()) if off.any() else float("nan"),
        "backbeat": float((on_grid & (where == 0) & (beat % 2 == 1)).sum()) / max(1, snare.sum()),
        "snare_per_beat": float(snare.sum()) / max(1.0, len(hits) / S),
        "snare_slots": per_slot.round(3).tolist(),
    }
