"""score(): agreement with scikit-learn, binary metrics, intervals, confident mistakes."""
import json

import numpy as np
import pytest
from sklearn import metrics as skm

from engine.evaluate import format_score, markdown_score, score


def _data(n, c, seed=0, skill=0.6):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    p = rng.dirichlet(np.ones(c), n)
    p[np.arange(n), y] += skill
    return y, p / p.sum(1, keepdims=True)


def test_multiclass_scores_match_sklearn():
    y, p = _data(120, 4)
    pred = p.argmax(1)
    s = score(y, p, ["a", "b", "c", "d"], [f"/x/{i}" for i in range(120)])
    assert s["n"] == 120
    assert s["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert s["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert s["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert s["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    prec, rec, f1, sup = skm.precision_recall_fscore_support(y, pred)
    for i, row in enumerate(s["per_class"]):
        assert row["name"] == "abcd"[i]
        assert (row["precision"], row["recall"], row["f1"], row["support"]) == pytest.approx(
            (prec[i], rec[i], f1[i], sup[i]))
    assert set(s["top_k"]) == {"2", "3"}  # k < classes only
    assert s["top_k"]["2"] == pytest.approx(skm.top_k_accuracy_score(y, p, k=2))
    assert "binary" not in s
    json.dumps(s, allow_nan=False)


def test_intervals_bracket_the_estimate_and_are_seeded():
    y, p = _data(200, 3, seed=1)
    s = score(y, p, ["a", "b", "c"])
    for key in ("accuracy", "macro_f1", "balanced_accuracy"):
        lo, hi = s["ci95"][key]
        assert lo < s[key] < hi
        assert hi - lo < 0.25
    assert score(y, p, ["a", "b", "c"])["ci95"] == s["ci95"]
    assert score(y, p, ["a", "b", "c"], seed=5)["ci95"] != s["ci95"]


def test_interval_narrows_with_more_data():
    small = score(*_data(40, 2, seed=2), ["n", "p"])
    large = score(*_data(800, 2, seed=2), ["n", "p"])
    width = lambda s: s["ci95"]["accuracy"][1] - s["ci95"]["accuracy"][0]
    assert width(large) < width(small) / 2


def test_binary_metrics_and_auc():
    y, p = _data(150, 2, seed=3, skill=0.3)
    pred = p.argmax(1)
    s = score(y, p, ["benign", "malignant"])
    b = s["binary"]
    tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
    assert b["positive_class"] == "malignant"
    assert b["sensitivity"] == pytest.approx(tp / (tp + fn))
    assert b["specificity"] == pytest.approx(tn / (tn + fp))
    assert b["ppv"] == pytest.approx(tp / (tp + fp))
    assert b["npv"] == pytest.approx(tn / (tn + fn))
    assert b["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p[:, 1]))
    for key in ("sensitivity", "specificity", "ppv", "npv", "roc_auc"):
        lo, hi = s["ci95"][key]
        assert lo <= b[key] <= hi
    assert s["top_k"] == {}


def test_undefined_values_are_null_not_nan():
    y = np.zeros(6, dtype=int)  # no positives at all
    p = np.tile([0.8, 0.2], (6, 1))
    s = score(y, p, ["neg", "pos"])
    assert s["binary"]["sensitivity"] is None and s["binary"]["roc_auc"] is None
    assert s["binary"]["specificity"] == 1.0
    assert s["ci95"]["sensitivity"] is None
    json.dumps(s, allow_nan=False)


def test_confident_errors_are_the_most_confident_wrong_ones():
    y = np.array([0, 0, 1, 1, 2])
    p = np.array([[0.1, 0.9, 0.0], [0.6, 0.4, 0.0], [0.3, 0.6, 0.1], [0.0, 0.45, 0.55], [0.2, 0.2, 0.6]])
    s = score(y, p, ["a", "b", "c"], ["p0", "p1", "p2", "p3", "p4"])
    assert [e["path"] for e in s["confident_errors"]] == ["p0", "p3"]
    assert s["confident_errors"][0] == {"path": "p0", "true": "a", "predicted": "b", "probability": 0.9}


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError):
        score([0, 1], np.ones((3, 2)) / 2, ["a", "b"])


def test_reports_render_every_metric():
    y, p = _data(60, 2, seed=4)
    s = score(y, p, ["cat", "dog"], [f"f{i}.png" for i in range(60)])
    text = format_score(s, "Test")
    assert "Sensitivity (recall of dog)" in text and "95% CI" in text and "ROC AUC" in text
    assert "true \\ predicted" in text
    md = markdown_score(s)
    assert md.count("| cat |") == 1 and "| Macro F1 |" in md
    assert format_score(None, "Test") == "Test: no examples."


def test_rates_get_wilson_intervals_that_do_not_collapse_when_every_example_is_right():
    from engine.evaluate.metrics import score, wilson

    # the case: "test accuracy 1.000" on 4 texts; a percentile bootstrap says 100-100 %
    four = score([0, 1, 0, 1], np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.1, 0.9]]), ["a", "b"])
    lo, hi = four["ci95"]["accuracy"]
    assert four["accuracy"] == 1.0 and abs(lo - 0.5101) < 1e-3 and hi == 1.0
    assert abs(four["ci95"]["sensitivity"][0] - 0.3424) < 1e-3  # 2 of 2 positives
    assert "balanced_accuracy" not in four["ci95"]  # its resampling interval collapsed: none is given
    # textbook values (Newcombe 1998, Table I): 81/263 -> 0.2553-0.3662; 0/10 -> 0-0.2775
    assert np.allclose(wilson(81, 263), [0.2553, 0.3662], atol=1e-4)
    assert np.allclose(wilson(0, 10), [0.0, 0.2775], atol=1e-4)
    assert wilson(0, 0) is None
