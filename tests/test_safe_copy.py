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


def test_train_with_a_carried_in_pth_loads_the_converted_copy(tmp_path):
    spec = get_spec("test_tiny_cnn")
    src = tmp_path / "mine.pth"
    torch.save(build_model(spec, 10, weights=None).state_dict(), src)
    cfg = RunConfig(data=[DEMO], backbone="test_tiny_cnn", weights=str(src), epochs=1, input_size=32,
                    freeze=1, runs_root=str(tmp_path / "runs"), name="mine")
    result = train(cfg)
    import json
    from pathlib import Path

    meta = json.loads((Path(result["run_dir"]) / "model.json").read_text())
    assert meta["weights_origin"].endswith(".safetensors") and str(converted_dir()) in meta["weights_origin"]
