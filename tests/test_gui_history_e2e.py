"""Issue 24 through the window with the real engine process: a run folder of an earlier session opened
(its results, Try it), a whole folder predicted into the table and saved as CSV, a bundle dropped on the
window (its hashes checked by the engine) and a tampered one refused."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from gui.settings import Settings
from gui.window import RESULTS, MainWindow
from tests.test_bundle_support import image_bundle, image_run  # noqa: F401 - fixtures
from tests.test_gui_fakes import drop_paths

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def test_reopen_a_run_predict_a_folder_and_open_a_bundle_with_the_real_engine(
        qtbot, tmp_path, monkeypatch, no_network, image_run, image_bundle):  # noqa: F811
    monkeypatch.setenv("TRANSFER_STUDIO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TRANSFER_STUDIO_RUNS_DIR", str(Path(image_run).parent))
    from gui.engine_client import EngineClient

    client = EngineClient()
    w = MainWindow(client, settings=Settings().load())
    w.confirm_quit = lambda: True
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(client.ready, timeout=60000):
        w.session.start_engine()

    runs = w.history.show_runs()
    assert [r.name for r in runs.model.runs] == ["img"] and runs.model.runs[0].status == "finished"
    assert w.history.open_path(str(image_run))
    assert w.results.ready and w.stack.currentIndex() == RESULTS and w.results.headline()

    folder = Path(image_run).parent.parent / "images"
    (tmp_path / "extra").mkdir()
    shutil.copytree(folder, tmp_path / "extra" / "images")
    (tmp_path / "extra" / "broken.png").write_bytes(b"not a png")
    dialog = w.history.predict_folder(str(tmp_path / "extra"))
    job = w.models.folder
    qtbot.waitUntil(lambda: not job.running, timeout=120000)
    n = sum(1 for p in (tmp_path / "extra").rglob("*") if p.is_file())
    assert not job.error and job.total == n == len(job.rows) and job.unreadable == 1
    assert set(job.classes()) <= set(w.results.classes())
    out = tmp_path / "table.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    dialog.save_button.click()
    rows = list(csv.reader(out.open()))
    assert len(rows) == n + 1 and [r[-1] for r in rows if r[0].endswith("broken.png")][0]

    drop_paths(w, [image_bundle])
    qtbot.waitUntil(lambda: w.results.source == "bundle", timeout=60000)
    assert w.results.run_dir == str(image_bundle) and w.results.classes()
    tampered = tmp_path / "tampered.tsbundle"
    shutil.copytree(image_bundle, tampered)
    (tampered / "labels.json").write_text('{"classes": ["x", "y", "z"]}')
    drop_paths(w, [tampered])
    qtbot.waitUntil(lambda: w.message.isVisible() and w.message.level == "error", timeout=60000)
    assert w.results.run_dir == str(image_bundle)  # the tampered one was not opened
