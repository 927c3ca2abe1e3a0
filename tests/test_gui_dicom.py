"""The Data page with a DICOM tree: engine-drawn thumbnails, the window choice redraws them,
grouping rescans, the choices reach the run's config, and no patient data is on screen."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel

from engine import protocol as P
from tests.dicom_files import PHI, make_dicom_tree
from tests.test_gui_fakes import FakeEngine
from tests.test_gui_workflow import env, load_folder, open_window  # noqa: F401 - env is a fixture

pytestmark = pytest.mark.timeout(120)


class DicomEngine(FakeEngine):
    """The fake engine, but the Data step's answers come from the real scan and renderer."""

    def answer(self, msg):
        if isinstance(msg, P.InspectData):
            from engine.data import health_report

            self.report = health_report(list(msg.paths), **dict(msg.grouping))
            self.classes = [c["name"] for c in self.report["classes"]]
            return P.DataReport(report=self.report)
        if isinstance(msg, P.RenderImages):
            from engine.data.previews import render_previews

            return P.Images(items=render_previews(list(msg.paths), msg.size, msg.window), window=msg.window)
        return super().answer(msg)


def _cell_images(page):
    return {path: cells[0].pixmap().toImage() for path, cells in page.thumb_labels.items()
            if not cells[0].pixmap().isNull()}


def test_dicom_tree_on_the_data_page(qtbot, env, monkeypatch):  # noqa: F811
    monkeypatch.setattr("tests.test_gui_workflow.FakeEngine", DicomEngine)
    data = make_dicom_tree(env / "pacs", patients=3)
    w, fake = open_window(qtbot)
    load_folder(qtbot, w, data)
    page, box = w.data_page, w.data_page.options
    assert w.data.dicom["files"] == 18 and box.window_row.isVisible()
    assert box.groups_label.text().startswith("6 groups (18 images by the DICOM PatientID)")
    qtbot.waitUntil(lambda: len(_cell_images(page)) == 12, timeout=10000)  # 6 per class, drawn by the engine
    before = _cell_images(page)

    box.window_combo.activated.emit(box.window_combo.findData("full"))
    qtbot.waitUntil(lambda: w.data.preview_window == "full", timeout=10000)
    asked = [m for m in fake.sent if isinstance(m, P.RenderImages)]
    assert [m.window for m in asked][-1] == "full" and len(asked[-1].paths) == 12
    assert not box.window_note.isVisible()
    box.window_combo.activated.emit(box.window_combo.findData("lung"))
    assert box.window_note.isVisible() and "CT presets apply to CT files only: the others (OT 18)" in \
        box.window_note.text()
    box.window_combo.activated.emit(box.window_combo.findData("full"))
    after = _cell_images(page)
    assert any(after[p] != before[p] for p in before)  # the file's window and the full range differ

    box.group_combo.activated.emit(box.group_combo.findData("none"))
    qtbot.waitUntil(lambda: w.data.groups.get("sources") == {"file": 18}, timeout=10000)
    assert [m.grouping["group_by"] for m in fake.sent if isinstance(m, P.InspectData)] == ["auto", "none"]
    assert "No groups found" in box.groups_label.text()

    config = w.session.current_config()
    assert config["dicom_window"] == "full" and config["group_by"] == "none"

    shown = " ".join([w.windowTitle()] + [lab.text() for lab in w.findChildren(QLabel)] +
                     [lab.toolTip() for lab in w.findChildren(QLabel)])
    for value in list(PHI.values()) + ["PIDQ"]:
        assert value not in shown


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_dicom_tree_trains_from_the_window_with_the_real_engine(qtbot, tmp_path, monkeypatch, no_network):
    import json

    from gui.engine_client import EngineClient
    from gui.settings import Settings
    from gui.window import MODEL, RESULTS, TRAIN, MainWindow
    from tests.test_gui_fakes import drop_paths

    monkeypatch.setenv("TRANSFER_STUDIO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TRANSFER_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("TRANSFER_STUDIO_SHOW_HIDDEN", "1")
    data = make_dicom_tree(tmp_path / "pacs", patients=4)
    client = EngineClient()
    w = MainWindow(client, settings=Settings().load())
    w.confirm_quit = lambda: True
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(client.ready, timeout=60000):
        w.session.start_engine()
    qtbot.waitUntil(lambda: bool(w.backbones.specs), timeout=60000)
    drop_paths(w, [data])
    qtbot.waitUntil(lambda: w.data.report is not None or w.data.error is not None, timeout=60000)
    assert w.data.ready and w.data.groups["count"] == 8, (w.data.error, w.data.report)
    qtbot.waitUntil(lambda: len(w.data.previews) == 12, timeout=60000)  # through the real protocol
    box = w.data_page.options
    box.window_combo.activated.emit(box.window_combo.findData("full"))
    qtbot.waitUntil(lambda: w.data.preview_window == "full", timeout=60000)

    assert w.go(MODEL)
    w.session.choose_backbone("test_tiny_cnn")
    qtbot.waitUntil(lambda: w.backbones.ready, timeout=60000)
    w.model_page.slider.setValue(w.backbones.levels)
    assert w.go(TRAIN)
    w.train_page.epochs.setValue(2)
    w.train_page.batch.setValue(8)
    w.train_page.input_size.setValue(32)
    with qtbot.waitSignal(client.result, timeout=240000):
        assert w.session.start_training()
    assert w.run.stopped == "completed", w.train_page.log.toPlainText()
    assert w.stack.currentIndex() == RESULTS
    run = next(p for p in (tmp_path / "runs").iterdir() if (p / "model.json").is_file())  # not .feature-cache
    assert json.loads((run / "model.json").read_text())["preprocess"]["dicom_window"] == "full"
    splits = json.loads((run / "splits.json").read_text())
    where: dict = {}
    for name in ("train", "val", "test"):
        for _, _, _, group in splits[name]:
            where.setdefault(group, set()).add(name)
    assert len(where) == 8 and all(len(s) == 1 for s in where.values())
    assert "PIDQ" not in w.train_page.log.toPlainText() and "PIDQ" not in w.windowTitle()


def test_near_identical_pairs_are_shown_side_by_side(qtbot, env, monkeypatch):  # noqa: F811
    from PIL import Image

    from gui.pairs_view import PairsView
    from tests.test_data_neardupes import resaved, tree

    monkeypatch.setattr("tests.test_gui_workflow.FakeEngine", DicomEngine)
    root = tree(env / "photos")
    resaved(Image.open(root / "a" / "0.png"), root / "b" / "copy.jpg")
    w, _ = open_window(qtbot)
    load_folder(qtbot, w, root)
    views = w.data_page.findChildren(PairsView)
    assert len(views) == 1 and set(views[0].cells) == {str(root / "a" / "0.png"), str(root / "b" / "copy.jpg")}
    assert "Near-identical images under two labels" in w.data_page.finding_titles()
    qtbot.waitUntil(lambda: all(not c[0].pixmap().isNull() for c in views[0].cells.values()), timeout=5000)


def test_a_refused_grouping_goes_back_to_the_one_that_worked(qtbot, env, monkeypatch):  # noqa: F811
    monkeypatch.setattr("tests.test_gui_workflow.FakeEngine", DicomEngine)
    data = make_dicom_tree(env / "pacs", patients=3)
    w, fake = open_window(qtbot)
    load_folder(qtbot, w, data)
    box = w.data_page.options
    box.group_combo.activated.emit(box.group_combo.findData("pattern"))
    box.pattern_edit.setText("study\\d+")  # no (?P<group>...): refused here, no scan asked
    box.pattern_edit.returnPressed.emit()
    assert "named part" in box.groups_label.text() and w.data.group_by == "auto"
    assert len([m for m in fake.sent if isinstance(m, P.InspectData)]) == 1
    w.data.set_grouping("csv", groups_file=str(env / "missing.csv"))  # the engine cannot read it
    qtbot.waitUntil(lambda: w.data.group_by == "auto" and w.data.report is not None, timeout=10000)
    assert [m.grouping["group_by"] for m in fake.sent if isinstance(m, P.InspectData)] == ["auto", "csv", "auto"]
    assert w.data.groups["count"] == 6
    assert "could not be read" in w.message.label.text() and "grouped as before" in w.message.label.text()


def test_every_page_s_thumbnails_draw_dicom_through_the_engine(qtbot, env, monkeypatch):  # noqa: F811
    from tests.dicom_files import grey, save

    import numpy as np

    monkeypatch.setattr("tests.test_gui_workflow.FakeEngine", DicomEngine)
    w, fake = open_window(qtbot)
    dcm = save(grey(np.arange(64, dtype=np.uint16).reshape(8, 8)), env / "scan" / "IM0001")
    broken = env / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    got = {}
    w.thumbnails.loaded.connect(lambda path, size, pix: got.__setitem__(path, pix))
    w.thumbnails.request(str(dcm), 48)  # as the Results and Try pages ask
    w.thumbnails.request(str(broken), 48)
    qtbot.waitUntil(lambda: len(got) == 2 and w.thumbnails.idle, timeout=10000)
    assert not got[str(dcm)].isNull() and got[str(dcm)].width() == 48
    assert got[str(broken)].isNull()  # neither Qt nor the engine can read it: still "unreadable"
    assert [m.paths for m in fake.sent if isinstance(m, P.RenderImages)] == [[str(dcm)], [str(broken)]]
