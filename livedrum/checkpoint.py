"""One way to save and load the drummer, for train, eval, accompany and run.

A checkpoint is a plain dict (weights, model config, sampling calibration, training state),
loaded with `weights_only=True` so that opening a model file never runs code, and checked
against the shape this version of livedrum builds.
"""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path

import torch

from livedrum.model import DrumNet, ModelConfig

FORMAT = "livedrum-drumnet"
VERSION = 1


def save_checkpoint(path: Path, ckpt: dict) -> None:
    """Write atomically: an interrupted save never leaves a half file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({**ckpt, "format": FORMAT, "version": VERSION}, tmp)
    os.replace(tmp, path)


def _load_dict(path: Path | str) -> object:
    """Whatever a model file holds, loaded without running code; one-line ValueError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"model file not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for foreign or broken files
        raise ValueError(f"not a livedrum model file: {path} ({type(exc).__name__})") from exc


def read_checkpoint(path: Path | str) -> dict:
    """The checkpoint dict; ValueError with one line for anything that is not ours."""
    ckpt = _load_dict(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"not a livedrum model file: {path}")
    if ckpt.get("version") != VERSION:
        raise ValueError(f"model file {path} has format version {ckpt.get('version')}, "
                         f"this livedrum reads version {VERSION}")
    return ckpt


def model_kind(path: Path | str) -> str:
    """"drumnet" for our models, "thesis" and "thesis-wav" for the seed thesis' MIDI and WAV networks;
    ValueError otherwise."""
    ckpt = _load_dict(path)
    if isinstance(ckpt, dict) and ckpt.get("kind") in ("thesis", "thesis-wav"):
        return str(ckpt["kind"])
    if isinstance(ckpt, dict) and ckpt.get("format") == FORMAT:
        return "drumnet"
    raise ValueError(f"not a livedrum model file: {path}")


def config_from(ckpt: dict) -> ModelConfig:
    known = {f.name for f in fields(ModelConfig)}
    raw = ckpt.get("model_config", {})
    if not isinstance(raw, dict):
        raise ValueError(f"model file has damaged settings (model_config is a {type(raw).__name__})")
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"model file has unknown settings: {', '.join(sorted(unknown))}")
    return ModelConfig(**raw)


def load_model(path: Path | str, device: str | torch.device = "cpu") -> tuple[DrumNet, dict]:
    """The network (architecture from the checkpoint) and the checkpoint dict."""
    ckpt = read_checkpoint(path)
    try:
        return _build(ckpt, path, device)
    except (TypeError, AttributeError, RuntimeError, KeyError) as exc:
        raise ValueError(f"model file {path} is damaged ({type(exc).__name__})") from exc


def _build(ckpt: dict, path: Path | str, device: str | torch.device) -> tuple[DrumNet, dict]:
    cfg = config_from(ckpt)
    default = ModelConfig()
    if (cfg.band_features, cfg.position_features, cfg.n_voices, cfg.steps) != (
        default.band_features, default.position_features, default.n_voices, default.steps
    ):
        raise ValueError(f"model file {path} was trained on other features; retrain it")
    try:
        net = DrumNet(cfg)
    except (ValueError, TypeError, RuntimeError) as exc:  # sizes no network can have
        raise ValueError(f"model file {path} has impossible settings ({exc})") from exc
    try:
        net.load_state_dict(ckpt["model"])
    except (RuntimeError, KeyError) as exc:
        raise ValueError(f"model file {path} does not match its own config") from exc
    return net.to(device).eval(), ckpt
