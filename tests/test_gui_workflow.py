"""The window's whole workflow against a scripted engine: drop, model, train, results, try, save.

Also cancel, an engine crash with resume, a run that fails with an engine error, and a
folder with corrupt files. No fixed sleeps: every wait is on a condition.
"""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from gui.window import DATA, MODEL, RESULTS, SAVE, TRAIN, TRY, MainWindow
from gui.settings import Settings

from engine import protocol as P
from tests.test_gui_fakes import FakeEngine, drop_paths, make_image_folder

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_STUDIO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TRANSFER_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path


def open_window(qtbot, size=(1366, 768), **fake_kwargs):
    fake = FakeEngine(**fake_kwargs)
    w = MainWindow(fake, settings=Settings().load())
    w.confirm_quit = lambda: True  # no modal question at teardown
    qtbot.addWidget(w)
    if size:
        w.resize(*size)
    w.show()
    w.session.start_engine()
    qtbot.waitUntil(lambda: bool(w.backbones.specs), timeout=5000)
    return w, fake


def load_folder(qtbot, w, folder):
    drop_paths(w, [folder])
    qtbot.waitUntil(lambda: w.data.report is not None, timeout=5000)


def ready_to_train(qtbot, w, folder):
    load_folder(qtbot, w, folder)
    assert w.go(MODEL)
    qtbot.waitUntil(lambda: w.backbones.ready, timeout=5000)
    assert w.go(TRAIN)


def test_whole_workflow(qtbot, env, monkeypatch):
    folder = make_image_folder(env / "pets", classes=("cat", "dog", "fox"), per_class=5)
    w, fake = open_window(qtbot)
    assert not w.step_enabled(MODEL) and not w.step_enabled(RESULTS)

    # 1. data: a dropped folder is inspected and shown
    load_folder(qtbot, w, folder)
    assert [c.name for c in w.data.classes] == ["cat", "dog", "fox"]
    assert w.data_page.chart.items == [("cat", 5), ("dog", 5), ("fox", 5)]
    assert w.data_page.stack.currentIndex() == 1
    qtbot.waitUntil(lambda: w.thumbnails.idle and bool(w.data_page.thumb_labels), timeout=5000)
    cells = [c for cells in w.data_page.thumb_labels.values() for c in cells]
    assert cells and all(not c.pixmap().isNull() for c in cells)
    assert str(folder) in w.settings.get("recent_folders")

    # 2. model: the image backbone is picked; text and missing-weights ones are disabled with a reason
    assert w.go(MODEL)
    qtbot.waitUntil(lambda: w.backbones.ready, timeout=5000)
    assert w.backbones.selected == "tiny_image"
    choices = {c.id: c for c in w.backbones.choices()}
    assert not choices["tiny_text"].enabled and "text" in choices["tiny_text"].reason
    assert not choices["absent_image"].enabled and "weights" in choices["absent_image"].reason
    assert not w.model_page.select("tiny_text")
    assert w.model_page.slider.value() == 1  # the recommended depth
    w.model_page.slider.setValue(2)  # linear probe
    assert w.backbones.freeze == 2
    assert [b.frozen for b in w.model_page.blocks.blocks] == [True, True, False]
    assert "Only the new head learns" in w.model_page.explanation.text()
    assert w.backbones.trainable_params() == 30

    # 3. train: start, the plots receive points, the run finishes
    assert w.go(TRAIN)
    assert w.train_page.start_button.isEnabled()
    w.train_page.epochs.setValue(3)
    bar_seen = []  # (phase, bar maximum, value) right after the window handled each status
    fake.status.connect(lambda st: bar_seen.append((st.phase, w.train_page.bar.maximum(), w.train_page.bar.value())))
    qtbot.mouseClick(w.train_page.start_button, Qt.MouseButton.LeftButton)
    config = fake.runs[-1]["config"]
    assert config["backbone"] == "tiny_image" and config["freeze"] == 2 and config["epochs"] == 3
    assert config["data"] == [str(folder)]
    qtbot.waitUntil(lambda: w.train_page.plots is not None and len(w.train_page.plots.series["loss"]) > 3,
                    timeout=5000)
    with qtbot.waitSignal(fake.result, timeout=10000):
        pass
    qtbot.waitUntil(lambda: w.train_page.plots.point_counts()["val_acc"][1] == 3, timeout=5000)
    assert w.run.stopped == "completed" and not w.train_page.cancel_button.isEnabled()
    # the last step went unreported (as with the real engine); evaluation showed a busy bar, the end 100%
    assert any(ph == "evaluating" and mx == 0 for ph, mx, _ in bar_seen), bar_seen
    assert w.run.global_step < w.run.total_steps  # so the full bar below is not just the last progress
    assert (w.train_page.bar.maximum(), w.train_page.bar.value()) == (1000, 1000)
    assert w.train_page.bar.text() == "100%" and w.train_page.status.text() == "Finished."

    # 4. results: the window moves on by itself and shows the metrics
    assert w.stack.currentIndex() == RESULTS
    assert w.results_page.table.rowCount() == 3
    assert w.results_page.table.item(0, 0).text() == "cat"
    assert w.results_page.matrix.rowCount() == 3 and w.results_page.matrix.item(0, 0).text() == "3"
    assert "75.0%" in w.results_page.headline.text()
    assert len(w.results_page.gallery_paths()) == 3
    w.results_page.show_cell(0, 1)  # true cat, predicted dog
    assert w.results_page.gallery_paths() == ["/data/cat/x0.png"]

    # 6. save into a folder the person picks; where it went and the card are shown
    target = env / "saved"
    target.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(target))
    w.save_dialog()
    qtbot.waitUntil(lambda: w.results.saved_path is not None, timeout=5000)
    assert (target / "run1.tsbundle" / "MODEL_CARD.md").is_file()
    assert "run1.tsbundle" in w.save_page.where.text()
    assert "cat, dog, fox" in w.save_page.card.toPlainText()

    # 5. try it: a file dropped on the Try page gets top-k predictions
    assert w.go(TRY)
    sample = folder / "dog" / "dog_0.png"
    drop_paths(w, [sample])
    qtbot.waitUntil(lambda: bool(w.results.predictions), timeout=5000)
    path, top, error = w.results.prediction_rows()[0]
    assert path == str(sample) and not error and len(top) == 3 and top[0][0] == "cat"
    assert fake.sent[-1].paths == [str(sample)]
    assert not w.try_page.drop.isVisible()


def test_cancel_stops_run_and_offers_resume(qtbot, env):
    folder = make_image_folder(env / "d")
    w, fake = open_window(qtbot, hold_after_checkpoint=True)
    ready_to_train(qtbot, w, folder)
    w.start_training()
    qtbot.waitUntil(lambda: w.run.last_checkpoint is not None, timeout=5000)
    assert w.train_page.cancel_button.isEnabled()
    qtbot.mouseClick(w.train_page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not w.run.running, timeout=5000)
    assert w.run.stopped == "cancelled"
    assert w.train_page.start_button.isEnabled()
    assert not w.step_enabled(RESULTS)
    assert w.message.isVisible() and "cancelled" in w.message.label.text()
    assert w.message.action.isVisible()  # resume
    w.message.action.click()
    qtbot.waitUntil(lambda: len(fake.runs) == 2, timeout=5000)
    assert fake.runs[1]["resume_from"] == fake.runs[0]["resume_from"] or fake.runs[1]["resume_from"]


def test_engine_crash_explains_and_resumes_from_checkpoint(qtbot, env):
    folder = make_image_folder(env / "d")
    w, fake = open_window(qtbot, hold_after_checkpoint=True)
    ready_to_train(qtbot, w, folder)
    w.start_training()
    qtbot.waitUntil(lambda: w.run.last_checkpoint is not None, timeout=5000)
    run_dir = w.run.run_dir
    fake.crash(-11, "Fatal Python error: Segmentation fault")
    assert not w.run.running and w.run.stopped == "crashed"
    assert w.message.isVisible()
    text = w.message.label.text()
    assert "stopped unexpectedly" in text and "Segmentation fault" in text
    assert w.message.action.text() == "Resume from last checkpoint"
    assert "Engine stopped" in w.engine_label.text()
    w.message.action.click()  # restarts the engine, then resumes once it says hello
    qtbot.waitUntil(lambda: len(fake.runs) == 2, timeout=5000)
    assert fake.runs[1]["resume_from"] == run_dir
    assert fake.runs[1]["config"] == fake.runs[0]["config"]
    qtbot.waitSignal(fake.result, timeout=20000).wait()
    assert w.run.stopped == "completed" and w.results.run_dir == run_dir


def test_engine_error_during_run_is_shown_in_plain_language(qtbot, env):
    folder = make_image_folder(env / "d")
    w, fake = open_window(qtbot, fail_run=3)
    ready_to_train(qtbot, w, folder)
    w.start_training()
    qtbot.waitUntil(lambda: not w.run.running, timeout=5000)
    assert w.run.stopped == "failed"
    text = w.message.label.text()
    assert text.startswith("Out of memory:") and "smaller batch size" in text
    assert w.isVisible()


def test_corrupt_files_are_reported_not_fatal(qtbot, env):
    folder = make_image_folder(env / "d", per_class=3, corrupt=2)
    w, _ = open_window(qtbot)
    load_folder(qtbot, w, folder)
    assert w.data.ready
    assert [c.count for c in w.data.classes] == [3, 3]
    titles = w.data_page.finding_titles()
    assert any("Unreadable" in t for t in titles), titles
    assert len(w.data.skipped) == 4
    samples = w.data.sample_paths()
    assert all("broken" not in p for paths in samples.values() for p in paths)
    assert w.step_enabled(MODEL)


def test_bad_drop_and_not_a_dataset(qtbot, env):
    w, fake = open_window(qtbot)
    single = env / "one.txt"
    single.write_text("hello")
    drop_paths(w, [single])  # a lone file before any model exists: explained, not loaded
    assert w.message.isVisible() and "folder" in w.message.label.text()
    assert w.data.report is None
    lonely = make_image_folder(env / "lonely", classes=("only",))
    load_folder(qtbot, w, lonely)
    # the report is shown (class table) with the fatal sentence in its own box; nothing can be trained
    assert not w.data.ready and not w.step_enabled(MODEL) and not w.step_enabled(TRAIN)
    assert w.data_page.stack.currentIndex() == 1 and w.data_page.chart.items == [("only", 4)]
    assert w.data_page.fatal_box.isVisible() and "two class" in w.data_page.fatal_label.text()
    assert "cannot be used yet" in w.data_page.fatal_label.text()
    assert not w.data_page.next_button.isEnabled() and not w.train_page.start_button.isEnabled()
    assert not any("cannot be used" in t for t in w.data_page.finding_titles())  # not said twice
    # fixed on disk, then checked again from the same box
    make_image_folder(lonely, classes=("other",))
    n = len(fake.sent)
    w.data_page.recheck_button.click()
    qtbot.waitUntil(lambda: w.data.report is not None and w.data.ready, timeout=5000)
    assert fake.sent[n].paths == [str(lonely)]
    assert not w.data_page.fatal_box.isVisible() and w.step_enabled(MODEL)


def test_missing_weights_row_imports_through_the_library(qtbot, env, monkeypatch):
    from gui.library_page import LibraryPage

    carried = env / "usb" / "absent-1234.pth"
    carried.parent.mkdir()
    carried.write_bytes(b"x" * 2048)
    monkeypatch.setattr(LibraryPage, "choose_file", lambda self: str(carried))
    w, fake = open_window(qtbot)
    load_folder(qtbot, w, make_image_folder(env / "d"))
    assert w.go(MODEL)
    qtbot.waitUntil(lambda: w.backbones.ready, timeout=5000)
    link = w.model_page.import_links["absent_image"]
    assert link.isVisible() and "Import" in link.text() and "weights missing" in link.text()
    assert "never downloaded" in link.toolTip() and "Import" in w.backbones.choice("absent_image").reason
    assert w.model_page.missing_hint.isVisible()

    link.linkActivated.emit("absent_image")  # what a click on "Import…" does
    qtbot.waitUntil(lambda: w.library is not None and w.library.isVisible(), timeout=5000)
    qtbot.waitUntil(lambda: any(isinstance(m, P.ImportWeights) for m in fake.sent), timeout=5000)
    sent = [m for m in fake.sent if isinstance(m, P.ImportWeights)]
    assert [(m.path, m.backbone) for m in sent] == [(str(carried), "absent_image")]
    # the backbone becomes ready at once and, since its row asked for it, is selected
    qtbot.waitUntil(lambda: w.backbones.selected == "absent_image" and w.backbones.ready, timeout=5000)
    assert "absent_image" not in w.model_page.import_links
    assert w.model_page.tree.currentItem().text(0) == "Absent weights net"
    assert w.library.page.backbone_combo.currentData() == "absent_image"
    page = w.library.page
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=5000)
    row = [page.table.item(0, c).text() for c in range(page.table.columnCount())]
    assert row[0].startswith("absent_image") and row[2] == "2 KiB" and row[3] == "BSD"
    assert "Imported absent_image" in page.status.text()


def test_library_opens_from_the_model_page_and_the_menu(qtbot, env, monkeypatch):
    from gui.library_page import LibraryPage

    monkeypatch.setattr(LibraryPage, "choose_file", lambda self: pytest.fail("no file chooser unless asked"))
    w, fake = open_window(qtbot)
    load_folder(qtbot, w, make_image_folder(env / "d"))
    assert w.go(MODEL)
    qtbot.mouseClick(w.model_page.library_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.library is not None and w.library.isVisible(), timeout=5000)
    qtbot.waitUntil(lambda: w.library.page.backbone_combo.count() > 1, timeout=5000)
    assert w.library.page.backbone_combo.currentData() is None  # "Detect from the file name"
    assert not any(isinstance(m, P.ImportWeights) for m in fake.sent)
    w.library.close()
    actions = {a.text(): a for a in w.findChildren(type(w.menuBar().actions()[0]))}
    library_action = actions["Model &library…"]
    assert library_action.shortcut().toString() == "Ctrl+L"
    library_action.trigger()
    assert w.library.isVisible()


def test_the_window_shows_what_the_engines_recipe_will_do_and_freezing_starts_on_auto(qtbot, env):
    w, fake = open_window(qtbot)
    assert not w.train_page.auto_size.text()
    ready_to_train(qtbot, w, make_image_folder(env / "d"))  # 8 px images; the tiny backbone is 32 px
    qtbot.waitUntil(lambda: w.recipe.ready, timeout=5000)
    asked = [m for m in fake.sent if isinstance(m, P.ResolveConfig)]
    assert asked and asked[-1].config["freeze"] is None  # the slider is on Auto: the engine decides
    assert w.model_page.auto_button.isChecked() and w.backbones.shown_freeze == w.recipe.value("freeze") == 1
    assert "Auto:" in w.model_page.freeze_summary.text()
    panel = w.train_page.recipe_text.text()
    assert "Frozen stages</b>: 1" in panel and "Epochs</b>: 25" in panel and "about 300 optimizer steps" in panel
    assert w.train_page.estimate.text() == "At most about 2 min on this CPU (early stopping often ends sooner)."
    w.train_page.budget.setCurrentIndex(w.train_page.budget.findData("quick"))  # the time budget is sent too
    qtbot.waitUntil(lambda: w.recipe.ready and w.recipe.value("epochs") < 25, timeout=5000)
    assert [m for m in fake.sent if isinstance(m, P.ResolveConfig)][-1].config["budget"] == "quick"
    w.train_page.budget.setCurrentIndex(w.train_page.budget.findData("standard"))
    qtbot.waitUntil(lambda: w.recipe.ready and w.recipe.value("epochs") == 25, timeout=5000)
    asked = [m for m in fake.sent if isinstance(m, P.ResolveConfig)]
    # the person moves the slider: their choice is sent and shown as theirs; Auto puts it back
    n = len(asked)
    w.model_page.slider.setValue(0)
    qtbot.waitUntil(lambda: len([m for m in fake.sent if isinstance(m, P.ResolveConfig)]) > n and w.recipe.ready
                    and w.recipe.value("freeze") == 0, timeout=5000)
    assert "Frozen stages</b>: 0 <span style='color:gray'>(your choice)" in w.train_page.recipe_text.text()
    assert not w.model_page.auto_button.isChecked() and "Auto would freeze 1" in w.model_page.freeze_summary.text()
    w.model_page.auto_button.click()
    assert w.backbones.freeze is None
    qtbot.waitUntil(lambda: w.recipe.ready and w.recipe.value("freeze") == 1, timeout=5000)
    # a train setting changed: asked again, and the answer follows it
    w.train_page.epochs.setValue(7)
    qtbot.waitUntil(lambda: w.recipe.ready and w.recipe.value("epochs") == 7, timeout=5000)
    assert "Epochs</b>: 7 <span style='color:gray'>(your choice)" in w.train_page.recipe_text.text()
    w.train_page.epochs.setValue(5)
    assert w.session.start_training()  # at once: the run's own settings are still asked for and shown
    assert fake.runs[-1]["config"]["freeze"] is None  # Start sends Auto as None, as the CLI does
    qtbot.waitUntil(lambda: w.recipe.ready and w.recipe.value("epochs") == 5, timeout=5000)
    assert "Epochs</b>: 5" in w.train_page.recipe_text.text()
    w.train_page.advanced.set_expanded(True)
    assert w.train_page.auto_size.isVisible()
    assert w.train_page.auto_size.text() == "auto: 64 px for your data"
    assert "trained at 32 px" in w.train_page.auto_size.toolTip()
    assert "auto: 64 px" in w.model_page.details.text()


def test_train_settings_errors_are_sentences(qtbot, env):
    folder = make_image_folder(env / "d")
    w, fake = open_window(qtbot)
    ready_to_train(qtbot, w, folder)
    w.train_page.lr.setCurrentText("fast please")
    assert not w.session.start_training()
    assert "not a number" in w.message.label.text()
    assert fake.runs == []
    w.train_page.lr.setCurrentText("3e-4")
    w.train_page.val_fraction.setValue(0.5)
    w.train_page.test_fraction.setValue(0.45)
    assert not w.session.start_training()
    assert "too little to train on" in w.message.label.text()
    assert fake.runs == []


def test_demo_data_action_and_keyboard_steps(qtbot, env):
    from gui.window import demo_choices, resources_dir

    assert demo_choices() == ["images", "text"]
    w, fake = open_window(qtbot)
    w.data_page.demo_button.click()
    qtbot.waitUntil(lambda: w.data.report is not None, timeout=5000)
    assert fake.sent[-1].paths == [str(resources_dir() / "demo" / "images")]
    assert len(w.data.classes) == 5
    qtbot.waitUntil(lambda: w.backbones.ready, timeout=5000)
    go_actions = {a.shortcut().toString(): a for a in w.findChildren(type(w.menuBar().actions()[0]))}
    go_actions["Ctrl+3"].trigger()
    assert w.stack.currentIndex() == TRAIN
    go_actions["Ctrl+4"].trigger()  # results do not exist yet: the step stays disabled
    assert w.stack.currentIndex() == TRAIN
    text_demo = [a for a in w.data_page.demo_button.menu().actions() if a.text() == "Demo text"][0]
    text_demo.trigger()
    assert fake.sent[-1].paths == [str(resources_dir() / "demo" / "text")]
    assert w.data.scanning and w.stack.currentIndex() == DATA


def test_window_geometry_and_choices_persist(qtbot, env):
    w, _ = open_window(qtbot)
    w.resize(760, 520)  # inside the offscreen screen, which restoreGeometry clamps to
    w.train_page.epochs.setValue(9)
    folder = make_image_folder(env / "d")
    ready_to_train(qtbot, w, folder)
    assert w.session.start_training()
    qtbot.waitUntil(lambda: not w.run.running, timeout=10000)
    assert w.height() == 520
    w.close()
    w2, _ = open_window(qtbot, size=None)
    # the height comes back (the width is clamped to the 800-pixel offscreen screen and the plots' minimum)
    assert w2.height() == 520 and w2.height() != MainWindow.DEFAULT_SIZE[1]
    assert w2.train_page.epochs.value() == 9
    assert w2.settings.get("recent_folders") == [str(folder)]
    assert w2.settings.get("window_geometry")
