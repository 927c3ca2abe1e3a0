"""Training engine: resume equality, cached linear probe, bad configurations, run directory."""
import json
import threading

import numpy as np
import pytest
from PIL import Image

from engine import protocol
from engine.config import ConfigError, RunConfig
from engine.errors import EngineError


def make_images(root, classes=3, per_class=8, size=32, seed=0):
    """Classes that differ in a learnable way: colour and a bar position."""
    rng = np.random.default_rng(seed)
    for c in range(classes):
        d = root / f"class_{c}"
        d.mkdir(parents=True)
        for i in range(per_class):
            a = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
            a[:, :, c % 3] += 150
            a[c * 8:(c * 8) + 6, :, :] = 255
            Image.fromarray(a).save(d / f"{i}.png")
    return root


def tiny_config(tmp_path, data, **kw):
    base = dict(data=[str(data)], backbone="test_tiny_cnn", freeze=0, epochs=3, batch_size=8, lr=3e-3,
                input_size=32, augment="light", early_stopping_patience=None, deterministic=True,
                runs_root=str(tmp_path / "runs"), name="run", val_fraction=0.25, test_fraction=0.25,
                num_workers=0, compare_probe=False,  # the network's own machinery: the contenders have their
                compare_simple=False)  # own tests (test_probe_contender.py, test_simple_contender.py)
    base.update(kw)
    return RunConfig(**base)


def _weights(run_dir, kind="last"):
    from safetensors.torch import load_file

    return load_file(str(run_dir / "checkpoints" / kind / "model.safetensors"))


def test_three_epochs_equal_two_plus_resume_plus_one(tmp_path):
    from engine.train import train

    data = make_images(tmp_path / "data")
    straight = train(tiny_config(tmp_path, data, name="straight"))
    assert straight["stopped"] == "completed"

    cancel = threading.Event()

    def stop_after_two(msg):
        if isinstance(msg, protocol.EpochEnd) and msg.epoch == 2:
            cancel.set()

    first = train(tiny_config(tmp_path, data, name="split"), reporter=stop_after_two, cancel=cancel)
    assert first["stopped"] == "cancelled"
    run_dir = tmp_path / "runs" / "split"
    state = json.loads((run_dir / "checkpoints" / "last" / "state.json").read_text())
    assert state["epoch"] == 2
    # the callbacks' own resume state travels in the checkpoint: the head is fitted (never again over
    # fine-tuned weights) and the blend knows its start file
    cbs = state["callbacks"]
    assert cbs["HeadWarmup"]["done"] is True and cbs["HeadWarmup"]["steps"] > 0
    assert cbs["WeightBlend"]["start"] == "last-start.safetensors" and 0 < cbs["WeightBlend"]["share"] < 1
    assert (run_dir / "checkpoints" / cbs["WeightBlend"]["start"]).is_file()
    resumed = train(None, resume_from=str(run_dir))
    assert resumed["stopped"] == "completed"

    a, b = _weights(tmp_path / "runs" / "straight"), _weights(run_dir)
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] == b[k]).all(), k
    import torch

    # the saved model blends with the weights the run began from, kept on disk across the resume
    best_a, best_b = _weights(tmp_path / "runs" / "straight", "best"), _weights(run_dir, "best")
    assert all(torch.equal(best_a[k], best_b[k]) for k in best_a)
    # the weights really changed during training
    from engine.backbones import build_model, get_spec

    torch.manual_seed(0)
    init = build_model(get_spec("test_tiny_cnn"), 3, weights=None).state_dict()
    assert any(not torch.equal(init[k].float(), a[k].float()) for k in a if a[k].is_floating_point())


def test_run_directory_contents(tmp_path):
    from engine.train import train

    data = make_images(tmp_path / "data")
    events = []
    result = train(tiny_config(tmp_path, data, epochs=1), reporter=events.append)
    run_dir = tmp_path / "runs" / "run"
    for name in ("config.json", "model.json", "splits.json", "data_report.json", "events.jsonl",
                 "checkpoints/last/model.safetensors", "checkpoints/best/model.safetensors",
                 "checkpoints/last/optimizer.safetensors", "checkpoints/best/state.json"):
        assert (run_dir / name).is_file(), name
    assert not list(run_dir.rglob("*.pt")) and not list(run_dir.rglob("*.pkl"))
    types = {type(m).__name__ for m in events}
    assert {"Status", "Metric", "EpochEnd", "Checkpoint", "Result"} <= types
    logged = [json.loads(line)["type"] for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert "epoch_end" in logged and "result" in logged
    assert result["run_dir"] == str(run_dir)
    assert RunConfig.from_dict(json.loads((run_dir / "config.json").read_text())).epochs == 1


def test_cached_linear_probe_matches_uncached(tmp_path):
    """The feature cache is an optimisation only: same weights as running the frozen backbone each step."""
    from engine.backbones import get_spec
    from engine.train import train

    data = make_images(tmp_path / "data")
    k = len(get_spec("test_tiny_cnn").stages)
    cached = train(tiny_config(tmp_path, data, name="cached", freeze=k, augment="none", epochs=2))
    plain = train(tiny_config(tmp_path, data, name="plain", freeze=k, augment="none", epochs=2,
                              feature_cache=False))
    a, b = _weights(tmp_path / "runs" / "cached"), _weights(tmp_path / "runs" / "plain")
    for key in a:
        assert np.allclose(a[key].float().numpy(), b[key].float().numpy(), atol=1e-5), key
    assert cached["stopped"] == plain["stopped"] == "completed"


@pytest.mark.parametrize("change, words", [
    (dict(backbone="no_such_net"), "no_such_net"),
    (dict(freeze=99), "out of range"),
    (dict(batch_size=0), "Batch size"),
    (dict(backbone="test_tiny_bert"), "text"),
    (dict(epochs=0), "Epochs"),
    (dict(finetune_blend=0.0), "blend"),
])
def test_bad_configuration_fails_before_any_work(tmp_path, change, words):
    from engine.train import train

    data = make_images(tmp_path / "data")
    with pytest.raises((ConfigError, EngineError)) as err:
        train(tiny_config(tmp_path, data, **change))
    assert words in str(err.value)
    assert not (tmp_path / "runs" / "run" / "checkpoints").exists()


def test_cancel_keeps_a_resumable_checkpoint(tmp_path):
    from engine.train import train

    data = make_images(tmp_path / "data", per_class=12)
    cancel = threading.Event()

    def cancel_on_first_metric(msg):
        if isinstance(msg, protocol.Metric):
            cancel.set()

    r = train(tiny_config(tmp_path, data, epochs=2, batch_size=2), reporter=cancel_on_first_metric, cancel=cancel)
    assert r["stopped"] == "cancelled"
    state = json.loads((tmp_path / "runs" / "run" / "checkpoints" / "last" / "state.json").read_text())
    assert state["partial"] is True and state["loop"]["samples_in_epoch"] > 0
    done = train(None, resume_from=r["run_dir"])
    assert done["stopped"] == "completed"
    assert json.loads((tmp_path / "runs" / "run" / "checkpoints" / "last" / "state.json").read_text())["epoch"] == 2


def test_training_names_the_files_it_left_out(tmp_path):
    from engine.train import train

    data = make_images(tmp_path / "data")
    (data / "class_0" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n cut off")
    (data / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (data / "class_1" / "copy.png").write_bytes((data / "class_0" / "0.png").read_bytes())  # a label conflict
    seen = []
    out = train(tiny_config(tmp_path, data, epochs=1), reporter=seen.append)
    assert out["stopped"] == "completed"
    warnings = [m.text for m in seen if isinstance(m, protocol.Log) and m.level == "warning"]
    assert any(w.startswith("Left out 1 file that could not be used") and str(data / "class_0" / "broken.png") in w
               for w in warnings), warnings
    assert any(w.startswith("Left out 1 file that is not data") and str(data / ".DS_Store") in w for w in warnings)
    logged = [json.loads(line) for line in (tmp_path / "runs" / "run" / "events.jsonl").read_text().splitlines()]
    assert sum(e["type"] == "log" and e["text"].startswith("Left out 1 file") for e in logged) == 2
    assert any(w.startswith("Left out 2 files that have an unknown label") and str(data / "class_1" / "copy.png") in w
               for w in warnings)


def test_reported_learning_rate_is_the_one_set_not_an_earlier_stages(tmp_path):
    """The plot's learning rate follows --lr (the head's); early stages learn at a fraction of it."""
    from engine.train import train

    data = make_images(tmp_path / "data")
    events = []
    train(tiny_config(tmp_path, data, epochs=2, freeze=1, lr=1e-3, lr_stage_decay=0.1), reporter=events.append)
    lrs = [m.values["lr"] for m in events if isinstance(m, protocol.Metric) and "lr" in m.values]
    assert lrs and max(lrs) <= 1e-3 * (1 + 1e-9)
    assert max(lrs) > 0.5e-3  # the warmed-up peak is near --lr, not --lr x 0.1 ** stages


def test_early_stopping_waits_until_the_learning_rate_has_halved(tmp_path):
    """While the learning rate is high, validation swings; a run may stop only past the cosine's midpoint."""
    from engine.train import train
    from engine.train.loop import earliest_stop, lr_factor

    assert [earliest_stop(e, 0.1) for e in (1, 3, 10, 22)] == [1, 2, 6, 13]
    for epochs in (3, 10, 22):  # the first epoch allowed to stop is the first that ends below half the peak
        first = earliest_stop(epochs, 0.1)
        assert lr_factor(first / epochs, 0.1) <= 0.5 < lr_factor((first - 1) / epochs, 0.1)
    data = make_images(tmp_path / "data")
    # a learning rate this small changes nothing, so validation never improves after epoch 1
    out = train(tiny_config(tmp_path, data, epochs=10, lr=1e-12, early_stopping_patience=1, head_warmup=False,
                            freeze_bn_stats=True, refit=False))
    state = json.loads((tmp_path / "runs" / "run" / "checkpoints" / "last" / "state.json").read_text())["loop"]
    assert out["stopped"] == "early_stopping"
    assert state["epoch"] == 6 and state["best_epoch"] == 1  # not epoch 2, where patience 1 alone would end it


@pytest.mark.parametrize("share", [0.5, 1.0])
def test_saved_model_blends_the_fine_tune_with_where_it_began(tmp_path, share):
    """WiSE-FT: best = share * fine-tuned + (1 - share) * (pretrained + fitted head); 1 = off."""
    import torch

    from engine.train import train

    data = make_images(tmp_path / "data")
    out = train(tiny_config(tmp_path, data, epochs=1, head_warmup=True, refit=False, finetune_blend=share))
    run_dir = tmp_path / "runs" / "run"
    last, best = _weights(run_dir, "last"), _weights(run_dir, "best")
    state = json.loads((run_dir / "checkpoints" / "best" / "state.json").read_text())
    start_file = run_dir / "checkpoints" / "last-start.safetensors"
    assert state["epoch"] == 1 and state["finetune_blend"] == share
    if share == 1.0:
        assert not start_file.exists()
        assert all(torch.equal(last[k], best[k]) for k in last)
        return
    from safetensors.torch import load_file

    start = load_file(str(start_file))
    moved = [k for k in last if last[k].is_floating_point() and not torch.equal(last[k], start[k])]
    assert moved  # the fine-tune changed the weights, so the blend is a third point
    for k in last:
        if last[k].is_floating_point():
            assert torch.allclose(best[k], 0.5 * last[k] + 0.5 * start[k], atol=1e-6), k
        else:
            assert torch.equal(best[k], last[k]), k
    assert out["metrics"]["test"]["accuracy"] is not None  # the blend is the model that was evaluated
