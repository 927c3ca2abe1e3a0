"""The whole offline workflow in a process where opening a network socket raises.

A random-init torchvision ResNet-18 saved with torch.save plays the weights file a user
carried in. In a subprocess with tests/netblock on PYTHONPATH (its sitecustomize makes
AF_INET/AF_INET6 socket creation raise) and the Hugging Face offline variables removed
from the environment, it is imported into the library, trained on it for one epoch on
tiny images, evaluated, saved as a bundle and used for predictions.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r'''
import json, os, socket, sys
from pathlib import Path

try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM)
except OSError:
    pass
else:
    raise SystemExit("the network block is not active")

work = Path(sys.argv[1])
import numpy as np
import torch, torchvision
from PIL import Image

torch.manual_seed(0)
pth = work / "carried-in" / "resnet18-f37072fd.pth"
pth.parent.mkdir()
torch.save(torchvision.models.resnet18(weights=None).state_dict(), pth)

rng = np.random.default_rng(0)
for name, channel in (("red", 0), ("blue", 2)):
    d = work / "data" / name
    d.mkdir(parents=True)
    for i in range(10):
        a = rng.integers(0, 60, (32, 32, 3), dtype=np.uint8)
        a[..., channel] = rng.integers(180, 255, (32, 32), dtype=np.uint8)
        Image.fromarray(a).save(d / f"{name}{i}.png")

import engine.library as lib
imported = lib.import_path(pth)  # backbone guessed from the torchvision file name
entry = imported["entries"][0]

from engine.config import RunConfig
from engine.train import train
cfg = RunConfig(data=[str(work / "data")], backbone="resnet18", epochs=1, batch_size=4, input_size=32,
                runs_root=str(work / "runs"), name="offline", num_workers=0, device="cpu",
                feature_cache=False, freeze=0)
result = train(cfg)
run_dir = Path(result["run_dir"])
model_json = json.loads((run_dir / "model.json").read_text())

from engine.evaluate import evaluate_run
metrics = evaluate_run(run_dir)

from engine.bundle import load_bundle, save_bundle
bundle = save_bundle(run_dir, work / "out" / "offline.tsbundle")
predictor = load_bundle(bundle)
preds = predictor.predict_paths([str(work / "data" / "red" / "red0.png")], top_k=2)

import huggingface_hub.constants as hub_constants
print(json.dumps({
    "entry": entry["id"], "library_file": str(lib.library_root() / "resnet18" / "model.safetensors"),
    "weights_origin": model_json["weights_origin"], "stopped": result["stopped"],
    "metrics_keys": sorted(metrics), "bundle": str(bundle), "preds": preds,
    "hub_offline": bool(hub_constants.HF_HUB_OFFLINE),
    "sockets_still_blocked": socket.socket.__name__ == "_Blocked",
}))
'''


@pytest.mark.slow  # 15 s alone, up to a minute on a busy 2-core machine
def test_import_train_evaluate_save_predict_with_network_blocked(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests" / "netblock"), str(ROOT)])
    env["TRANSFER_STUDIO_DATA"] = str(tmp_path / "data-dir")
    env["TRANSFER_STUDIO_LIBRARY"] = str(tmp_path / "data-dir" / "library")
    env["TORCH_HOME"] = str(tmp_path / "torch-home")  # an empty hub cache: the library must supply the weights
    env["HF_HOME"] = str(tmp_path / "hf-home")
    env["OMP_NUM_THREADS"] = "2"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["sockets_still_blocked"]
    assert out["hub_offline"]  # the engine switched huggingface_hub offline although the env did not
    assert out["entry"] == "resnet18"
    assert out["weights_origin"] == out["library_file"]  # trained from the converted library copy
    assert out["stopped"] == "completed"
    assert out["metrics_keys"]
    assert Path(out["bundle"]).is_dir()
    (pred,) = out["preds"]
    assert "error" not in pred and {label for label, _ in pred["top"]} == {"red", "blue"}
    audit_log = [json.loads(line) for line in (tmp_path / "data-dir" / "audit.jsonl").read_text().splitlines()]
    assert [r["event"] for r in audit_log] == ["import", "train", "export"]
    export = audit_log[-1]
    assert export["bundle"] == out["bundle"] and "model.onnx" in export["files"]
    assert all(len(h) == 64 for h in export["files"].values())  # hashes, never contents
