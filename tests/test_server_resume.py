"""A real engine killed with SIGKILL mid-run resumes from its last checkpoint and
reaches the same final epoch (the run directory is the only state)."""
from __future__ import annotations

import importlib.util
import json
import os
import signal
from pathlib import Path

import pytest

from engine import protocol
from engine.selftest import EngineProcess

TRAINING_MODULES = ("engine.train", "engine.data.transforms", "engine.evaluate",
                    "engine.freezing", "engine.backbones")


def _missing_modules() -> list[str]:
    """Modules a real run needs that are not importable (found without importing torch)."""
    missing = []
    for name in TRAINING_MODULES:
        try:
            spec = importlib.util.find_spec(name)
        except ImportError:
            spec = None
        if spec is None or spec.origin in (None, "namespace"):
            missing.append(name)
    return missing


needs_training = pytest.mark.skipif(bool(_missing_modules()),
                                    reason=f"training stack not importable yet: {_missing_modules()}")


def tiny_image_folder(root: Path, classes: int = 3, per_class: int = 8, size: int = 32) -> Path:
    """Solid-ish colour images, one colour per class: learnable in a few steps."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        folder = root / f"class_{c}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
            pixels[..., c % 3] += 180
            Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def tiny_config(data: Path, runs: Path, epochs: int) -> dict:
    return {"data": [str(data)], "backbone": "test_tiny_cnn", "epochs": epochs, "batch_size": 4,
            "input_size": 32, "num_workers": 0, "device": "cpu", "runs_root": str(runs),
            "early_stopping_patience": None, "augment": "none"}


def last_state(run_dir: Path) -> dict:
    return json.loads((run_dir / "checkpoints" / "last" / "state.json").read_text())


@needs_training
@pytest.mark.slow  # two engine start-ups and a short run: ~20 s alone, up to ~50 s on a busy 2-core box
def test_sigkill_mid_run_then_resume_reaches_the_final_epoch(tmp_path):
    data = tiny_image_folder(tmp_path / "data")
    epochs = 2
    with open(tmp_path / "engine1.log", "wb") as err:
        eng = EngineProcess(stderr=err)
        try:
            eng.wait_for(protocol.Hello, timeout=60)
            eng.send(protocol.Start(config=tiny_config(data, tmp_path / "runs", epochs)))
            ck = eng.wait_for(protocol.Checkpoint, lambda c: c.kind == "last", timeout=300)
            os.kill(eng.proc.pid, signal.SIGKILL)
            assert eng.proc.wait(30) == -signal.SIGKILL
        finally:
            eng.close()
    assert not any(isinstance(m, protocol.Bye) for m in eng.history)
    run_dir = Path(ck.path).parents[1]
    killed_at = last_state(run_dir)["epoch"]
    assert killed_at < epochs and not (run_dir / "metrics.json").exists()

    with open(tmp_path / "engine2.log", "wb") as err:
        eng = EngineProcess(stderr=err)
        try:
            eng.wait_for(protocol.Hello, timeout=60)
            eng.send(protocol.Start(config={}, resume_from=str(run_dir)))
            bye = eng.wait_for(protocol.Bye, timeout=300)
        finally:
            assert eng.close() == 0
    assert bye.reason == "completed"
    logs = [m.text for m in eng.history if isinstance(m, protocol.Log)]
    assert any(f"Resuming after epoch {killed_at}" in t for t in logs), logs
    assert [m.epoch for m in eng.history if isinstance(m, protocol.EpochEnd)] == list(range(killed_at + 1, epochs + 1))
    assert last_state(run_dir)["epoch"] == epochs
    assert (run_dir / "metrics.json").is_file()


@needs_training
def test_eof_mid_run_cancels_checkpoints_and_exits(tmp_path):
    """The app died (stdin closed): the engine stops at the next batch, saves last/, exits 0."""
    data = tiny_image_folder(tmp_path / "data")
    with open(tmp_path / "engine.log", "wb") as err:
        eng = EngineProcess(stderr=err)
        eng.wait_for(protocol.Hello, timeout=60)
        eng.send(protocol.Start(config=tiny_config(data, tmp_path / "runs", epochs=200)))
        eng.wait_for(protocol.Progress, lambda p: p.phase == "train", timeout=300)
        assert eng.close(timeout=120) == 0
    byes = []
    while True:
        try:
            byes.append(eng.wait_for(protocol.Bye, timeout=5).reason)
        except EOFError:
            break
    assert byes == ["cancelled", "shutdown"]
    ck = [m for m in eng.history if isinstance(m, protocol.Checkpoint) and m.kind == "last"][-1]
    state = last_state(Path(ck.path).parents[1])
    assert state["partial"] is True and state["epoch"] < 200  # saved at the batch where it stopped
