"""Issue 24 through the window, against the scripted engine: the app remembers.

Close after training, reopen, find the run in the Runs view, open its results, compare it with
another, resume a cancelled one, predict a folder into a table and a CSV, use the learning-rate
finder's suggestion; runs and bundles opened from the menu, Recent and drops. Run folders are
written as training writes them (tests/test_runs.make_run); no fixed sleeps.
"""
from __future__ import annotations

import csv
import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from gui.settings import Settings
from gui.window import RESULTS, TRAIN, TRY, MainWindow
from tests.test_gui_fakes import FakeEngine, drop_paths, make_image_folder, png_bytes
from tests.test_gui_workflow import ready_to_train
from tests.test_runs import make_run

pytestmark = pytest.mark.timeout(120)

SPLIT = {"n": 4, "accuracy": 0.75, "balanced_accuracy": 0.75, "macro_f1": 0.74, "classes": ["cat", "dog"],
         "ci95": {"accuracy": [0.3, 0.95]}, "confusion_matrix": [[2, 0], [1, 1]],
         "per_class": [{"name": "cat", "precision": 0.67, "recall": 1.0, "f1": 0.8, "support": 2},
                       {"name": "dog", "precision": 1.0, "recall": 0.5, "f1": 0.67, "support": 2}]}


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_STUDIO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TRANSFER_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path


def finished_run(root, name, lr=1e-3, t0=1_700_000_000.0):
    run = make_run(root, name, lr=lr, t0=t0)
    (run / "metrics.json").write_text(json.dumps({"classes": ["cat", "dog"], "val": SPLIT, "test": SPLIT}))
    return run


def open_window(qtbot, **fake_kwargs):
    fake = FakeEngine(**fake_kwargs)
    w = MainWindow(fake, settings=Settings().load())
    w.confirm_quit = lambda: True
    qtbot.addWidget(w)
    w.resize(1366, 768)
    w.show()
    w.session.start_engine()
    qtbot.waitUntil(lambda: bool(w.backbones.specs), timeout=5000)
    return w, fake


def select_rows(dialog, titles):
    return dialog.select_paths([r.path for r in dialog.model.runs if r.title in titles])


def test_after_a_restart_the_run_is_in_the_runs_view_and_its_results_open(qtbot, env):
    runs = env / "runs"
    first = finished_run(runs, "pets-1", t0=1_700_000_000.0)
    make_run(runs, "pets-2", ending="cancelled", t0=1_700_000_500.0)
    w, fake = open_window(qtbot)
    dialog = w.history.show_runs()
    assert dialog.row_count() == 2
    texts = {dialog.cell(r, 0): [dialog.cell(r, c) for c in range(11)] for r in range(2)}
    assert texts["pets-1"][5].startswith("Finished") and "75.0% (30.0–95.0) on 4 test" == texts["pets-1"][7]
    assert texts["pets-2"][5] == "Stopped: cancelled" and texts["pets-1"][3] == "Tiny net"
    assert [dialog.cell(r, 0) for r in range(2)] == ["pets-2", "pets-1"]  # newest first
    dialog.table.sortByColumn(7, Qt.SortOrder.DescendingOrder)  # by test figures: numbers, not text
    assert [dialog.cell(r, 0) for r in range(2)] == ["pets-1", "pets-2"]
    assert select_rows(dialog, {"pets-1"}) == [str(first)]
    assert dialog.open_button.isEnabled() and not dialog.resume_button.isEnabled()
    dialog.open_button.click()
    assert w.results.ready and w.results.run_dir == str(first) and w.stack.currentIndex() == RESULTS
    # Try it and Save work from the opened run
    img = env / "one.png"
    img.write_bytes(png_bytes())
    w.try_files([str(img)])
    qtbot.waitUntil(lambda: bool(w.results.predictions), timeout=5000)
    assert fake.sent[-1].model == str(first)
    w.session.save(str(env / "out"))
    qtbot.waitUntil(lambda: bool(w.results.saved_path), timeout=5000)
    # the next session remembers it under File → Recent models
    w.close()
    w2, _ = open_window(qtbot)
    w2.history._fill_recent()
    assert [a.text() for a in w2.history.recent_menu.actions()] == [str(first)]


def test_rename_note_filter_and_delete_with_confirmation(qtbot, env, monkeypatch):
    runs = env / "runs"
    finished_run(runs, "a", t0=1.0e9)
    b = finished_run(runs, "b", t0=2.0e9)
    w, _ = open_window(qtbot)
    dialog = w.history.show_runs()
    select_rows(dialog, {"a"})
    monkeypatch.setattr("gui.runs_dialog.QInputDialog.getText", lambda *a, **k: ("cats, lower lr", True))
    dialog.rename_button.click()
    monkeypatch.setattr("gui.runs_dialog.QInputDialog.getMultiLineText", lambda *a, **k: ("try 3e-4 next", True))
    select_rows(dialog, {"cats, lower lr"})
    dialog.note_button.click()
    assert json.loads((runs / "a" / "notes.json").read_text()) == {"display_name": "cats, lower lr",
                                                                  "note": "try 3e-4 next"}
    dialog.filter.setText("3e-4")
    assert dialog.row_count() == 1 and dialog.cell(0, 0) == "cats, lower lr"
    dialog.filter.setText("")
    select_rows(dialog, {"b"})
    monkeypatch.setattr(dialog, "confirm_delete", lambda titles: False)
    dialog.delete_button.click()
    assert b.exists()  # "No" keeps it
    monkeypatch.setattr(dialog, "confirm_delete", lambda titles: titles == ["b"])
    dialog.delete_button.click()
    assert not b.exists() and dialog.row_count() == 1


def test_compare_overlays_curves_and_highlights_the_settings_that_differ(qtbot, env):
    runs = env / "runs"
    finished_run(runs, "slow", lr=1e-4, t0=1.0e9)
    finished_run(runs, "fast", lr=1e-2, t0=2.0e9)
    w, _ = open_window(qtbot)
    dialog = w.history.show_runs()
    assert not dialog.compare_button.isEnabled()
    select_rows(dialog, {"slow", "fast"})
    assert dialog.compare_button.isEnabled()
    dialog.compare_button.click()
    cmp = w.history.compare_dialog
    assert cmp is not None and cmp.differing_settings() == ["lr"]
    assert sorted(cmp.drawn) == ["fast: val loss", "slow: val loss"]  # loss first
    cmp.kind.setCurrentIndex(1)  # accuracy
    assert sorted(cmp.drawn) == ["fast: val accuracy", "slow: val accuracy"]
    cmp.kind.setCurrentIndex(2)  # learning rate, per step, log axis
    assert sorted(cmp.drawn) == ["fast", "slow"]
    figures = {cmp.figures.verticalHeaderItem(i).text(): cmp.figures.item(i, 0).text()
               for i in range(cmp.figures.rowCount())}
    assert figures["Accuracy"] == "75.0% (30.0–95.0) on 4 test"
    row = next(i for i in range(cmp.settings.rowCount()) if cmp.settings.verticalHeaderItem(i).text() == "lr")
    assert row == 0 and cmp.settings.item(0, 0).background().color().alpha() > 0


def test_a_cancelled_run_resumes_after_a_restart(qtbot, env):
    run = make_run(env / "runs", "stopped", ending="cancelled")
    w, fake = open_window(qtbot)
    dialog = w.history.show_runs()
    select_rows(dialog, {"stopped"})
    assert dialog.resume_button.isEnabled()
    dialog.resume_button.click()
    assert fake.runs[-1]["resume_from"] == str(run) and fake.runs[-1]["config"]["lr"] == 1e-3
    assert w.stack.currentIndex() == TRAIN and w.run.running
    assert not dialog.resume_button.isEnabled() and not dialog.delete_button.isEnabled()  # it is training
    qtbot.waitUntil(lambda: w.results.ready, timeout=10000)
    assert w.results.run_dir == str(run)


def test_opening_an_unfinished_run_offers_resume_on_the_train_page(qtbot, env):
    run = make_run(env / "runs", "killed", ending="killed")
    w, fake = open_window(qtbot)
    dialog = w.history.show_runs()
    select_rows(dialog, {"killed"})
    assert not dialog.open_button.isEnabled()  # no results to open
    dialog.table.doubleClicked.emit(dialog.sorted.index(0, 0))  # opens it where it can go on
    assert w.stack.currentIndex() == TRAIN and w.train_page.resume_button.isVisible()
    assert w.message.isVisible()
    w.train_page.resume_button.click()
    assert fake.runs[-1]["resume_from"] == str(run)


def test_dropping_a_bundle_opens_it_for_try_it_and_evaluation_not_save(qtbot, env):
    bundle = env / "pets.tsbundle"
    bundle.mkdir()
    (bundle / "manifest.json").write_text("{}")
    (bundle / "labels.json").write_text(json.dumps({"classes": ["cat", "dog"]}))
    (bundle / "metrics.json").write_text(json.dumps({"classes": ["cat", "dog"], "test": SPLIT}))
    w, fake = open_window(qtbot)
    drop_paths(w, [bundle])
    qtbot.waitUntil(lambda: w.results.ready, timeout=5000)
    assert w.results.source == "bundle" and w.results.headline()[0] == ("Accuracy", "75.0% (30.0–95.0)")
    assert not w.save_page.save_button.isEnabled() and "bundle already" in w.save_page.where.text()
    w.go(TRY)
    img = env / "one.png"
    img.write_bytes(png_bytes())
    w.try_files([str(img)])
    qtbot.waitUntil(lambda: bool(w.results.predictions), timeout=5000)
    assert fake.sent[-1].model == str(bundle)
    # a run folder dropped opens too
    run = finished_run(env / "runs", "r")
    drop_paths(w, [run])
    assert w.results.run_dir == str(run) and w.results.source == "run"


def test_predict_a_folder_fills_a_table_filters_it_and_saves_csv(qtbot, env, monkeypatch):
    run = finished_run(env / "runs", "r")
    folder = make_image_folder(env / "incoming", classes=("x", "y"), per_class=5)
    (folder / "readme.txt").write_text("not an image")
    w, fake = open_window(qtbot)
    w.history.open_path(str(run))
    w.go(TRY)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    w.try_page.folder_button.click()
    dialog = w.history.folder_dialog
    job = w.models.folder
    qtbot.waitUntil(lambda: not job.running and job.total == 11, timeout=5000)
    assert dialog.proxy.rowCount() == 11 and job.unreadable == 1 and "could not be read" in dialog.status.text()
    dialog.klass.setCurrentIndex(dialog.klass.findData("cat"))
    assert 0 < dialog.proxy.rowCount() < 10
    dialog.klass.setCurrentIndex(0)
    dialog.low.setChecked(True)
    assert all(dialog.proxy.index(r, 2).data() == "55.0%" for r in range(dialog.proxy.rowCount()))
    dialog.low.setChecked(False)
    dialog.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    assert dialog.proxy.index(0, 2).data() == "90.0%"
    out = env / "table.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    dialog.save_button.click()
    rows = list(csv.reader(out.open()))
    assert rows[0][:4] == ["path", "decision", "label_1", "probability_1"] and len(rows) == 12
    assert [r[-1] for r in rows if r[0].endswith("readme.txt")] == ["could not read it (not an image)"]


def test_a_folder_dropped_on_the_try_page_is_predicted_whole(qtbot, env):
    run = finished_run(env / "runs", "r")
    folder = make_image_folder(env / "incoming", classes=("x", "y"), per_class=120)  # more than the 200 a drop took
    w, fake = open_window(qtbot)
    w.history.open_path(str(run))
    w.go(TRY)
    drop_paths(w, [folder])
    qtbot.waitUntil(lambda: not w.models.folder.running and w.models.folder.total == 240, timeout=10000)
    assert len(w.models.folder.rows) == 240 and w.history.folder_dialog.isVisible()
    assert not [m for m in fake.sent if m.TYPE == "predict"]  # not the 200-file Try-it request


def test_a_folder_prediction_can_be_cancelled_and_keeps_what_it_had(qtbot, env):
    run = finished_run(env / "runs", "r")
    folder = make_image_folder(env / "incoming", classes=("x", "y"), per_class=6)
    w, fake = open_window(qtbot)
    w.history.open_path(str(run))
    fake.hold_jobs = True
    dialog = w.history.predict_folder(str(folder))
    job = w.models.folder
    qtbot.waitUntil(lambda: len(job.rows) == 3, timeout=5000)
    assert job.running and dialog.cancel_button.isEnabled() and "3 of 12 files" in dialog.status.text()
    dialog.cancel_button.click()
    fake.release_jobs()
    qtbot.waitUntil(lambda: not job.running, timeout=5000)
    assert job.cancelled and len(job.rows) == 3 and dialog.save_button.isEnabled()
    assert "Cancelled after 3 of 12" in dialog.status.text()


def test_the_lr_finder_suggests_a_rate_and_use_this_rate_fills_the_form(qtbot, env):
    folder = make_image_folder(env / "pets", classes=("cat", "dog"), per_class=5)
    w, fake = open_window(qtbot)
    ready_to_train(qtbot, w, folder)
    assert w.train_page.lr_find_button.isEnabled()
    w.train_page.lr_find_button.click()
    dialog = w.history.lr_dialog
    qtbot.waitUntil(lambda: not w.models.lr.running and bool(w.models.lr.suggestion), timeout=5000)
    sent = [m for m in fake.sent if m.TYPE == "find_lr"][-1]
    assert sent.config["backbone"] == w.backbones.selected and sent.config["data"] == [str(folder)]
    assert len(w.models.lr.lrs) == 20 and "steepest descent" in dialog.text.text()
    assert dialog.use_button.isEnabled()
    dialog.use_button.click()
    assert w.train_page.lr.currentText() == "0.00032"
    w.start_training()
    assert fake.runs[-1]["config"]["lr"] == pytest.approx(3.2e-4)
