"""Genre presets: readable TOML files in `presets/styles/` that set how the drummer plays.

A preset sets the feel (swing, intensity), the default complexity, which kit pieces play, the
bar length and how often a fill comes. Where `models/styles/<name>.pt` exists, the preset also plays
with that genre's fine-tuned decoder weights (livedrum/styles.py); otherwise the base network
plays it, steered by these settings.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from livedrum.vocab import PIECE_NAMES

STYLES_DIR = Path(__file__).resolve().parent.parent / "presets" / "styles"


@dataclass(frozen=True)
class Preset:
    name: str
    description: str = ""
    swing: float = 0.0
    complexity: float = 0.0
    intensity: float = 0.5
    beats_per_bar: int = 4
    fill_every: int = 8  # bars between automatic fills (0: none)
    kit_off: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for key in ("swing", "complexity", "intensity"):
            value = getattr(self, key)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ValueError(f"preset {self.name}: {key} must be a number within 0..1, got {value!r}")
        if not isinstance(self.beats_per_bar, int) or not 2 <= self.beats_per_bar <= 12:
            raise ValueError(f"preset {self.name}: beats_per_bar must be 2..12, got {self.beats_per_bar!r}")
        if not isinstance(self.fill_every, int) or self.fill_every < 0:
            raise ValueError(f"preset {self.name}: fill_every must be a whole number >= 0, got {self.fill_every!r}")
        unknown = set(self.kit_off) - set(PIECE_NAMES)
        if unknown:
            raise ValueError(f"preset {self.name}: unknown kit piece(s) {sorted(unknown)} "
                             f"(known: {', '.join(PIECE_NAMES)})")


def available_presets(styles_dir: Path = STYLES_DIR) -> list[str]:
    return sorted(p.stem for p in styles_dir.glob("*.toml"))


def load_preset(name: str, styles_dir: Path = STYLES_DIR) -> Preset:
    """A preset by name (or a path to a .toml); ValueError in one line for anything wrong."""
    path = Path(name) if name.endswith(".toml") else styles_dir / f"{name}.toml"
    try:
        found = path.is_file()
    except OSError:  # a name too long for the file system, say
        found = False
    if not found:
        known = ", ".join(available_presets(styles_dir)) or "(none)"
        raise ValueError(f"unknown preset {name!r} (known: {known})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"preset {path.name}: {exc}") from exc
    fields = {"name", "description", "swing", "complexity", "intensity", "beats_per_bar", "fill_every", "kit_off"}
    extra = set(data) - fields
    if extra:
        raise ValueError(f"preset {path.name}: unknown field(s) {sorted(extra)}")
    kit_off = data.pop("kit_off", [])
    if not isinstance(kit_off, list):
        raise ValueError(f"preset {path.name}: kit_off must be a list of kit pieces")
    data.setdefault("name", path.stem)
    return Preset(**data, kit_off=frozenset(kit_off))
