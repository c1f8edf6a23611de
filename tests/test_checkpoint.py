"""Saving and loading the drummer: round trip, foreign and broken files, no code run on load."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from livedrum.checkpoint import FORMAT, VERSION, config_from, load_model, read_checkpoint, save_checkpoint
from livedrum.model import DrumNet, ModelConfig

SMALL = ModelConfig(enc_hidden=8, dec_hidden=8)


def small_checkpoint(cfg: ModelConfig = SMALL, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    net = DrumNet(cfg)
    return {"model_config": cfg.to_dict(), "model": net.state_dict(), "sampling": {"bias": -0.4},
            "epoch": 3, "history": [{"epoch": 1, "val_loss": 0.5}]}


def _touch(path: str) -> None:
    Path(path).write_text("code ran")


class Payload:
    """Unpickling this runs `_touch`: what a hostile model file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return _touch, (self.marker,)


def test_round_trip_keeps_weights_config_and_extras(tmp_path):
    ckpt = small_checkpoint()
    path = tmp_path / "deep" / "folder" / "model.pt"
    save_checkpoint(path, ckpt)
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no .tmp left
    back = read_checkpoint(str(path))
    assert back["format"] == FORMAT and back["version"] == VERSION
    assert back["sampling"] == {"bias": -0.4} and back["epoch"] == 3 and back["history"] == ckpt["history"]
    assert config_from(back) == SMALL
    assert back["model"].keys() == ckpt["model"].keys()
    for k, v in ckpt["model"].items():
        assert torch.equal(back["model"][k], v)


def test_load_model_builds_the_architecture_from_the_checkpoint(tmp_path):
    ckpt = small_checkpoint()
    save_checkpoint(tmp_path / "m.pt", ckpt)
    net, back = load_model(tmp_path / "m.pt")
    assert isinstance(net, DrumNet) and not net.training
    assert net.cfg == SMALL and net.encoder.lstm.hidden_size == 8
    for k, v in net.state_dict().items():
        assert torch.equal(v, ckpt["model"][k])
    assert back["sampling"] == {"bias": -0.4}


def test_saving_again_replaces_the_file(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, small_checkpoint(seed=0))
    save_checkpoint(path, small_checkpoint(seed=1) | {"epoch": 9})
    net, back = load_model(path)
    assert back["epoch"] == 9
    expected = small_checkpoint(seed=1)["model"]["decoder.head.bias"]
    assert torch.equal(net.state_dict()["decoder.head.bias"], expected)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ValueError, match="model file not found: .*nothing.pt"):
        read_checkpoint(tmp_path / "nothing.pt")
    with pytest.raises(ValueError, match="model file not found"):
        load_model(tmp_path)


@pytest.mark.parametrize("content", [
    bytes(range(256)) * 8,  # random-looking bytes
    b"",
    b"PK\x03\x04 a zip that stops here",
    pickle.dumps({"format": FORMAT, "version": VERSION}, protocol=0)[:-3],  # cut-off pickle
])
def test_broken_files_are_not_model_files(tmp_path, content):
    path = tmp_path / "m.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"^not a livedrum model file: .*m\.pt \(\w+\)$"):
        read_checkpoint(path)


def test_truncated_checkpoint_is_refused(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, small_checkpoint())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a livedrum model file"):
        load_model(path)


@pytest.mark.parametrize("obj", [
    torch.zeros(3),
    {"model": {}, "model_config": {}},  # a dict, but not ours
    {"format": "something-else", "version": 1},
    [FORMAT, VERSION],
])
def test_torch_files_that_are_not_ours(tmp_path, obj):
    path = tmp_path / "other.pt"
    torch.save(obj, path)
    with pytest.raises(ValueError, match=r"^not a livedrum model file: .*other\.pt$"):
        read_checkpoint(path)


def test_other_format_version_is_named(tmp_path):
    path = tmp_path / "m.pt"
    torch.save({**small_checkpoint(), "format": FORMAT, "version": VERSION + 1}, path)
    message = f"has format version {VERSION + 1}, this livedrum reads version {VERSION}"
    with pytest.raises(ValueError, match=message):
        load_model(path)


def test_a_pickled_object_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    hostile = {"format": FORMAT, "version": VERSION, "model_config": {}, "model": {}, "x": Payload(marker)}
    torch.save(hostile, path)
    with pytest.raises(ValueError, match=r"not a livedrum model file: .*evil\.pt \(UnpicklingError\)"):
        load_model(path)
    assert not marker.exists()
    # the file really is hostile: a plain torch.load would have run the payload
    torch.load(path, weights_only=False)
    assert marker.read_text() == "code ran"


def test_loads_with_weights_only(tmp_path, monkeypatch):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    save_checkpoint(tmp_path / "m.pt", small_checkpoint())
    load_model(tmp_path / "m.pt")
    assert calls and all(c.get("weights_only") is True for c in calls)
    assert all(str(c.get("map_location")) == "cpu" for c in calls)


def test_weights_that_do_not_match_the_config_are_refused(tmp_path):
    ckpt = small_checkpoint()
    ckpt["model"] = DrumNet(ModelConfig(enc_hidden=16, dec_hidden=8)).state_dict()  # other shapes
    save_checkpoint(tmp_path / "m.pt", ckpt)
    with pytest.raises(ValueError, match="does not match its own config"):
        load_model(tmp_path / "m.pt")


def test_missing_weights_are_refused(tmp_path):
    ckpt = small_checkpoint()
    del ckpt["model"]["decoder.head.weight"]
    save_checkpoint(tmp_path / "a.pt", ckpt)
    with pytest.raises(ValueError, match="does not match its own config"):
        load_model(tmp_path / "a.pt")
    del ckpt["model"]
    save_checkpoint(tmp_path / "b.pt", ckpt)
    with pytest.raises(ValueError, match="does not match its own config"):
        load_model(tmp_path / "b.pt")


def test_a_model_trained_on_other_features_is_refused(tmp_path):
    cfg = ModelConfig(band_features=SMALL.band_features + 1, enc_hidden=8, dec_hidden=8)
    save_checkpoint(tmp_path / "m.pt", small_checkpoint(cfg))
    with pytest.raises(ValueError, match="was trained on other features; retrain it"):
        load_model(tmp_path / "m.pt")


def test_unknown_settings_are_named(tmp_path):
    ckpt = small_checkpoint()
    ckpt["model_config"] = {**ckpt["model_config"], "heads": 4, "attention": True}
    save_checkpoint(tmp_path / "m.pt", ckpt)
    with pytest.raises(ValueError, match="unknown settings: attention, heads"):
        load_model(tmp_path / "m.pt")


@pytest.mark.parametrize("changes", [
    {"model": torch.zeros(3)},
    {"model_config": {"enc_hidden": "8"}},
    {"model_config": [1, 2]},
])
def test_malformed_checkpoint_of_ours_is_a_value_error(tmp_path, changes):
    save_checkpoint(tmp_path / "m.pt", {**small_checkpoint(), **changes})
    with pytest.raises(ValueError):
        load_model(tmp_path / "m.pt")
