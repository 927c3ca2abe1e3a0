"""Pickled weights named with --weights (or found in the torch hub cache) are never unpickled by the engine."""
import os

import pytest
import torch
from safetensors.torch import load_file

from engine.backbones import build_model, get_spec
from engine.config import RunConfig
from engine.errors import WeightsError
from engine.library.safe_copy import converted_dir, safe_weights
from engine.train import train

DEMO = os.path.join(os.path.dirname(__file__), "..", "resources", "demo", "images")


class Payload:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def test_pth_is_converted_once_in_another_process_and_reused(tmp_path):
    spec = get_spec("test_tiny_cnn")
    torch.manual_seed(1)
    sd = build_model(spec, 10, weights=None).state_dict()
    src = tmp_path / "carried.pth"
    torch.save(sd, src)

    copy = safe_weights(spec, src)

    assert copy.suffix == ".safetensors" and converted_dir() in copy.parents
    loaded = load_file(str(copy))
    assert all(torch.equal(loaded[k], sd[k]) for k in sd)
    stamp = copy.stat().st_mtime_ns
    assert safe_weights(spec, src) == copy and copy.stat().st_mtime_ns == stamp  # cached by content hash
    torch.manual_seed(2)
    torch.save(build_model(spec, 10, weights=None).state_dict(), src)  # same name, new content
    assert safe_weights(spec, src) != copy
    st = tmp_path / "already.safetensors"
    st.write_bytes(copy.read_bytes())
    assert safe_weights(spec, st) == st  # safetensors are read as they are


def test_train_with_booby_trapped_weights_is_refused_before_the_payload_runs(tmp_path):
    sentinel = tmp_path / "PAYLOAD-RAN"
    src = tmp_path / "evil.pth"
    torch.save({"conv_stem.weight": torch.zeros(2), "x": Payload(f"touch {sentinel}")}, src)
    cfg = RunConfig(data=[DEMO], backbone="test_tiny_cnn", weights=str(src), epochs=1, input_size=32,
                    runs_root=str(tmp_path / "runs"), name="evil")
    with pytest.raises(WeightsError, match="asks to run code"):
        train(cfg)
    assert not sentinel.exists()


def test_train_with_a_carried_in_pth_loads_the_converted_copy(tmp_path, monkeypatch):
    spec = get_spec("test_tiny_cnn")
    src = tmp_path / "mine.pth"
    torch.save(build_model(spec, 10, weights=None).state_dict(), src)
    cfg = RunConfig(data=[DEMO], backbone="test_tiny_cnn", weights=str(src), epochs=1, input_size=32,
                    freeze=1, runs_root=str(tmp_path / "runs"), name="mine")

    def no_unpickling_here(*args, **kwargs):
        raise AssertionError("the engine process opened a pickle; only the conversion subprocess may")

    monkeypatch.setattr(torch, "load", no_unpickling_here)  # the conversion runs in its own process
    result = train(cfg)
    import json
    from pathlib import Path

    meta = json.loads((Path(result["run_dir"]) / "model.json").read_text())
    assert meta["weights_origin"].endswith(".safetensors") and str(converted_dir()) in meta["weights_origin"]


def _tiny_state_dict(spec, poison=None):
    torch.manual_seed(1)
    sd = build_model(spec, 10, weights=None).state_dict()
    if poison is not None:
        name = next(k for k, v in sd.items() if v.is_floating_point())
        sd[name] = sd[name].clone()
        sd[name].view(-1)[0] = poison
    return sd


@pytest.mark.parametrize("poison", [float("nan"), float("inf")])
def test_train_refuses_safetensors_with_nan_or_inf_before_any_run_folder_like_a_library_import(tmp_path, poison):
    """Fault audit: `train --weights` skipped the finite check `library import` makes; the head was
    fitted on NaN features, the run failed with 'loss became nan' and left an empty run folder."""
    from safetensors.torch import save_file

    from engine.library import import_path

    spec = get_spec("test_tiny_cnn")
    src = tmp_path / "carried.safetensors"
    save_file(_tiny_state_dict(spec, poison), str(src))
    cfg = RunConfig(data=[DEMO], backbone="test_tiny_cnn", weights=str(src), epochs=1, input_size=32,
                    runs_root=str(tmp_path / "runs"), name="bad")
    with pytest.raises(WeightsError, match="carried.safetensors has NaN or infinite values") as trained:
        train(cfg)
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())
    with pytest.raises(WeightsError) as imported:
        import_path(src, "test_tiny_cnn", root=tmp_path / "library")
    assert trained.value.message == imported.value.message  # the same check, the same words


def test_train_refuses_safetensors_that_do_not_fit_before_any_run_folder(tmp_path):
    from safetensors.torch import save_file

    src = tmp_path / "other.safetensors"
    save_file({"encoder.weight": torch.zeros(3, 3), "encoder.bias": torch.zeros(3)}, str(src))
    cfg = RunConfig(data=[DEMO], backbone="test_tiny_cnn", weights=str(src), epochs=1, input_size=32,
                    runs_root=str(tmp_path / "runs"), name="misfit")
    with pytest.raises(WeightsError, match="other.safetensors"):
        train(cfg)
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_a_bundle_names_its_starting_weights_by_file_name_and_hash_not_by_the_users_folders(tmp_path):
    """Fault audit: the manifest's weights_origin was the absolute path of the weights file."""
    import hashlib
    import json

    from safetensors.torch import save_file

    from engine.bundle import save_bundle

    spec = get_spec("test_tiny_cnn")
    src = tmp_path / "home" / "alice" / "private models" / "mine.safetensors"
    src.parent.mkdir(parents=True)
    save_file(_tiny_state_dict(spec), str(src))
    result = train(RunConfig(data=[DEMO], backbone="test_tiny_cnn", weights=str(src), epochs=1, input_size=32,
                             freeze=1, runs_root=str(tmp_path / "runs"), name="mine"))
    out = save_bundle(result["run_dir"], tmp_path / "out" / "mine.tsbundle")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["backbone"]["weights_origin"] == "mine.safetensors"
    assert manifest["backbone"]["weights_sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert "alice" not in (out / "manifest.json").read_text() and "alice" not in (out / "MODEL_CARD.md").read_text()
