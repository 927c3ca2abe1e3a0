"""The linear probe that competes with every fine-tune (engine/train/probe_contender.py)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.test_train import make_images, tiny_config


def _blobs(n_classes=3, per_class=30, dim=12, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (n_classes, dim))
    x = np.concatenate([centres[c] + rng.normal(0, 1, (per_class, dim)) * rng.uniform(0.5, 5, dim)
                        for c in range(n_classes)]) + 40  # offset and uneven scales: standardising matters
    return x, np.repeat(np.arange(n_classes), per_class)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_folded_probe_gives_the_same_probabilities_as_the_scikit_learn_pipeline(n_classes):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from engine.train.probe_contender import C_GRID, fit

    x, y = _blobs(n_classes)
    probe = fit(x, y, n_classes, seed=0)
    assert probe["C"] in C_GRID and 0 < probe["cv_accuracy"] <= 1
    ref = make_pipeline(StandardScaler(), LogisticRegression(C=probe["C"], max_iter=3000)).fit(x, y)
    ours = torch.softmax(torch.as_tensor(x @ probe["weight"].T + probe["bias"]), 1).numpy()
    np.testing.assert_allclose(ours, ref.predict_proba(x), atol=1e-6)


def test_a_class_missing_from_training_is_never_predicted():
    from engine.train.probe_contender import fit

    x, y = _blobs(3)
    y = np.where(y == 1, 2, y)  # class 1 has no examples
    probe = fit(x, y, 3, seed=0)
    logits = x @ probe["weight"].T + probe["bias"]
    assert (logits.argmax(1) != 1).all()


def test_the_cross_validated_c_follows_the_data():
    """Few noisy examples in many dimensions want strong regularisation; many clean ones do not."""
    from engine.train.probe_contender import fit

    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 10)
    noisy = rng.normal(0, 1, (20, 300))
    noisy[:, 0] += y * 1.5
    x, y2 = _blobs(2, per_class=200, dim=4)
    assert fit(noisy, y, 2, seed=0)["C"] < fit(x, y2, 2, seed=0)["C"]


@pytest.mark.parametrize("probe_val, ft_val, counts, winner", [
    ({"val_accuracy": 0.8, "val_loss": 0.9}, {"val_accuracy": 0.7, "val_loss": 0.5}, (6, 0), "linear probe"),
    ({"val_accuracy": 0.8, "val_loss": 0.9}, {"val_accuracy": 0.7, "val_loss": 0.5}, (3, 0), "fine-tune"),  # p 0.125
    ({"val_accuracy": 0.8, "val_loss": 0.9}, {"val_accuracy": 0.7, "val_loss": 0.5}, (8, 2), "fine-tune"),  # p 0.055
    ({"val_accuracy": 0.7, "val_loss": 0.4}, {"val_accuracy": 0.8, "val_loss": 0.9}, None, "fine-tune"),
    ({"val_accuracy": 0.8, "val_loss": 0.4}, {"val_accuracy": 0.8, "val_loss": 0.6}, None, "fine-tune"),  # a tie
])
def test_the_rule_decides_on_validation_beyond_chance_and_is_recorded(tmp_path, probe_val, ft_val, counts, winner):
    from engine.train import probe_contender as pc

    (tmp_path / pc.CONTENDER_FILE).write_text(json.dumps({"status": "pending", "probe": {"val": probe_val}}))
    logs, asked = [], []

    class Report:
        def log(self, text, level="info"):
            logs.append(text)

    def disagreements():  # only asked for when the probe scores higher
        asked.append(1)
        return counts

    info = pc.decide(tmp_path, ft_val, "val_accuracy", True, Report(), disagreements=disagreements)
    assert info["winner"] == winner and bool(asked) == (counts is not None)
    saved = json.loads((tmp_path / pc.CONTENDER_FILE).read_text())
    assert saved["status"] == "decided" and saved["winner"] == winner and saved["rule"] == pc.RULE
    assert saved["fine_tune"]["val"] == ft_val
    if counts:
        assert saved["disagreements"]["probe_right_finetune_wrong"] == counts[0]
        assert ("not beyond chance" in logs[0]) == (winner == "fine-tune")
    assert ("linear probe on the frozen features is kept" in logs[0]) == (winner == "linear probe")
    # decided once: a second call (a resume) does not decide again on other figures
    assert pc.decide(tmp_path, {"val_accuracy": 0.0}, "val_accuracy", True, Report())["winner"] == winner


def test_a_missing_validation_figure_keeps_the_fine_tune_and_says_so(tmp_path):
    from engine.train import probe_contender as pc

    (tmp_path / pc.CONTENDER_FILE).write_text(json.dumps({"status": "pending", "probe": {"val": {}}}))
    logs = []

    class Report:
        def log(self, text, level="info"):
            logs.append(text)

    assert pc.decide(tmp_path, {}, "val_accuracy", True, Report())["winner"] == "fine-tune"
    assert "could not both be scored" in logs[0]


def _train(tmp_path, name, **kw):
    from engine.train import train

    data = tmp_path / "data"
    if not data.exists():
        make_images(data, per_class=12)
    base = dict(compare_probe=True, head_warmup=True, epochs=2, refit=False, freeze_bn_stats=False,
                finetune_blend=1.0)
    base.update(kw)
    return train(tiny_config(tmp_path, data, name=name, **base))


def test_a_fine_tune_that_wrecks_the_features_loses_to_the_probe_and_the_probe_is_saved(tmp_path):
    from engine.data import load_splits
    from engine.inference import Predictor

    out = _train(tmp_path, "wrecked", lr=3.0, weight_decay=0.0)  # a learning rate that destroys the backbone
    run = tmp_path / "runs" / "wrecked"
    sel = out["metrics"]["selection"]
    assert sel["winner"] == "linear probe", sel
    assert sel["probe"]["val"]["val_accuracy"] > sel["fine_tune"]["val"]["val_accuracy"]
    # beyond chance, counted example by example on the same validation examples as the two scores
    test = sel["disagreements"]
    assert test["p_value"] < 0.05
    n_val = len(load_splits(run).split("val"))
    gap = sel["probe"]["val"]["val_accuracy"] - sel["fine_tune"]["val"]["val_accuracy"]
    assert test["probe_right_finetune_wrong"] - test["finetune_right_probe_wrong"] == round(gap * n_val)
    # the saved model is the probe: its validation score is the one recorded for the probe
    assert out["metrics"]["val"]["accuracy"] == pytest.approx(sel["probe"]["val"]["val_accuracy"])
    assert (run / "checkpoints" / "finetune" / "model.safetensors").is_file()  # the loser is kept, not lost
    pred = Predictor.from_run(run)
    probs, errors = pred.predict_detailed(load_splits(run).split("test"))
    assert not errors
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)


def test_the_saved_model_scores_what_the_winner_scored(tmp_path):
    """Whichever wins, checkpoints/best is that model: the recorded figures match a fresh evaluation."""
    out = _train(tmp_path, "fair", lr=3e-3)
    sel = out["metrics"]["selection"]
    winner = "probe" if sel["winner"] == "linear probe" else "fine_tune"
    assert out["metrics"]["val"]["accuracy"] == pytest.approx(sel[winner]["val"]["val_accuracy"])


def test_small_data_refits_the_winning_probe_on_train_plus_validation(tmp_path):
    from engine.data import load_splits

    out = _train(tmp_path, "refit", lr=3.0, weight_decay=0.0, refit=True)
    run = tmp_path / "runs" / "refit"
    assert out["metrics"]["selection"]["winner"] == "linear probe"
    info = json.loads((run / "refit.json").read_text())
    ds = load_splits(run)
    assert info["status"] == "done" and info["model"] == "linear probe"
    assert info["examples"] == len(ds.split("train")) + len(ds.split("val"))
    # validation is scored on the probe fitted without it (checkpoints/selected), never on the refit one
    assert out["metrics"]["refit"]["val_checkpoint"] == "selected"
    assert out["metrics"]["val"]["accuracy"] == pytest.approx(
        out["metrics"]["selection"]["probe"]["val"]["val_accuracy"])


def test_no_comparison_when_turned_off_or_for_a_linear_probe_run(tmp_path):
    out = _train(tmp_path, "off", compare_probe=False)
    assert "selection" not in out["metrics"]
    assert not (tmp_path / "runs" / "off" / "contender.json").exists()


def test_the_model_card_and_results_say_which_model_was_kept(tmp_path):
    from engine.bundle.model_card import _selection
    from gui.results_model import ResultsModel

    sel = {"winner": "linear probe", "monitor": "val_accuracy", "probe": {"C": 0.1, "val": {"val_accuracy": 0.82}},
           "fine_tune": {"val": {"val_accuracy": 0.53}}}
    card = _selection({"selection": sel})
    assert "linear probe" in card and "0.820" in card and "0.530" in card
    model = ResultsModel()
    model.set_result("run", {"selection": sel, "val": {"accuracy": 0.82}})
    note = model.selection_note()
    assert "linear probe" in note and "82" in note and "53" in note
    sel["winner"] = "fine-tune"
    model.set_result("run", {"selection": sel, "val": {"accuracy": 0.82}})
    assert model.selection_note().startswith("Kept: the fine-tune")
    # the probe scored higher but not beyond chance: both say why the fine-tune stayed
    sel["disagreements"] = {"probe_right_finetune_wrong": 3, "finetune_right_probe_wrong": 1, "p_value": 0.3125}
    model.set_result("run", {"selection": sel, "val": {"accuracy": 0.53}})
    assert "not beyond chance" in model.selection_note() and "right on 3" in model.selection_note()
    card = _selection({"selection": sel})
    assert "fine-tune was kept" in card and "not beyond chance" in card and "p = 0.31" in card


def test_a_run_stopped_before_the_decision_resumes_to_the_same_model(tmp_path, monkeypatch):
    """A crash after the fine-tune but before the probe was chosen and refitted: the resumed run computes
    the probe's features again and ends with the weights an uninterrupted run saves."""
    from safetensors.torch import load_file

    from engine.train import probe_contender, train

    straight = _train(tmp_path, "straight", lr=3.0, weight_decay=0.0, refit=True)
    assert straight["metrics"]["selection"]["winner"] == "linear probe"

    real = probe_contender.decide
    monkeypatch.setattr(probe_contender, "decide", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("power cut")))
    with pytest.raises(RuntimeError, match="power cut"):
        _train(tmp_path, "cut", lr=3.0, weight_decay=0.0, refit=True)
    monkeypatch.setattr(probe_contender, "decide", real)
    run = tmp_path / "runs" / "cut"
    assert json.loads((run / "contender.json").read_text())["status"] == "pending"
    resumed = train(None, resume_from=str(run))
    assert resumed["metrics"]["selection"]["winner"] == "linear probe"
    a = load_file(str(tmp_path / "runs" / "straight" / "checkpoints" / "best" / "model.safetensors"))
    b = load_file(str(run / "checkpoints" / "best" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_card_gives_both_decisions_when_the_simple_model_also_competed():
    from engine.bundle.model_card import _selection

    sel = {"winner": "linear probe", "network_winner": "linear probe", "monitor": "val_accuracy",
           "probe": {"C": 0.001, "val": {"val_accuracy": 0.911}}, "fine_tune": {"val": {"val_accuracy": 0.2}},
           "disagreements": {"probe_right_finetune_wrong": 33, "finetune_right_probe_wrong": 1, "p_value": 2e-9},
           "simple": {"method": "logistic regression on 16x16 grey pixels", "val": {"val_accuracy": 0.933},
                      "network_val": {"val_accuracy": 0.911}, "examples": 45, "simple_right_network_wrong": 2,
                      "network_right_simple_wrong": 1, "p_value": 0.5}}
    card = _selection({"selection": sel})
    assert card.startswith("**this model is a linear probe**") and "right 33 times" in card
    assert "A simple model (logistic regression" in card and "so the linear probe was kept" in card
    sel["winner"] = "simple model"  # the simple model won: the card leads with that, as before
    assert _selection({"selection": sel}).startswith("**this model is not a neural network**")
