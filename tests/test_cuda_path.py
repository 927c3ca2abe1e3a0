"""The engine's CUDA path, for a machine with a GPU (`pytest -m gpu`; skipped without one).

What only a GPU exercises: mixed precision (bf16, or fp16 with the grad scaler), channels_last and
cudnn.benchmark, pinned memory with DataLoader workers, halving the batch on a real out-of-memory,
and, with two or more GPUs, DDP over NCCL. benchmarks/gpu_check.sh runs these with the benchmarks.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine import protocol
from tests.test_train import make_images, tiny_config

ROOT = Path(__file__).resolve().parents[1]
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
pytestmark = [pytest.mark.gpu, needs_cuda]


def _finite(run_dir: Path) -> bool:
    from safetensors.torch import load_file

    return all(torch.isfinite(t.float()).all() for t in load_file(str(run_dir / "checkpoints" / "best" /
                                                                     "model.safetensors")).values())


@pytest.mark.parametrize("fp16", [False, True])
def test_mixed_precision_trains_on_the_gpu(tmp_path, monkeypatch, fp16):
    """bf16 where the card has it; fp16 (forced here) goes through the grad scaler."""
    from engine.train import device as dev, train

    if fp16:
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert dev.amp_dtype_for(torch.device("cuda")) == (torch.float16 if fp16 else torch.bfloat16)
    messages = []
    out = train(tiny_config(tmp_path, make_images(tmp_path / "data"), device="cuda", deterministic=False,
                            num_workers=2), reporter=messages.append)
    assert out["stopped"] == "completed" and _finite(Path(out["run_dir"]))
    assert any(isinstance(m, protocol.Status) and "on cuda" in m.detail for m in messages)
    assert torch.backends.cudnn.benchmark  # configure(): not deterministic on CUDA


def test_pinned_batches_in_channels_last_reach_the_gpu():
    from engine.train.batches import to_device

    x = torch.zeros(4, 3, 16, 16).pin_memory()
    y = torch.zeros(4, dtype=torch.long).pin_memory()
    xd, yd = to_device(x, y, torch.device("cuda"), channels_last=True)
    assert xd.is_cuda and yd.is_cuda and xd.is_contiguous(memory_format=torch.channels_last)


def test_a_real_out_of_memory_halves_the_batch_and_the_run_goes_on(tmp_path):
    """One global batch of every training image at 1024 px: more activation memory than a card has
    (the tiny CNN needs roughly 0.5-1 GB per image at this size); TS_OOM_IMAGES raises the count."""
    from engine.train import train

    per_class = int(os.environ.get("TS_OOM_IMAGES", "100"))
    data = make_images(tmp_path / "data", per_class=per_class)
    n_train = 3 * per_class - 2 * int(3 * per_class * 0.15)
    messages = []
    out = train(tiny_config(tmp_path, data, device="cuda", deterministic=False, input_size=1024, epochs=1,
                            batch_size=n_train, augment="none", val_fraction=0.15, test_fraction=0.15,
                            head_warmup=False, compare_probe=False, refit=False), reporter=messages.append)
    warnings = [m.text for m in messages if isinstance(m, protocol.Log) and "ran out of memory" in m.text]
    assert warnings, "no out-of-memory: raise TS_OOM_IMAGES for this card"
    assert out["stopped"] == "completed" and _finite(Path(out["run_dir"]))
    state = json.loads((Path(out["run_dir"]) / "checkpoints" / "last" / "state.json").read_text())
    assert state["loop"]["batch_size"] < n_train


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_two_gpus_train_what_one_gpu_trains(tmp_path):
    """NCCL, one process per GPU. Mixed precision makes the sums differ in their last bits, so the
    tolerance is looser than the CPU test's (tests/test_distributed.py)."""
    from engine.train import train

    data = make_images(tmp_path / "data", per_class=10)
    common = dict(device="cuda", epochs=2, batch_size=8, augment="none", freeze_bn_stats=True, refit=False)
    one = Path(train(tiny_config(tmp_path, data, name="one", **common))["run_dir"])
    args = ["--data", str(data), "--backbone", "test_tiny_cnn", "--freeze", "0", "--epochs", "2", "--batch-size", "8",
            "--lr", "0.003", "--input-size", "32", "--augment", "none", "--deterministic", "--runs-root",
            str(tmp_path / "runs"), "--name", "two", "--workers", "0", "--no-compare-probe", "--no-refit",
            "--freeze-bn-stats", "--patience", "0", "--val-fraction", "0.25", "--test-fraction", "0.25",
            "--device", "cuda", "--gpus", "2"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-m", "engine.cli", "train", *args], cwd=str(ROOT), env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    from safetensors.torch import load_file

    a = load_file(str(one / "checkpoints" / "last" / "model.safetensors"))
    b = load_file(str(tmp_path / "runs" / "two" / "checkpoints" / "last" / "model.safetensors"))
    worst = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    assert worst < 1e-2, worst
