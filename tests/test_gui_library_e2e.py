"""Issue 6's done-criterion through the window, with the real engine process: a person
brings in a torchvision resnet18 .pth, imports it from the "weights missing" row of the
Model step, sees ResNet-18 become ready, trains on it and gets a result; the library
lists what is installed with sizes and licences.

The .pth is a random-init ResNet-18 saved here with torch.save (this test may import
torch; the app may not). Library, data dir and caches all point into tmp_path.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gui.settings import Settings
from gui.window import MODEL, RESULTS, TRAIN, MainWindow

from tests.test_gui_fakes import drop_paths, png_bytes

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.timeout(600), pytest.mark.slow,
              pytest.mark.skipif(not (ROOT / "engine" / "server.py").is_file(), reason="engine server not built")]


def _folder(root: Path) -> Path:
    """Two colour classes of 32 px images, every file different (no duplicates dropped)."""
    for name, base in {"red": (200, 20, 20), "blue": (20, 20, 200)}.items():
        (root / name).mkdir(parents=True)
        for i in range(10):
            rgb = tuple(min(255, c + 4 * i) for c in base)
            (root / name / f"{name}{i}.png").write_bytes(png_bytes(rgb, size=32))
    return root


def test_carried_in_resnet18_is_imported_from_the_model_step_and_trained_on(qtbot, tmp_path, monkeypatch,
                                                                           no_network):
    import torch
    import torchvision

    for var, sub in (("TRANSFER_STUDIO_CONFIG_DIR", "config"), ("TRANSFER_STUDIO_RUNS_DIR", "runs"),
                     ("TRANSFER_STUDIO_DATA", "data"), ("TRANSFER_STUDIO_LIBRARY", "data/library"),
                     ("TORCH_HOME", "torch"), ("HF_HOME", "hf")):
        monkeypatch.setenv(var, str(tmp_path / sub))  # the engine process inherits these
    usb = tmp_path / "usb"
    usb.mkdir()
    pth = usb / "resnet18-f37072fd.pth"
    torch.save(torchvision.models.resnet18(weights=None, num_classes=1000).state_dict(), pth)
    from gui.engine_client import EngineClient
    from gui.library_page import LibraryPage

    monkeypatch.setattr(LibraryPage, "choose_file", lambda self: str(pth))  # the person picks the file
    folder = _folder(tmp_path / "colors")
    client = EngineClient()
    w = MainWindow(client, settings=Settings().load())
    w.confirm_quit = lambda: True
    qtbot.addWidget(w)
    w.resize(1366, 768)
    w.show()
    try:
        with qtbot.waitSignal(client.ready, timeout=60000):
            w.session.start_engine()
        qtbot.waitUntil(lambda: bool(w.backbones.specs), timeout=60000)
        drop_paths(w, [folder])
        qtbot.waitUntil(lambda: w.data.report is not None or w.data.error is not None, timeout=60000)
        assert w.data.ready, (w.data.error, w.data.report)
        assert w.go(MODEL)

        # ResNet-18 is listed but its weights are missing; its row says how to fix that
        resnet = w.backbones.choice("resnet18")
        assert resnet is not None and not resnet.enabled and "resnet18-f37072fd.pth" in resnet.reason
        link = w.model_page.import_links["resnet18"]
        link.linkActivated.emit("resnet18")  # a click on the row's "Import…"
        page = w.library.page
        assert w.library.isVisible()
        qtbot.waitUntil(lambda: w.backbones.choice("resnet18").enabled or page.status_level == "error",
                        timeout=400000)
        assert "Imported resnet18" in page.status.text(), page.status.text()

        # ready at once, selected (the row asked for it), its stages read
        qtbot.waitUntil(lambda: w.backbones.selected == "resnet18" and w.backbones.ready, timeout=60000)
        assert "resnet18" not in w.model_page.import_links
        assert w.model_page.select("resnet18")

        # the library lists what is installed, with sizes and licences
        qtbot.waitUntil(lambda: page.table.rowCount() >= 2 and not page.listing(), timeout=120000)
        rows = {page.table.item(r, 0).text().split(" ")[0]: [page.table.item(r, c).text()
                                                            for c in range(page.table.columnCount())]
                for r in range(page.table.rowCount())}
        assert rows["resnet18"][2] == "45 MiB" and rows["resnet18"][3] == "BSD-3-Clause"
        assert rows["efficientnet_lite0"][2].endswith("MiB") and rows["efficientnet_lite0"][3] == "Apache-2.0"
        w.library.close()

        # train one quick epoch on it (head only, 32 px) and see a result
        w.model_page.slider.setValue(w.backbones.levels)
        assert w.go(TRAIN)
        w.train_page.epochs.setValue(1)
        w.train_page.batch.setValue(8)
        w.train_page.input_size.setValue(32)
        with qtbot.waitSignal(client.result, timeout=400000):
            assert w.session.start_training()
        assert w.run.stopped == "completed", w.train_page.log.toPlainText()
        assert w.train_page.bar.value() == w.train_page.bar.maximum() == 1000
        assert w.stack.currentIndex() == RESULTS and w.results_page.matrix.rowCount() == 2
        assert w.results.headline()
        meta = json.loads((Path(w.results.run_dir) / "model.json").read_text())
        assert meta["backbone"] == "resnet18" and "library" in meta["weights_origin"]
    finally:
        w.session.shutdown(timeout_ms=30000)
    assert (tmp_path / "data" / "library" / "resnet18" / "model.safetensors").is_file()
