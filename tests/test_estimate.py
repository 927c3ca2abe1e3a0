"""The time a run will take at most, timed on this machine (engine/train/estimate.py)."""
from __future__ import annotations


from engine.config import RunConfig


def test_the_estimate_is_timed_here_and_grows_with_the_work():
    from engine.backbones import get_spec
    from engine.recipe import Facts
    from engine.train.device import resolve_device
    from engine.train.estimate import estimate

    spec = get_spec("test_tiny_cnn")
    report = {"image": {"width": {"median": 24}, "height": {"median": 24}}}
    facts = Facts.gather(report, spec, "cpu", n_train=64, n_val=16, n_classes=2, modality="image", n_test=16)
    cfg = RunConfig(data=["x"], freeze=0, epochs=3, batch_size=8, input_size=32, train_input_size=32,
                    head_warmup=True, refit=False)
    device = resolve_device("cpu")
    one = estimate(spec, cfg, facts, device)
    assert one["seconds"] > 0 and one["step_s"] > 0 and one["example_s"] > 0 and one["steps"] == 3 * 8
    longer = estimate(spec, cfg.replace(epochs=6), facts, device)  # the measurement is reused, the work doubles
    assert longer["step_s"] == one["step_s"] and longer["steps"] == 2 * one["steps"]
    assert longer["seconds"] > one["seconds"]
    soup = estimate(spec, cfg.replace(refit=True, refit_soup=3), facts, device)
    assert soup["steps"] == one["steps"] + 3 * 3 * 10 and soup["seconds"] > one["seconds"]


def test_the_estimate_reads_as_an_upper_bound():
    from engine.recipe.render import estimate_text

    assert estimate_text({"seconds": 100}, "cpu") == "At most about 2 min on this CPU (early stopping often ends sooner)."
    assert estimate_text({"seconds": 3600}, "cuda:0").startswith("At most about 60 min on this CUDA")
    assert estimate_text({}, "cpu") == "" and estimate_text(None) == ""
