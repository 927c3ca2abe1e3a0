"""Labeling in the window against the scripted engine: a dropped unlabeled folder opens the Label mode,
the keyboard labels (1-9, arrows, Space, X, Ctrl+Z), a new window finds every saved label, "Train on
my labels" runs on them, the model's guesses appear, and the error gallery relabels and excludes
into the same labels file, with the original files untouched throughout."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from engine import protocol as P
from engine.labels.sidecar import EXCLUDED, LabelStore
from gui.settings import Settings
from gui.window import DATA, RESULTS, MainWindow
from tests.test_gui_fakes import FakeEngine, drop_paths, png_bytes

pytestmark = pytest.mark.timeout(120)
COLORS = [(220, 40, 40), (40, 40, 220)]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_STUDIO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TRANSFER_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path


def unlabeled_folder(root: Path, n: int = 8) -> Path:
    root.mkdir(parents=True)
    for i in range(n):
        (root / f"scan{i}.png").write_bytes(png_bytes(COLORS[i % 2]))
    return root


def digests(root: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.glob("*.png")}


def open_window(qtbot, fake=None):
    fake = fake or FakeEngine(epochs=1, steps=2)
    w = MainWindow(fake, settings=Settings().load())
    w.confirm_quit = lambda: True
    qtbot.addWidget(w)
    w.resize(1280, 760)
    w.show()
    w.activateWindow()
    w.session.start_engine()
    qtbot.waitUntil(lambda: bool(w.backbones.specs), timeout=5000)
    return w, fake


def press(qtbot, w, key, modifier=Qt.KeyboardModifier.NoModifier):
    """A key as a person presses it: to the widget that has the focus (the page, once classes are named)."""
    target = QApplication.focusWidget() or w.labeling.page
    assert target is w.labeling.page or w.labeling.page.isAncestorOf(target), target
    qtbot.keyClick(target, key, modifier)


def name_classes(qtbot, w, text="red, blue"):
    page = w.labeling.page
    assert page.setup.isVisible()
    page.class_names.setText(text)
    page.start_button.click()
    assert w.labeling.model.ready and not page.setup.isVisible()


def test_drop_unlabeled_folder_and_label_by_keyboard(qtbot, env):
    folder = unlabeled_folder(env / "scans")
    before = digests(folder)
    w, fake = open_window(qtbot)
    drop_paths(w, [folder])
    lm, page = w.labeling.model, w.labeling.page
    assert w.stack.currentWidget() is page and lm.root == str(folder)
    assert w.data.report is None  # not scanned as training data
    name_classes(qtbot, w)
    assert [b.text() for b in page.class_buttons] == ["1   red", "2   blue"]
    first = lm.current_path()
    press(qtbot, w, Qt.Key.Key_1)
    assert lm.label_of(first) == "red"
    second = lm.current_path()
    press(qtbot, w, Qt.Key.Key_2)
    assert lm.label_of(second) == "blue"
    third = lm.current_path()
    press(qtbot, w, Qt.Key.Key_Space)  # skip
    assert lm.label_of(third) is None and lm.current_path() != third
    press(qtbot, w, Qt.Key.Key_Left)
    assert lm.current_path() == third
    page.ask_reason = lambda: "motion blur"
    press(qtbot, w, Qt.Key.Key_X)
    assert lm.label_of(third) == EXCLUDED and lm.reason_of(third) == "motion blur"
    assert "excluded: 1" in page.counts.text() and "red: 1" in page.counts.text()
    assert page.progress.value() == 3 and page.progress.maximum() == 8
    press(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the exclusion
    assert lm.label_of(third) is None and lm.current_path() == third
    press(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # and the blue label
    assert lm.label_of(second) is None and lm.current_path() == second
    page.classes_button.click()  # Classes…: a third class, keys follow the new order
    assert page.setup.isVisible() and page.class_names.text() == "red, blue"
    page.class_names.setText("red, blue, unclear")
    page.start_button.click()
    assert not page.setup.isVisible() and [b.text() for b in page.class_buttons][-1] == "3   unclear"
    press(qtbot, w, Qt.Key.Key_2)
    assert "No suggestions yet" in page.suggestion.text()
    qtbot.waitUntil(lambda: not page.image.pixmap().isNull(), timeout=5000)  # the big image is shown
    assert len({path for path, _ in w.labeling.images.cache}) <= 5  # only the files around it stay decoded
    assert digests(folder) == before and sorted(p.name for p in folder.glob("*.png")) == sorted(before)

    # the app goes away without closing (a crash): a new window on the folder has every saved label
    w.hide()
    w2, _ = open_window(qtbot)
    w2.labeling.open(str(folder))
    lm2 = w2.labeling.model
    assert lm2.classes == ["red", "blue", "unclear"] and not w2.labeling.page.setup.isVisible()
    assert lm2.label_of(first) == "red" and lm2.label_of(second) == "blue" and lm2.progress() == (2, 8)
    assert first not in lm2.queue and second not in lm2.queue


def test_train_on_my_labels_then_guesses_and_relabel_from_the_errors(qtbot, env):
    folder = unlabeled_folder(env / "scans")
    before = digests(folder)
    w, fake = open_window(qtbot)
    w.labeling.open(str(folder))  # File → Label a folder… does this after its dialog
    lm, page = w.labeling.model, w.labeling.page
    name_classes(qtbot, w)
    assert not page.train_button.isEnabled()
    for _ in range(6):  # label by the colour: red first in the file names' even places
        path = lm.current_path()
        press(qtbot, w, Qt.Key.Key_1 if int(Path(path).stem[-1]) % 2 == 0 else Qt.Key.Key_2)
    assert page.train_button.isEnabled()
    labeled = {p: lm.label_of(p) for p in lm.files if lm.label_of(p)}
    red, blue = (sorted(p for p, c in labeled.items() if c == name) for name in ("red", "blue"))
    fake.error_files = {"red": red[0], "blue": blue[0]}  # the run calls one file of each class wrong

    ranked = []
    w.labeling.queue.on_progress = lambda done, total: ranked.append((done, total))
    page.train_button.click()
    qtbot.waitUntil(lambda: w.stack.currentIndex() == RESULTS, timeout=10000)
    assert fake.runs[0]["config"]["data"] == [str(folder)]
    assert sorted(c.name for c in w.data.classes) == ["blue", "red"]
    assert sum(c.count for c in w.data.classes) == 6
    assert w.data_page.label_button.text() == "&Label the 2 unlabeled…"  # the Data page leads back to them

    # back in the Label mode the model's guesses are there, the queue can be most useful first
    w.go(DATA)
    w.data_page.label_button.click()
    assert w.stack.currentWidget() is page and lm.root == str(folder)
    qtbot.waitUntil(lambda: lm.suggestion() is not None, timeout=5000)
    assert "The model says" in page.suggestion.text() and "sure" in page.suggestion.text()
    assert ranked and ranked[-1] == (2, 2)  # the engine's progress while it ranked the two unlabeled files
    page.order.setCurrentIndex(page.order.findData("useful"))
    asked = [m for m in fake.sent if isinstance(m, P.LabelQueue)][-1]
    assert asked.root == str(folder) and asked.model == w.results.run_dir and asked.strategy == "useful"
    assert lm.order == "useful" and lm.queue == lm.useful_order and len(lm.queue) == 2  # the engine's order

    # the error gallery: Relabel as… one, Exclude the other; both in the same labels file
    w.go(RESULTS)
    rp = w.results_page
    assert rp.gallery_paths() == [blue[0], red[0]]  # the engine's classes are sorted
    menu = rp.relabel_menu(rp.gallery.item(1))
    relabel = next(a for a in menu.actions() if a.text() == "Relabel as").menu()
    assert [a.text() for a in relabel.actions()] == ["blue", "red"] and not relabel.actions()[1].isEnabled()
    relabel.actions()[0].trigger()
    assert "✓ now blue" in rp.gallery.item(1).text()
    rp.ask_reason = lambda: "not a scan"
    rp.matrix.cellClicked.emit(0, 1)  # a confusion cell's files: true blue, predicted red
    assert rp.gallery_paths() == [blue[0]] and not rp.exclude_button.isEnabled()
    rp.gallery.setCurrentRow(0)
    rp.exclude_button.click()
    store = LabelStore(folder)
    assert store.label_of(red[0]) == "blue" and store.get(red[0]).reason == "relabeled from the results"
    assert store.label_of(blue[0]) == EXCLUDED and store.get(blue[0]).reason == "not a scan"
    assert "✓ excluded" in rp.gallery.item(0).text()
    assert w.message.isVisible() and "next run" in w.message.label.text()
    assert w.message.action.isVisible() and w.message.action.text() == "Undo"
    w.message.action.click()  # Undo: the exclusion is taken back, the gallery reads as the run showed it
    assert LabelStore(folder).label_of(blue[0]) == "blue" and "✓" not in rp.gallery.item(0).text()
    assert "undone" in w.message.label.text()
    rp.exclude_button.click()  # and done again
    assert LabelStore(folder).label_of(blue[0]) == EXCLUDED and "✓ excluded" in rp.gallery.item(0).text()

    # retrain: the next run reads the changed labels; the Data page says how many were changed
    w.labeling.open(str(folder))
    page.train_button.click()
    qtbot.waitUntil(lambda: len(fake.runs) == 2 and w.run.stopped == "completed", timeout=10000)
    assert sum(c.count for c in w.data.classes) == 5  # one excluded
    assert "excluded" in w.data_page.labels_line.text() and "unchanged" in w.data_page.labels_line.text()
    assert digests(folder) == before


def test_menu_and_data_page_open_the_label_mode(qtbot, env, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    folder = unlabeled_folder(env / "scans", n=3)
    w, _ = open_window(qtbot)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    w.data_page.label_button.click()
    assert w.stack.currentWidget() is w.labeling.page
    w.labeling.page.done_button.click()  # Close: back to step 1
    assert w.stack.currentIndex() == DATA
    file_menu = w.menuBar().actions()[0].menu()
    action = next(a for a in file_menu.actions() if a.text().replace("&", "") == "Label a folder…")
    action.trigger()
    assert w.stack.currentWidget() is w.labeling.page
    step_one = w.steps.visualItemRect(w.steps.item(DATA)).center()
    qtbot.mouseClick(w.steps.viewport(), Qt.MouseButton.LeftButton, pos=step_one)
    assert w.stack.currentIndex() == DATA  # a click on step 1 leaves the mode


def test_text_files_are_shown_as_text(qtbot, env):
    folder = env / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("Patient reports mild chest pain after exercise.")
    (folder / "b.txt").write_text("No complaints today.")
    w, _ = open_window(qtbot)
    drop_paths(w, [folder])
    page = w.labeling.page
    assert w.stack.currentWidget() is page
    name_classes(qtbot, w, "urgent, routine, <5 min")
    assert "&lt;5 min: 0" in page.counts.text()  # a class name is text, not markup
    assert page.views.currentWidget() is page.text
    shown = page.text.toPlainText()
    assert shown == Path(w.labeling.model.current_path()).read_text()
    press(qtbot, w, Qt.Key.Key_2)
    assert page.text.toPlainText() != shown and w.labeling.model.counts()["routine"] == 1


def test_a_table_row_cannot_be_relabeled_from_the_gallery(qtbot, env):
    from gui.results_page import relabelable

    assert relabelable("/data/scan#1.png") and not relabelable("/data/notes.csv#row=12") and not relabelable("")
    w, _ = open_window(qtbot)
    w.labeling.relabel("/data/notes.csv#row=12", "urgent")
    assert w.message.isVisible() and "in the table" in w.message.label.text()
    w.labeling.exclude("/elsewhere/x.png", "blurred")
    assert "not inside the data folder" in w.message.label.text()


def test_a_class_renamed_in_the_classes_box_asks_then_relabels(qtbot, env):
    """A typo in a class name, found after labeling: edited in place in the Classes box, the window asks
    (naming the files it will relabel), and on yes every such file carries the new name; on no nothing
    changes."""
    folder = unlabeled_folder(env / "scans")
    before = digests(folder)
    w, _ = open_window(qtbot)
    w.labeling.open(str(folder))
    lm, page = w.labeling.model, w.labeling.page
    name_classes(qtbot, w, "red, bleu")
    press(qtbot, w, Qt.Key.Key_2)
    press(qtbot, w, Qt.Key.Key_2)
    asked = []
    page.confirm_renames = lambda renames: asked.append(renames) or False
    page.classes_button.click()
    page.class_names.setText("red, blue")
    page.start_button.click()
    assert asked == [[("bleu", "blue", 2)]] and lm.classes == ["red", "bleu"] and lm.counts()["bleu"] == 2
    page.confirm_renames = lambda renames: asked.append(renames) or True
    page.start_button.click()
    assert lm.classes == ["red", "blue"] and lm.counts()["blue"] == 2 and "bleu" not in lm.counts()
    assert not page.setup.isVisible() and [b.text() for b in page.class_buttons] == ["1   red", "2   blue"]
    assert "blue: 2" in page.counts.text()
    assert sorted(r.label for r in LabelStore(folder).rows.values()) == ["blue", "blue"]
    assert digests(folder) == before
