"""Refit on train + validation: decision, files, honest validation scores, cancel and resume."""
import json
import threading

import pytest
import torch

from engine import protocol
from tests.test_train import _weights, make_images, tiny_config


def _refit_run(tmp_path, name, reporter=None, cancel=None, **kw):
    from engine.train import train

    data = tmp_path / "data"
    if not data.exists():
        make_images(data)
    kw.setdefault("early_stopping_patience", 2)
    return train(tiny_config(tmp_path, data, name=name, **kw), reporter=reporter, cancel=cancel)


def test_refit_trains_on_train_plus_val_for_the_chosen_epochs(tmp_path):
    from engine.data import load_splits
    from engine.evaluate import evaluate_run
    from engine.inference import Predictor

    seen = []
    out = _refit_run(tmp_path, "r", refit=None, epochs=4, reporter=seen.append)  # auto: 4 per class < 40
    run = tmp_path / "runs" / "r"
    info = json.loads((run / "refit.json").read_text())
    assert json.loads((run / "config.json").read_text())["refit"] is True
    ds = load_splits(run)
    assert info["status"] == "done"
    assert info["examples"] == len(ds.split("train")) + len(ds.split("val"))
    # auto for a blended image run: the refit trains as long as the first run did, not to its best epoch
    last = json.loads((run / "checkpoints" / "last" / "state.json").read_text())
    assert json.loads((run / "config.json").read_text())["refit_epochs"] == "trained" == info["until"]
    assert 1 <= info["selected"]["epoch"] <= info["epochs"] == last["loop"]["epoch"] <= 4
    best = json.loads((run / "checkpoints" / "best" / "state.json").read_text())
    assert best["refit"] is True and best["epoch"] == info["epochs"]
    assert not (run / "checkpoints" / "refit").exists()
    # both phases kept their blend start while they could be resumed; a finished refit drops them
    assert json.loads((run / "config.json").read_text())["finetune_blend"] < 1 and best["finetune_blend"] < 1
    assert not list((run / "checkpoints").glob("*-start.safetensors"))
    # the refit model differs from the one selected on validation, which is kept
    assert any(not torch.equal(a, _weights(run, "selected")[k]) for k, a in _weights(run, "best").items())
    # validation is scored with the selected model (the refit one has seen those examples), test with the refit one
    metrics = out["metrics"]
    assert metrics["refit"]["val_checkpoint"] == "selected"
    val = ds.split("val")
    sel = Predictor.from_run(run, which="selected").predict_proba(val).argmax(1)
    assert metrics["val"]["accuracy"] == pytest.approx(float((sel == [e.label for e in val]).mean()))
    test = ds.split("test")
    fin = Predictor.from_run(run).predict_proba(test).argmax(1)
    assert metrics["test"]["accuracy"] == pytest.approx(float((fin == [e.label for e in test]).mean()))
    assert evaluate_run(run, write=False)["val"] == metrics["val"]
    # the live plots get no second set of epoch curves; the refit shows as its own progress
    phases = [m.phase for m in seen if isinstance(m, protocol.Status)]
    assert phases.index("refitting") < phases.index("evaluating")
    epochs_ended = [m.epoch for m in seen if isinstance(m, protocol.EpochEnd)]
    assert epochs_ended == sorted(epochs_ended) and len(epochs_ended) == len(set(epochs_ended))
    assert any(isinstance(m, protocol.Progress) and m.phase == "refit" for m in seen)
    # the saved model says how it was trained, and which model its validation scores belong to
    from engine.bundle import save_bundle

    bundle = save_bundle(run, tmp_path / "r.tsbundle")
    card = (bundle / "MODEL_CARD.md").read_text()
    assert f"trained again from the start on training + validation ({info['examples']} examples)" in card
    assert f"a first run of {info['epochs']} epoch" in card and "for the same" in card
    assert "the saved weights are the average of the 3 (a model soup)" in card  # auto soup for blended images
    assert json.loads((bundle / "training.json").read_text())["refit"]["epochs"] == info["epochs"]


@pytest.mark.parametrize("until, epochs", [("best", 2), ("trained", 6)])
def test_refit_epochs_are_the_winning_epoch_or_the_whole_first_run(tmp_path, until, epochs):
    from engine.train import refit
    from engine.train.loop import LoopState

    class _Data:
        def split(self, name):
            return {"train": [1, 2, 3], "val": [4]}.get(name, [])

    history = [{"epoch": e, "val_accuracy": 0.5 + (e == 2) * 0.1} for e in range(1, 7)]
    state = LoopState(epoch=6, best_epoch=2, best_score=0.6, history=history)
    info = refit.begin(tmp_path, state, _Data(), members=1, until=until)
    assert info["epochs"] == epochs and info["until"] == until and info["examples"] == 4
    assert info["selected"]["epoch"] == 2 and info["selected"]["metrics"]["val_accuracy"] == 0.6
    assert json.loads((tmp_path / "refit.json").read_text()) == info


def test_no_refit_when_turned_off_or_without_validation(tmp_path):
    _refit_run(tmp_path, "off", refit=False)
    _refit_run(tmp_path, "noval", refit=True, val_fraction=0.0)
    for name in ("off", "noval"):
        run = tmp_path / "runs" / name
        assert not (run / "refit.json").exists() and not (run / "checkpoints" / "selected").exists()


def test_cancelled_refit_keeps_a_loadable_model_and_resumes_to_the_same_weights(tmp_path):
    from engine.inference import Predictor
    from engine.train import train

    _refit_run(tmp_path, "straight", refit=True, early_stopping_patience=None)
    cancel = threading.Event()

    def stop_in_refit(msg):  # after the refit's head warm-up, before its first step (an exact resume point)
        if isinstance(msg, protocol.Status) and msg.phase == "refitting":
            cancel.set()

    first = _refit_run(tmp_path, "split", refit=True, early_stopping_patience=None, reporter=stop_in_refit,
                       cancel=cancel)
    assert first["stopped"] == "cancelled"
    run = tmp_path / "runs" / "split"
    assert json.loads((run / "refit.json").read_text())["status"] == "running"
    assert (run / "checkpoints" / "refit" / "state.json").is_file()
    Predictor.from_run(run)  # the selected model stays loadable as "best" while the refit is unfinished
    assert not json.loads((run / "checkpoints" / "best" / "state.json").read_text()).get("refit")

    again = train(None, resume_from=str(run))
    assert again["stopped"] == "completed"
    assert json.loads((run / "refit.json").read_text())["status"] == "done"
    straight, resumed = _weights(tmp_path / "runs" / "straight", "best"), _weights(run, "best")
    assert straight.keys() == resumed.keys()
    for k in straight:
        assert torch.allclose(straight[k], resumed[k], atol=1e-6), k


@pytest.mark.parametrize("soup", [None, 2])
def test_text_refit_runs_with_an_empty_validation_view(tmp_path, soup):
    """Text splits are tokenized up front; the refit's empty validation split must not trip the tokenizer.
    Text refits once by default; a soup the user asks for averages unblended members."""
    from engine.train import train

    words = {"sport": "goal match team score", "food": "bread soup salt cook", "law": "court judge case rule"}
    for label, vocab in words.items():
        (tmp_path / "texts" / label).mkdir(parents=True)
        for i in range(6):
            (tmp_path / "texts" / label / f"{i}.txt").write_text(f"{vocab} {i} " * 3, encoding="utf-8")
    out = train(tiny_config(tmp_path, tmp_path / "texts", backbone="test_tiny_bert", input_size=None, lr=1e-3,
                            early_stopping_patience=2, refit=True, refit_soup=soup))
    run = tmp_path / "runs" / "run"
    assert out["stopped"] in ("completed", "early_stopping")
    info = json.loads((run / "refit.json").read_text())
    assert info["status"] == "done" and info["members"] == (soup or 1)
    best = json.loads((run / "checkpoints" / "best" / "state.json").read_text())
    assert best["finetune_blend"] == 1.0 and best.get("refit_soup", 1) == (soup or 1)
    from engine.inference import Predictor

    assert Predictor.from_run(run).predict_proba(["goal match team"]).shape == (1, 3)
    assert out["metrics"]["test"]["n"] == 6 and out["metrics"]["refit"]["val_checkpoint"] == "selected"


def test_refit_soup_averages_its_members_and_resumes_mid_soup_to_the_same_weights(tmp_path):
    from engine.inference import Predictor
    from engine.train import train

    straight_out = _refit_run(tmp_path, "straight", refit=True, early_stopping_patience=None)
    straight = tmp_path / "runs" / "straight"
    cfg = json.loads((straight / "config.json").read_text())
    assert cfg["refit_soup"] == 3  # auto: a blended image run that refits
    info = json.loads((straight / "refit.json").read_text())
    assert info["members"] == info["members_done"] == 3 and info["status"] == "done"
    best = json.loads((straight / "checkpoints" / "best" / "state.json").read_text())
    assert best["refit"] is True and best["refit_soup"] == 3 and best["epoch"] == info["epochs"]
    # members, their resume state and start weights are gone once the soup is the model
    left = sorted(p.name for p in (straight / "checkpoints").iterdir())
    assert left == ["best", "last", "selected"], left
    assert straight_out["metrics"]["test"]["n"] > 0

    one = _refit_run(tmp_path, "one", refit=True, refit_soup=1, early_stopping_patience=None)
    assert json.loads((tmp_path / "runs" / "one" / "refit.json").read_text())["members"] == 1
    assert one["stopped"] == "completed"
    soup_w, one_w = _weights(straight, "best"), _weights(tmp_path / "runs" / "one", "best")
    assert any(not torch.equal(soup_w[k], one_w[k]) for k in soup_w)

    cancel, refits = threading.Event(), []

    def stop_in_second_member(msg):
        if isinstance(msg, protocol.Status) and msg.phase == "refitting":
            refits.append(msg.detail)
            if len(refits) == 2:
                cancel.set()

    first = _refit_run(tmp_path, "split", refit=True, early_stopping_patience=None, reporter=stop_in_second_member,
                       cancel=cancel)
    assert first["stopped"] == "cancelled"
    assert refits[0].startswith("refit 1 of 3") and refits[1].startswith("refit 2 of 3")
    run = tmp_path / "runs" / "split"
    info = json.loads((run / "refit.json").read_text())
    assert info["status"] == "running" and info["members_done"] == 1
    assert (run / "checkpoints" / "soup-1.safetensors").is_file() and (run / "checkpoints" / "refit-2").is_dir()
    Predictor.from_run(run)  # the selected model stays loadable while the soup is unfinished

    assert train(None, resume_from=str(run))["stopped"] == "completed"
    resumed = _weights(run, "best")
    assert soup_w.keys() == resumed.keys()
    for k in soup_w:
        assert torch.allclose(soup_w[k], resumed[k], atol=1e-6), k


def test_soup_is_the_mean_of_the_members_with_integer_buffers_from_the_first(tmp_path):
    from engine.train import refit

    (tmp_path / "checkpoints").mkdir()
    members = [{"w": torch.tensor([1.0, 2.0]), "h": torch.tensor([0.5], dtype=torch.float16),
                "n": torch.tensor(7)},
               {"w": torch.tensor([3.0, 6.0]), "h": torch.tensor([1.5], dtype=torch.float16),
                "n": torch.tensor(9)}]
    for i, m in enumerate(members):
        refit.keep_member(tmp_path, i, m)
    s = refit.soup(tmp_path, 2)
    assert torch.equal(s["w"], torch.tensor([2.0, 4.0])) and s["h"].dtype == torch.float16
    assert float(s["h"]) == 1.0 and int(s["n"]) == 7
    assert json.loads((tmp_path / "refit.json").read_text())["members_done"] == 2


def test_a_linear_probe_refit_reuses_the_cached_features_of_its_first_run(tmp_path):
    """The refit's training view is train + val; the feature cache reads it as those two stored parts."""
    from engine.backbones import get_spec

    stages = len(get_spec("test_tiny_cnn").stages)
    out = _refit_run(tmp_path, "probe", refit=True, freeze=stages, epochs=3, feature_cache=True)
    run = tmp_path / "runs" / "probe"
    assert json.loads((run / "refit.json").read_text())["status"] == "done"
    cached = sorted(p.name.split("-")[1] for p in (tmp_path / "runs" / ".feature-cache").glob("*.safetensors"))
    assert cached == ["train", "val"]  # no third file for train + val: the refit hit both parts
    assert out["metrics"]["test"]["n"] > 0
