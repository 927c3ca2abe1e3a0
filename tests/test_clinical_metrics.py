"""Clinical evaluation figures (issue 22): against scikit-learn on fixed arrays, interval
coverage in simulation, a threshold that test data cannot move, temperature scaling."""
import json

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from engine.bundle.decision import calibrate, check_rule, decide
from engine.evaluate.calibration import fit_temperature, log_loss, reliability
from engine.evaluate.clinical import Options, Split, clinical_section
from engine.evaluate.curves import binary_curves
from engine.evaluate.operating import (at_threshold, choose_threshold, compare, default_positive, newcombe,
                                       wilson)


def _binary(n, seed=0, skill=1.5, prevalence=0.3):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    z = rng.normal(size=n) + skill * y
    p1 = 1 / (1 + np.exp(-(z - 0.5)))
    return y, np.c_[1 - p1, p1]


def test_default_positive_rule():
    assert default_positive(["normal", "pneumonia"], [100, 300])[0] == 1
    assert default_positive(["Malignant", "Benign"], [10, 90])[0] == 0
    assert default_positive(["no_finding", "effusion"])[0] == 1
    assert default_positive(["healthy control", "case"])[0] == 1
    idx, why = default_positive(["cat", "dog"], [30, 12])
    assert idx == 1 and "smaller" in why
    assert default_positive(["cat", "dog"], [5, 5])[0] == 1


def test_figures_at_threshold_match_sklearn():
    y, p = _binary(300)
    t = 0.42
    f = at_threshold(y == 1, p[:, 1], t)
    pred = (p[:, 1] >= t).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
    assert f["counts"] == {"tp": tp, "fp": fp, "tn": tn, "fn": fn}
    assert f["sensitivity"] == pytest.approx(skm.recall_score(y, pred))
    assert f["specificity"] == pytest.approx(skm.recall_score(y, pred, pos_label=0))
    assert f["ppv"] == pytest.approx(skm.precision_score(y, pred))
    assert f["npv"] == pytest.approx(skm.precision_score(y, pred, pos_label=0))
    assert f["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    for key, (lo, hi) in f["ci95"].items():
        assert lo < f[key] < hi
    json.dumps(f, allow_nan=False)


def test_youden_threshold_matches_sklearn_roc():
    y, p = _binary(400, seed=3)
    fpr, tpr, thr = skm.roc_curve(y, p[:, 1], drop_intermediate=False)
    best = thr[np.argmax(tpr - fpr)]
    c = choose_threshold(y == 1, p[:, 1], "youden")
    below = p[:, 1][p[:, 1] < best].max()
    assert c["threshold"] == pytest.approx((best + below) / 2)  # halfway to the next lower score
    f = at_threshold(y == 1, p[:, 1], c["threshold"])
    assert f["sensitivity"] + f["specificity"] - 1 == pytest.approx(np.max(tpr - fpr))
    assert f == {**at_threshold(y == 1, p[:, 1], best), "threshold": c["threshold"]}  # same validation figures


@pytest.mark.parametrize("method,key", [("sensitivity", "sensitivity"), ("specificity", "specificity")])
def test_target_thresholds_reach_their_target_and_no_further(method, key):
    y, p = _binary(500, seed=4)
    c = choose_threshold(y == 1, p[:, 1], method, target=0.85)
    f = at_threshold(y == 1, p[:, 1], c["threshold"])
    assert f[key] >= 0.85
    other = "specificity" if key == "sensitivity" else "sensitivity"
    # any threshold that also reaches the target has no better other figure
    for t in np.unique(p[:, 1]):
        g = at_threshold(y == 1, p[:, 1], t)
        if g[key] >= 0.85:
            assert g[other] <= f[other] + 1e-12


def test_cost_threshold_minimises_the_weighted_errors():
    y, p = _binary(300, seed=5)
    c = choose_threshold(y == 1, p[:, 1], "cost", cost_ratio=5)
    def cost(t):
        k = at_threshold(y == 1, p[:, 1], t)["counts"]
        return 5 * k["fn"] + k["fp"]
    assert cost(c["threshold"]) == min(cost(t) for t in np.r_[np.unique(p[:, 1]), 1.1])
    assert c["threshold"] < choose_threshold(y == 1, p[:, 1], "cost", cost_ratio=0.2)["threshold"]


def test_changing_only_test_probabilities_never_moves_the_threshold():
    yv, pv = _binary(200, seed=6)
    yt, pt = _binary(150, seed=7)
    classes = ["normal", "pneumonia"]
    for method in ("youden", "sensitivity", "specificity", "cost"):
        opts = Options(method=method, target=0.8, cost_ratio=3)
        a = clinical_section(classes, Split.of(yv, pv), Split.of(yt, pt), opts)
        rng = np.random.default_rng(1)
        q = rng.dirichlet([1, 1], len(yt))
        b = clinical_section(classes, Split.of(yv, pv), Split.of(yt, q), opts)
        assert a["decision"] == b["decision"]
        assert a["test"]["at_threshold"] != b["test"]["at_threshold"]
        assert a["decision"]["positive_class"] == "pneumonia"


def test_wilson_and_newcombe_cover_at_about_the_nominal_rate():
    rng = np.random.default_rng(0)
    hits = hits_d = 0
    trials = 4000
    for _ in range(trials):
        p, n = rng.uniform(0.6, 0.95), int(rng.integers(20, 120))
        k = rng.binomial(n, p)
        lo, hi = wilson(k, n)
        hits += lo <= p <= hi
        q, m = rng.uniform(0.6, 0.95), int(rng.integers(20, 120))
        j = rng.binomial(m, q)
        dlo, dhi = newcombe(k, n, j, m)
        hits_d += dlo <= q - p <= dhi
    assert 0.93 <= hits / trials <= 0.975
    assert 0.93 <= hits_d / trials <= 0.98


def test_auc_bootstrap_interval_covers_the_true_auc():
    """The true AUC of two unit normals d apart is Phi(d / sqrt(2))."""
    from math import erf, sqrt

    d = 1.2
    true_auc = 0.5 * (1 + erf(d / sqrt(2) / sqrt(2)))
    rng = np.random.default_rng(2)
    hits, trials = 0, 200
    for _ in range(trials):
        y = (rng.random(120) < 0.4).astype(int)
        s = rng.normal(size=120) + d * y
        c = binary_curves(y, 1 / (1 + np.exp(-s)), n_boot=300, seed=int(rng.integers(1e9)))
        lo, hi = c["roc"]["ci95"]
        hits += lo <= true_auc <= hi
    assert 0.88 <= hits / trials <= 0.99


def test_curves_match_sklearn():
    y, p = _binary(300, seed=8)
    c = binary_curves(y, p[:, 1], n_boot=200)
    assert c["roc"]["auc"] == pytest.approx(skm.roc_auc_score(y, p[:, 1]))
    assert c["pr"]["ap"] == pytest.approx(skm.average_precision_score(y, p[:, 1]))
    assert c["roc"]["ci95"][0] < c["roc"]["auc"] < c["roc"]["ci95"][1]
    assert c["pr"]["ci95"][0] < c["pr"]["ap"] < c["pr"]["ci95"][1]
    assert c["roc"]["fpr"][0] == 0 and c["roc"]["tpr"][-1] == 1
    assert binary_curves([1, 1, 1], [0.2, 0.5, 0.9]) is None


def test_bootstrap_average_precision_equals_sklearn_on_each_resample():
    from engine.evaluate.curves import _weighted_ap

    y, p = _binary(80, seed=13)
    s = np.round(p[:, 1], 2)  # ties
    rng = np.random.default_rng(0)
    for _ in range(20):
        i = rng.integers(0, 80, 80)
        w = np.bincount(i, minlength=80)[None]
        assert _weighted_ap(s, y == 1, w)[0] == pytest.approx(skm.average_precision_score(y[i], s[i]))


def test_reliability_bins_match_sklearn_calibration_curve():
    y, p = _binary(400, seed=9)
    r = reliability(y, p, positive=1, n_boot=100)
    frac, mean = calibration_curve(y, p[:, 1], n_bins=10, strategy="uniform")
    np.testing.assert_allclose([b["observed"] for b in r["bins"]], frac)
    np.testing.assert_allclose([b["mean_predicted"] for b in r["bins"]], mean)
    n = sum(b["n"] for b in r["bins"])
    expected = sum(b["n"] / n * abs(b["mean_predicted"] - b["observed"]) for b in r["bins"])
    assert r["ece"] == pytest.approx(expected)
    assert r["ci95"][0] <= r["ece"] <= r["ci95"][1]


def test_log_loss_matches_sklearn():
    y, p = _binary(100, seed=10)
    assert log_loss(y, p) == pytest.approx(skm.log_loss(y, p))


def test_temperature_lowers_log_loss_of_an_over_confident_model():
    rng = np.random.default_rng(11)
    n, c = 600, 3
    y = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c))
    logits[np.arange(n), y] += 1.0
    logits *= 6  # over-confident: the right ranking, far too sure
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    t = fit_temperature(y[:300], p[:300])
    assert t > 2
    before, after = log_loss(y[300:], p[300:]), log_loss(y[300:], calibrate(p[300:], t))
    assert after < before - 0.2
    assert reliability(y[300:], calibrate(p[300:], t))["ece"] < reliability(y[300:], p[300:])["ece"]
    assert (calibrate(p, t).argmax(1) == p.argmax(1)).all()  # ranking unchanged
    # calibrate(probabilities) equals softmax(logits / T)
    z = logits / t
    q = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(calibrate(p, t), q / q.sum(1, keepdims=True), atol=1e-10)


def test_no_temperature_from_a_perfectly_separated_validation_split():
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    p1 = np.r_[np.linspace(0.05, 0.4, 10), np.linspace(0.6, 0.95, 10)]
    assert fit_temperature(y, np.c_[1 - p1, p1]) == 1.0  # the loss only falls as T goes to 0
    s = clinical_section(["normal", "sick"], Split.of(y, np.c_[1 - p1, p1]), None, Options(method="sensitivity",
                                                                                          target=0.95))
    assert "perfectly separated" in s["decision"]["temperature_note"]
    assert 0.4 < s["decision"]["threshold"] < 0.6  # a margin on both sides, not the lowest positive's score


def test_decision_rule_applies_threshold_to_the_positive_class():
    classes = ["normal", "pneumonia"]
    p = np.array([[0.7, 0.3], [0.4, 0.6], [0.85, 0.15]])
    rule = {"temperature": 1.0, "positive_class": "pneumonia", "threshold": 0.2}
    assert decide(p, classes, rule) == ["pneumonia", "pneumonia", "normal"]
    assert decide(p, classes, None) == ["normal", "pneumonia", "normal"]
    with pytest.raises(ValueError):
        check_rule({"temperature": 1.0, "positive_class": "flu", "threshold": 0.2}, classes)


def test_multiclass_section_is_one_vs_rest():
    rng = np.random.default_rng(12)
    y = rng.integers(0, 3, 200)
    p = rng.dirichlet(np.ones(3), 200)
    p[np.arange(200), y] += 0.8
    p /= p.sum(1, keepdims=True)
    s = clinical_section(["a", "b", "c"], Split.of(y[:100], p[:100]), Split.of(y[100:], p[100:]))
    assert s["decision"]["threshold"] is None and s["decision"]["temperature"] > 0
    assert [r["class"] for r in s["test"]["one_vs_rest"]] == ["a", "b", "c"]
    assert len(s["test"]["curves_one_vs_rest"]) == 3
    auc_a = skm.roc_auc_score(y[100:] == 0, calibrate(p[100:], s["decision"]["temperature"])[:, 0])
    assert s["test"]["curves_one_vs_rest"][0]["roc"]["auc"] == pytest.approx(auc_a)
    json.dumps(s, allow_nan=False)


def test_compare_flags_only_a_drop_beyond_the_intervals():
    internal = at_threshold(np.r_[np.ones(100), np.zeros(100)] == 1, np.r_[np.full(90, .9), np.full(10, .1),
                                                                          np.full(100, .1)], 0.5)
    same = compare(internal, internal)
    assert not any(v["flagged"] for v in same.values()) and same["sensitivity"]["difference"] == 0
    worse = at_threshold(np.r_[np.ones(100), np.zeros(100)] == 1, np.r_[np.full(50, .9), np.full(50, .1),
                                                                       np.full(100, .1)], 0.5)
    d = compare(internal, worse)
    assert d["sensitivity"]["flagged"] and d["sensitivity"]["difference"] == pytest.approx(-0.4)
    lo, hi = d["sensitivity"]["ci95"]
    assert lo < -0.4 < hi < 0
    assert not d["specificity"]["flagged"]


def test_most_probable_class_figures_follow_the_chosen_positive_class():
    from engine.evaluate.clinical import relabel_binary
    from engine.evaluate.metrics import score

    y, p = _binary(200, seed=14)
    s = score(y, p, ["pneumonia", "normal"])  # score() calls the second class positive
    relabel_binary(s, "pneumonia")
    pred = p.argmax(1)
    assert s["binary"]["positive_class"] == "pneumonia"
    assert s["binary"]["sensitivity"] == pytest.approx(skm.recall_score(y, pred, pos_label=0))
    assert s["binary"]["ppv"] == pytest.approx(skm.precision_score(y, pred, pos_label=0))
    lo, hi = s["ci95"]["sensitivity"]
    assert lo <= s["binary"]["sensitivity"] <= hi
    relabel_binary(s, "pneumonia")  # idempotent
    assert s["binary"]["sensitivity"] == pytest.approx(skm.recall_score(y, pred, pos_label=0))


def test_a_refit_run_says_its_rule_was_chosen_on_the_model_before_the_refit():
    from engine.evaluate.clinical import note_refit
    from engine.evaluate.clinical_text import format_clinical

    yv, pv = _binary(100, seed=15)
    s = clinical_section(["normal", "sick"], Split.of(yv, pv), None)
    note_refit(s, {"refit": None})
    assert "refit_note" not in s["decision"]
    note_refit(s, {"refit": {"epochs": 3, "val_checkpoint": "selected"}})
    assert "selected before the refit" in format_clinical(s)
