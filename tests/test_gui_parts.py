"""Window pieces: start-up isolation from torch, size at 1366×768, plots at 100k points,
settings persistence, and the Qt-free view models."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from gui.backbone_model import BackboneModel
from gui.data_model import DataModel, usable_drop_paths
from gui.results_model import ResultsModel
from gui.settings import SCHEMA_VERSION, Settings
from gui.train_model import ConfigError, RunState, TrainSettings, build_config

ROOT = Path(__file__).resolve().parents[1]


def test_gui_never_imports_torch(tmp_path):
    """Importing gui.app and building the main window must leave torch (and friends) unloaded."""
    code = textwrap.dedent("""
        import sys
        import gui.app
        app = gui.app.make_app()
        w = gui.app.build_window()
        w.show()
        app.processEvents()
        w.train_page.ensure_plots()  # pyqtgraph too
        heavy = [m for m in ("torch", "torchvision", "transformers", "timm") if m in sys.modules]
        print("HEAVY", heavy)
        w.session.closing = True
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TRANSFER_STUDIO_CONFIG_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_window_fits_1366x768(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_STUDIO_CONFIG_DIR", str(tmp_path))
    from gui.window import MainWindow
    from tests.test_gui_fakes import FakeEngine

    w = MainWindow(FakeEngine(), settings=Settings().load())
    qtbot.addWidget(w)
    for i in range(w.stack.count()):  # every page, not just the first one shown
        w.stack.setCurrentIndex(i)
        hint = w.minimumSizeHint()
        assert hint.width() <= 1366 and hint.height() <= 768 - 48, (i, hint)
    w.train_page.ensure_plots()
    w.train_page.advanced.set_expanded(True)
    w.train_page.log_box.set_expanded(True)
    assert w.minimumSizeHint().height() <= 768 - 48


def test_plots_stay_bounded_at_100k_points(qtbot):
    from gui.plots import LivePlots

    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(900, 300)
    plots.show()
    qtbot.waitExposed(plots)
    n = 100_000
    for i in range(n):
        plots.add_step(i / 1000, {"loss": 1.0 / (1 + i) + (i % 7) * 1e-3, "lr": 1e-3})
    plots.redraw()
    view = plots.loss_plot.getPlotItem().getViewBox()
    qtbot.waitUntil(lambda: view.viewRange()[0][1] > 99, timeout=5000)  # the view has followed the data
    stored, drawn = plots.point_counts()["loss"]
    assert stored == n
    # peak mode draws 2 points per bin, bins ~ pixel width * autoDownsampleFactor (floor rounding: < 2x)
    bound = 4 * plots.curves["loss"].opts["autoDownsampleFactor"] * view.width() + 16
    assert 0 < drawn <= bound < n / 10, (drawn, bound)
    # zoomed in to the last tenth: clip-to-view keeps only what is visible, still bounded
    plots.loss_plot.getPlotItem().setXRange(90, 100, padding=0)
    _, drawn_zoomed = plots.point_counts()["loss"]
    assert 0 < drawn_zoomed <= bound
    assert plots.series["loss_smooth"].last() == pytest.approx(plots.series["loss"].y[-200:].mean(), rel=0.5)
    assert not plots.dirty  # nothing is redrawn until new points arrive


def test_settings_round_trip_and_bad_files(tmp_path):
    path = tmp_path / "settings.json"
    s = Settings(path).load()
    s.add_recent_folders(["/a", "/b"])
    s.add_recent_folders(["/b"])
    s.set("train_defaults", TrainSettings(epochs=7).to_dict())
    s.save()
    raw = json.loads(path.read_text())
    assert raw["schema_version"] == SCHEMA_VERSION
    assert raw["recent_folders"] == ["/b", "/a"]
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]  # no temp file left behind
    again = Settings(path).load()
    assert TrainSettings.from_dict(again.get("train_defaults")).epochs == 7
    with pytest.raises(TypeError):
        again.set("window_geometry", object())  # only JSON goes in

    path.write_text("{not json")
    broken = Settings(path).load()
    assert broken.get("recent_folders") == [] and "could not be read" in broken.problem
    path.write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1, "recent_folders": ["/x"]}))
    newer = Settings(path).load()
    assert newer.get("recent_folders") == [] and "schema version" in newer.problem
    path.write_text(json.dumps({"schema_version": 1, "recent_folders": "oops", "last_save_dir": "/s"}))
    mixed = Settings(path).load()
    assert mixed.get("recent_folders") == [] and mixed.get("last_save_dir") == "/s"


def test_settings_location_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_STUDIO_CONFIG_DIR", str(tmp_path / "cfg"))
    assert Settings().path == tmp_path / "cfg" / "settings.json"


def test_backbone_model_freezing_and_compatibility():
    m = BackboneModel()
    m.set_backbones([
        {"id": "img_small", "modality": "image", "num_params": 10, "weights_available": True},
        {"id": "efficientnet_lite0", "modality": "image", "num_params": 4_690_000, "weights_available": True,
         "preprocess": {"input_size": 224}, "license": "Apache-2.0"},
        {"id": "txt", "modality": "text", "num_params": 5, "weights_available": True},
        {"id": "nope", "modality": "image", "num_params": 5, "weights_available": False},
        {"id": "test_tiny", "modality": "image", "hidden": True},
    ])
    m.set_data_modality("image")
    assert m.selected == "efficientnet_lite0"  # the preferred default for images
    assert [c.id for c in m.choices()] == ["img_small", "efficientnet_lite0", "txt", "nope"]
    assert m.groups()[0][0] == "Images" and m.groups()[1][0] == "Text"
    assert not m.select("txt") and not m.select("nope") and m.selected == "efficientnet_lite0"
    assert m.choice("efficientnet_lite0").input_size == "224 px"
    m.set_info("efficientnet_lite0", [{"name": "stem", "params": 100}, {"name": "b1", "params": 200},
                                      {"name": "b2", "params": 300}, {"name": "head", "params": 10}], 610, 2)
    # a new backbone starts on Auto: the backbone's recommendation is shown until the engine's recipe answers
    assert m.ready and m.freeze is None and m.shown_freeze == 2 and m.levels == 3
    assert m.trainable_params() == 310
    m.auto_freeze = 1  # what the engine's resolve_config said
    assert m.freeze is None and m.shown_freeze == 1 and m.trainable_params() == 510
    m.set_freeze(99)
    assert m.freeze == 3 and m.trainable_params() == 10 and "Only the new head learns" in m.explanation()
    m.set_freeze(0)
    assert m.trainable_params() == 610 and "Every layer learns" in m.explanation()
    assert "610 of 610" in m.summary() and "(100%)" in m.summary()
    m.set_data_modality("text")
    assert m.selected == "txt" and not m.ready


def test_parameter_share_never_rounds_a_partial_share_away():
    from gui.format import share as share_text

    # EfficientNet-Lite0 with 3 stages frozen: 16 k of 3.4 M parameters frozen
    assert share_text(1 - 16_000 / 3_400_000) == "99.5%"
    assert share_text(0.00015) == "0.01%" and share_text(0.37) == "37%"
    assert share_text(1.0) == "100%" and share_text(0.0) == "0%"
    assert share_text(1 - 1e-9) == ">99.99%"


def test_data_model_findings_and_samples(tmp_path):
    from tests.test_gui_fakes import make_image_folder

    root = make_image_folder(tmp_path / "d", per_class=3, corrupt=1)
    m = DataModel()
    m.begin_scan([str(root)])
    assert m.scanning and "Reading" in m.summary()
    m.set_report({"roots": [str(root)], "modality": "image",
                  "image": {"width": {"min": 20, "median": 28, "max": 28}, "height": {"min": 28, "median": 28, "max": 28},
                            "modes": {"L": 4}},
                  "classes": [{"name": "cat", "count": 3, "splits": {"train": 2, "test": 1}},
                              {"name": "dog", "count": 1, "splits": {"train": 1}}],
                  "imbalance_ratio": 3.0,
                  "skipped": [{"path": str(root / "cat" / "broken_0.png"), "reason": "bad"}],
                  "findings": [{"severity": "info", "code": "imbalance", "message": "m", "advice": "a"}]})
    assert m.ready and m.total == 4
    assert "3.0×" in m.summary()
    details = m.details()
    assert "3 to train on, 0 to pick the best epoch, 1 kept aside" in details[0]
    assert details[1] == "Images are typically 28×28 px (from 20×28 to 28×28), greyscale."
    orig = m.report
    small = {**orig, "classes": [{"name": c, "count": 12, "splits": {"train": 8, "val": 2, "test": 2}}
                                     for c in ("cat", "dog")]}
    m.set_report(small)
    m.refit = True  # the engine's recipe said so: validation decides the length and is learned from too
    assert "16 to train on, 4 to decide how long to train (then learned from too), 4 kept aside" in m.details()[0]
    m.set_report({**m.report, "classes": [{"name": c, "count": 12, "splits": {"train": 8 * 10, "val": 2}}
                                          for c in ("cat", "dog")]})
    assert "160 to train on, 4 to pick the best epoch, 0 kept aside" in m.details()[0]
    m.set_report(orig)
    findings = m.findings()
    assert [f.severity for f in findings] == ["warning", "info"]  # worst first; skipped files synthesised
    assert findings[0].paths == (str(root / "cat" / "broken_0.png"),)
    samples = m.sample_paths(per_class=5)
    assert len(samples["cat"]) == 3 and all("broken" not in p for p in samples["cat"])
    m.set_report({"classes": [{"name": "a", "count": 1}], "fatal": "Only one class."})
    assert not m.ready and m.findings()[0].severity == "error"
    assert usable_drop_paths([str(root), str(root), str(tmp_path / "x.png"), str(tmp_path / "t.csv")]) == \
        [str(root), str(tmp_path / "t.csv")]


def test_results_model_tolerates_missing_keys_and_reads_engine_format(tmp_path):
    r = ResultsModel()
    r.set_result("/run", {})
    assert r.ready and r.splits() == [] and r.headline() == [] and r.confusion() == []
    assert r.cell_examples(0, 0) == [] and r.split_files() == []
    metrics = {"classes": ["a", "b"], "val": None, "test": {
        "accuracy": 0.9, "ci95": {"accuracy": [0.8, 0.95]},
        "per_class": [{"name": "a", "precision": 1.0, "recall": 0.8, "f1": 0.89, "support": 5},
                      {"name": "b", "precision": 0.8, "recall": None, "f1": 0.5}],
        "confusion_matrix": [[4, 1], [0, 5]],
        "binary": {"sensitivity": 1.0},
        "confident_errors": [{"path": "/x.png", "true": "a", "predicted": "b", "probability": 0.97}]}}
    run = tmp_path / "run"
    run.mkdir()
    (run / "splits.json").write_text(json.dumps({"classes": ["a", "b"], "test": [["/y.png", 1, "h"],
                                                                                 ["/x.png", 0, "h"]]}))
    r.set_result(str(run), metrics)
    assert r.splits() == ["test"] and r.split == "test"
    assert r.split_title("test") == "Test set"  # the engine gave no count: none is made up
    metrics["test"]["n"] = 10
    r.set_result(str(run), metrics)
    assert r.split_title("test") == "Test set · 10 examples"  # what the figures rest on
    assert r.headline()[0] == ("Accuracy", "90.0% (80.0–95.0)")
    assert ("Sensitivity", "100.0%") in r.headline()
    rows = r.per_class()
    assert rows[1].recall is None and rows[1].support is None and r.weakest_class() == "b"
    assert [e.path for e in r.cell_examples(0, 1)] == ["/x.png"]  # from the confident errors
    files = r.split_files()
    assert files == [("/y.png", "b"), ("/x.png", "a")]
    r.set_cell_predictions("test", files, [{"path": "/y.png", "top": [["b", 0.6]]},
                                           {"path": "/x.png", "top": [["b", 0.97]]}])
    assert r.has_cell_files()
    assert [e.path for e in r.cell_examples(1, 1)] == ["/y.png"]
    r.set_predictions([{"path": "/q", "top": [["a", 0.7], ["b", "bad"]]}, {"path": "/r", "error": "unreadable"}])
    assert r.prediction_rows() == [("/q", [("a", 0.7)], ""), ("/r", [], "unreadable")]


def test_build_config_and_run_state():
    cfg = build_config(["/data"], "tiny", 2, TrainSettings(epochs=4, lr=3e-4, early_stopping=False), "/runs")
    assert cfg["epochs"] == 4 and cfg["lr"] == 3e-4 and cfg["freeze"] == 2
    assert cfg["early_stopping_patience"] is None and cfg["runs_root"] == "/runs"
    assert cfg["batch_size"] is None  # Auto stays None for the engine's recipe
    with pytest.raises(ConfigError, match="Learning rate"):
        build_config(["/data"], "tiny", 0, TrainSettings(lr=50.0), "/runs")
    assert TrainSettings.from_dict({"epochs": "many", "augment": "standard", "bogus": 1}).epochs is None
    run = RunState()
    run.start({"x": 1})
    run.on_checkpoint("last", "/runs/r1/checkpoints/last", 1)
    assert run.run_dir == "/runs/r1" and not run.can_resume
    run.finish("crashed")
    assert run.can_resume and "unexpectedly" in run.progress_text()


def test_progress_bar_reaches_100_and_is_busy_while_evaluating(qtbot):
    from gui.train_page import TrainPage

    run = RunState()
    page = TrainPage(run)
    qtbot.addWidget(page)
    run.start({})
    run.on_status("loading_model", "ResNet-18 on cpu")
    page.refresh(True, "")
    assert page.bar.maximum() == 0  # busy, no number yet
    run.on_status("training", "")
    run.on_progress(types.SimpleNamespace(phase="train", epoch=3, epochs=3, step=7, steps=9, global_step=25,
                                          total_steps=28, samples_per_s=10.0, eta_s=2.0))
    page.refresh(True, "")
    assert (page.bar.maximum(), page.bar.value()) == (1000, 893)  # 25 of 28: the last reported step
    run.on_status("evaluating", "Scoring the best model")
    page.refresh(True, "")
    assert page.bar.maximum() == 0 and "Measuring" in page.status.text()
    run.on_status("caching_features", "")
    run.on_progress(types.SimpleNamespace(phase="cache", step=3, steps=4))
    page.refresh(True, "")
    assert (page.bar.maximum(), page.bar.value()) == (1000, 750) and page.bar.text().startswith("Preparing")
    run.on_status("refitting", "2 epochs, batch 8")  # the final model on train + validation: its own count
    run.on_progress(types.SimpleNamespace(phase="refit", epoch=1, epochs=2, step=3, steps=4, global_step=3,
                                          total_steps=8, samples_per_s=10.0, eta_s=1.0))
    page.refresh(True, "")
    assert (page.bar.maximum(), page.bar.value()) == (1000, 375) and page.bar.text().startswith("Training again")
    assert "Training again on train + validation" in page.status.text()
    run.finish("completed", "/runs/r")
    page.refresh(True, "")
    assert (page.bar.maximum(), page.bar.value(), page.bar.text()) == (1000, 1000, "100%")
    assert page.status.text() == "Finished."
    run.start({})
    run.on_progress(types.SimpleNamespace(phase="train", epoch=1, epochs=3, step=3, steps=9, global_step=3,
                                          total_steps=27, samples_per_s=10.0, eta_s=2.0))
    run.finish("cancelled")
    page.refresh(True, "")
    assert page.bar.value() == 111  # a cancelled run keeps where it stopped


def test_image_only_settings_are_greyed_out_for_text(qtbot):
    from gui.train_page import TrainPage

    run = RunState()
    page = TrainPage(run)
    qtbot.addWidget(page)
    page.refresh(True, "")
    assert page.augment.isEnabled() and page.input_size.isEnabled()
    page.text_mode = True  # the window sets it from the data's modality
    page.refresh(True, "")
    assert not page.augment.isEnabled() and not page.input_size.isEnabled()
    assert page.epochs.isEnabled() and page.lr.isEnabled()
    page.text_mode = False
    run.start({})
    page.refresh(True, "")
    assert not page.augment.isEnabled()  # and everything is locked while a run goes


def test_results_show_the_simple_baseline_on_its_split_and_never_as_a_split():
    r = ResultsModel()
    base = {"method": "logistic regression on 16x16 grey pixels", "accuracy": 0.9, "split": "test"}
    r.set_result("/run", {"val": {"accuracy": 0.95}, "test": {"accuracy": 0.8}, "simple_baseline": base})
    assert r.splits() == ["test", "val"]
    assert "90.0%" in r.baseline_note() and "above the model" in r.baseline_note()
    r.split = "val"
    assert r.baseline_note() == ""
    r.set_result("/run", {"test": {"accuracy": 0.95}, "simple_baseline": base})
    assert "below the model" in r.baseline_note()
    assert "flatters" not in r.baseline_note()
    r.set_result("/run", {"val": {"accuracy": 0.95}, "simple_baseline": {**base, "split": "val"}})
    assert "below the model" in r.baseline_note() and "chosen on this split" in r.baseline_note()


def test_confusion_matrix_columns_elide_long_class_names_from_the_end(qtbot):
    from gui.results_page import ResultsPage
    from gui.thumbnails import ThumbnailLoader

    names = ["Ankle_boot", "T-shirt_top", "Pullover", "Sneaker", "Sandal", "Trouser", "Shirt", "Coat", "Dress",
             "Bag"]
    r = ResultsModel()
    r.set_result("/run", {"classes": names, "test": {"accuracy": 0.5, "confusion_matrix": [
        [3 if i == j else 0 for j in range(10)] for i in range(10)]}})
    page = ResultsPage(r, thumbnails=ThumbnailLoader())
    qtbot.addWidget(page)
    page.resize(700, 500)
    page.show()
    page.refresh()
    qtbot.waitExposed(page)
    header = page.matrix.horizontalHeader()
    texts = [page.matrix.horizontalHeaderItem(j).text() for j in range(10)]
    fm = header.fontMetrics()
    for j, (name, text) in enumerate(zip(names, texts)):
        assert fm.horizontalAdvance(text) <= max(16, header.sectionSize(j) - 10)  # it fits its column
        assert text == name or (text.endswith("…") and name.startswith(text[:-1])), (name, text)
        assert page.matrix.horizontalHeaderItem(j).toolTip() == f"predicted: {name}"
    assert texts[0] != names[0]  # this window is too narrow for "Ankle_boot"
    page.resize(1800, 500)  # wide enough: whole names again
    qtbot.waitUntil(lambda: page.matrix.horizontalHeaderItem(0).text() == "Ankle_boot", timeout=3000)
