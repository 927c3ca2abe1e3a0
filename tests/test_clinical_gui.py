"""The Results page's clinical evaluation (issue 22): the threshold slider recomputes every figure
from the run's cached probabilities without the engine, the controls ask the engine, and the
panel shows a second site and subgroups."""
import json

import numpy as np
import pytest

from engine.bundle.decision import calibrate
from engine.evaluate.clinical import Options, Split, clinical_section
from engine.evaluate.operating import at_threshold


def _run(tmp_path, seed=0):
    """A run folder holding only what the Results page reads: metrics.json and predictions.json."""
    rng = np.random.default_rng(seed)

    def split(n):
        y = (rng.random(n) < 0.3).astype(int)
        s = np.clip(rng.normal(0.35 + 0.35 * y, 0.18), 0.01, 0.99)
        return y, np.c_[1 - s, s]

    (yv, pv), (yt, pt) = split(120), split(100)
    classes = ["normal", "pneumonia"]
    clinical = clinical_section(classes, Split.of(yv, pv), Split.of(yt, pt), Options())
    run = tmp_path / "run"
    run.mkdir()
    metrics = {"classes": classes, "clinical": clinical, "test": {"n": 100, "accuracy": 0.8, "classes": classes}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "predictions.json").write_text(json.dumps({
        "format": "transfer-studio-predictions", "version": 1, "classes": classes,
        "val": {"paths": [""] * 120, "labels": yv.tolist(), "probs": pv.tolist()},
        "test": {"paths": [""] * 100, "labels": yt.tolist(), "probs": pt.tolist()}}))
    return run, metrics, (yt, pt)


def test_moving_the_threshold_recomputes_the_figures_from_cached_probabilities(tmp_path):
    from gui.clinical_model import ClinicalModel

    run, metrics, (yt, pt) = _run(tmp_path)
    m = ClinicalModel()
    seen = []
    m.events.threshold.connect(seen.append)
    m.set_result(str(run), metrics)
    assert m.binary and m.positive() == "pneumonia"
    rule = metrics["clinical"]["decision"]
    assert m.figures("test") == metrics["clinical"]["test"]["at_threshold"]  # same numbers as the engine's
    m.set_threshold(0.7)
    assert seen == [0.7]
    expected = at_threshold(yt == 1, calibrate(pt, rule["temperature"])[:, 1], 0.7)
    assert m.figures("test") == expected
    rows = dict((r[0], r[1]) for r in m.figure_rows())
    assert rows["Sensitivity"].startswith(f"{100 * expected['sensitivity']:.1f} %")
    (x, y), _ = m.operating_point()
    assert (x, y) == pytest.approx((1 - expected["specificity"], expected["sensitivity"]))
    assert "moved by hand" in m.explanation()
    opts = m.manual_options()
    assert (opts["method"], opts["threshold"], opts["positive"]) == ("manual", 0.7, "pneumonia")


def test_panel_follows_the_model_and_emits_requests(tmp_path, qtbot):
    from gui.clinical_model import ClinicalModel
    from gui.clinical_panel import STEPS, ClinicalPanel

    run, metrics, _ = _run(tmp_path, seed=1)
    metrics["external"] = [{"name": "Site B", "n": 50, "comparison": {"sensitivity": {
        "internal": 0.9, "external": 0.6, "difference": -0.3, "ci95": [-0.5, -0.1], "flagged": True}}}]
    metrics["subgroups"] = {"matched": 100, "unmatched": 0, "source": "g.csv", "attributes": [{
        "name": "sex", "gaps": {}, "groups": [{"value": "F", "n": 12, "sensitivity": 0.8, "specificity": 0.7,
                                              "ci95": {"sensitivity": [0.4, 0.96], "specificity": [0.4, 0.9]},
                                              "warning": "too small to judge: only 12 examples"}]}]}
    m = ClinicalModel()
    panel = ClinicalPanel(m)
    qtbot.addWidget(panel)
    m.set_result(str(run), metrics)
    assert panel.positive.currentText() == "pneumonia" and panel.positive.count() == 2
    before = panel.figures.item(0, 1).text()
    panel.slider.setValue(int(0.9 * STEPS))
    assert m.threshold == pytest.approx(0.9) and panel.figures.item(0, 1).text() != before
    assert panel.keep.isEnabled()
    with qtbot.waitSignal(panel.keepThresholdRequested) as sig:
        panel.keep.click()
    assert sig.args[0]["method"] == "manual" and sig.args[0]["threshold"] == pytest.approx(0.9)
    panel.method.setCurrentIndex(panel.method.findData("sensitivity"))
    panel.target.setValue(0.95)
    with qtbot.waitSignal(panel.reconsiderRequested) as sig:
        panel.apply.click()
    assert (sig.args[0]["method"], sig.args[0]["target"], sig.args[0]["positive"]) == ("sensitivity", 0.95, "pneumonia")
    assert panel.sites.rowCount() == 1 and panel.sites.item(0, 4).text().startswith("-30.0 pts")
    assert panel.groups.rowCount() == 1 and "too small" in panel.groups.item(0, 5).text()


def test_try_it_shows_the_decision_beside_the_probabilities(qtbot, tmp_path):
    from gui.results_model import ResultsModel
    from gui.thumbnails import ThumbnailLoader
    from gui.try_page import TryPage

    model = ResultsModel()
    page = TryPage(model, ThumbnailLoader())
    qtbot.addWidget(page)
    page.text_mode = True
    (tmp_path / "a.txt").write_text("hello")
    model.set_predictions([{"path": str(tmp_path / "a.txt"), "decision": "pneumonia", "positive_probability": 0.31,
                            "threshold": 0.226, "top": [["normal", 0.69], ["pneumonia", 0.31]]}])
    assert model.decision_text(str(tmp_path / "a.txt")).startswith("Decision: pneumonia (positive-class probability 31")
    from PySide6.QtWidgets import QLabel

    texts = [w.text() for w in page.findChildren(QLabel)]
    assert any(t.startswith("Decision: pneumonia") for t in texts)


def test_controller_sends_requests_and_the_results_follow_the_reply(qtbot, tmp_path):
    from PySide6.QtCore import QObject, Signal

    from engine import protocol as P
    from gui.clinical_controller import ClinicalController
    from gui.clinical_model import ClinicalModel
    from gui.results_model import ResultsModel

    class Requests(QObject):
        busyChanged = Signal(str, bool)

    class Session(QObject):
        notify = Signal(str, str, str)

        def __init__(self):
            super().__init__()
            self.requests, self.sent = Requests(), []

        def request(self, msg, on_reply, on_error=None, busy=""):
            self.sent.append((msg, on_reply, busy))

    run, metrics, _ = _run(tmp_path, seed=2)
    session, results, clinical = Session(), ResultsModel(), ClinicalModel()
    results.events.result.connect(lambda: clinical.set_result(results.run_dir, results.metrics))
    results.set_result(str(run), metrics)
    c = ClinicalController(session, clinical, results)
    c.reconsider({"positive": "normal", "method": "youden"})
    msg, on_reply, busy = session.sent[-1]
    assert isinstance(msg, P.Reconsider) and msg.run_dir == str(run) and busy == "clinical"
    changed = json.loads(json.dumps(metrics))
    changed["clinical"]["decision"]["positive_class"] = "normal"
    results.set_saved("/somewhere/model.tsbundle", "card")
    on_reply(P.Evaluated(metrics=changed))
    assert clinical.positive() == "normal" and results.saved_path is None  # the saved bundle holds the old rule
    c.save_report(str(tmp_path / "r.pdf"))
    msg, on_reply, _ = session.sent[-1]
    assert isinstance(msg, P.SaveReport) and msg.out == str(tmp_path / "r.html")  # the engine writes HTML


def test_second_site_and_subgroups_follow_the_slider(tmp_path):
    from engine.evaluate.operating import compare
    from engine.evaluate.subgroups import attribute_table
    from gui.clinical_model import ClinicalModel

    run, metrics, (yt, pt) = _run(tmp_path, seed=3)
    rule = metrics["clinical"]["decision"]
    rng = np.random.default_rng(9)
    ys = (rng.random(80) < 0.3).astype(int)
    s = np.clip(rng.normal(0.4 + 0.25 * ys, 0.2), 0.01, 0.99)
    (run / "external.json").write_text(json.dumps({"sites": [{
        "name": "B", "classes": metrics["classes"], "labels": ys.tolist(), "probs": np.c_[1 - s, s].tolist()}]}))
    members = {"F": list(range(0, 100, 2)), "M": list(range(1, 100, 2))}
    groups, gaps = attribute_table(yt, calibrate(pt, rule["temperature"]), metrics["classes"], rule, members)
    metrics["subgroups"] = {"matched": 100, "unmatched": 0, "source": "g.csv",
                            "attributes": [{"name": "sex", "groups": groups, "gaps": gaps}]}
    metrics["external"] = [{"name": "B", "n": 80, "comparison": {}}]
    m = ClinicalModel()
    m.set_result(str(run), metrics)
    before = m.subgroup_rows()
    m.set_threshold(0.75)
    after = m.subgroup_rows()
    assert before != after
    cal = calibrate(pt, rule["temperature"])
    moved, _ = attribute_table(yt, cal, metrics["classes"], {**rule, "threshold": 0.75}, members)
    women = next(r for r in after if r[1] == "F")
    assert women[3].startswith(f"{100 * moved[0]['sensitivity']:.1f} %")
    site = {r[1]: r for r in m.external_rows()}
    ext = at_threshold(ys == 1, calibrate(np.c_[1 - s, s], rule["temperature"])[:, 1], 0.75)
    expected = compare(m.figures("test"), ext)["sensitivity"]
    assert site["Sensitivity"][3] == f"{100 * ext['sensitivity']:.1f} %"
    assert site["Sensitivity"][4].startswith(f"{100 * expected['difference']:+.1f} pts")


def test_the_counts_at_the_threshold_are_shown(tmp_path):
    from gui.clinical_model import ClinicalModel

    run, metrics, _ = _run(tmp_path, seed=4)
    m = ClinicalModel()
    m.set_result(str(run), metrics)
    m.set_threshold(0.5)
    k = m.figures("test")["counts"]
    assert dict((r[0], r[1]) for r in m.figure_rows())["Counts"] == f"TP {k['tp']} FP {k['fp']} TN {k['tn']} FN {k['fn']}"
    assert sum(k.values()) == 100
