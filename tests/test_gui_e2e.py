"""One end-to-end walk through the window with the real engine process (`python -m engine`):
a tiny generated image folder, the hidden test backbone test_tiny_cnn, two epochs."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from gui.settings import Settings
from gui.window import MODEL, RESULTS, TRAIN, TRY, MainWindow

from tests.test_gui_fakes import drop_paths, png_bytes

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.timeout(300), pytest.mark.slow,
              pytest.mark.skipif(not (ROOT / "engine" / "server.py").is_file(), reason="engine server not built")]


def _folder(root: Path) -> Path:
    colors = {"red": [(230, 20, 20), (200, 40, 30), (250, 60, 50)], "blue": [(20, 20, 230), (40, 30, 200), (50, 60, 250)]}
    for name, shades in colors.items():
        (root / name).mkdir(parents=True)
        for i in range(12):
            (root / name / f"{name}{i}.png").write_bytes(png_bytes(shades[i % 3], size=32))
    return root


def test_real_engine_workflow(qtbot, tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("TRANSFER_STUDIO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TRANSFER_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("TRANSFER_STUDIO_SHOW_HIDDEN", "1")  # the engine lists, the window shows the test backbone
    from gui.engine_client import EngineClient

    folder = _folder(tmp_path / "colors")
    client = EngineClient()
    w = MainWindow(client, settings=Settings().load())
    w.confirm_quit = lambda: True
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(client.ready, timeout=60000):
        w.session.start_engine()
    qtbot.waitUntil(lambda: bool(w.backbones.specs), timeout=60000)
    assert w.backbones.spec("test_tiny_cnn")["hidden"]

    drop_paths(w, [folder])
    qtbot.waitUntil(lambda: w.data.report is not None or w.data.error is not None, timeout=60000)
    assert w.data.ready, (w.data.error, w.data.report)
    assert [c.name for c in w.data.classes] == ["blue", "red"]

    assert w.go(MODEL)
    w.session.choose_backbone("test_tiny_cnn")
    qtbot.waitUntil(lambda: w.backbones.ready, timeout=60000)
    assert w.backbones.levels >= 1
    w.model_page.slider.setValue(w.backbones.levels)  # linear probe: fastest

    assert w.go(TRAIN)
    w.train_page.epochs.setValue(2)
    w.train_page.batch.setValue(8)
    w.train_page.input_size.setValue(32)
    with qtbot.waitSignal(client.result, timeout=240000):
        assert w.session.start_training()
    assert w.run.stopped == "completed", w.train_page.log.toPlainText()
    assert w.train_page.plots is not None and sum(s for s, _ in w.train_page.plots.point_counts().values()) > 0
    assert w.stack.currentIndex() == RESULTS
    assert w.results_page.matrix.rowCount() == 2
    assert w.results.headline()

    drop_paths(w, [folder / "red" / "red0.png"])
    qtbot.waitUntil(lambda: bool(w.results.predictions), timeout=60000)
    assert w.stack.currentIndex() == TRY
    path, top, error = w.results.prediction_rows()[0]
    assert not error and {label for label, _ in top} <= {"red", "blue"} and top

    target = tmp_path / "out"
    target.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(target))
    w.save_dialog()
    qtbot.waitUntil(lambda: w.results.saved_path is not None or w.message.isVisible(), timeout=120000)
    assert w.results.saved_path, w.message.label.text()
    assert Path(w.results.saved_path).parent == target and w.results.model_card
