"""Labeling end to end with the real engine process: an unlabeled folder of tiny images labeled
by keyboard from nothing, "Train on my labels" (hidden test backbone, linear probe, two epochs),
the model's guesses on what is left, two labels fixed from the results' gallery, and a retrain
that reads them; the original files are untouched throughout."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from engine.labels.sidecar import LabelStore
from gui.label_chart import learning_curve
from gui.settings import Settings
from gui.window import RESULTS, MainWindow

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.timeout(600), pytest.mark.slow,
              pytest.mark.skipif(not (ROOT / "engine" / "server.py").is_file(), reason="engine server not built")]
SHADES = {"red": [(230, 20, 20), (200, 40, 30), (250, 60, 50)], "blue": [(20, 20, 230), (40, 30, 200), (50, 60, 250)]}


def noisy_png(rgb, seed: int, size: int = 32) -> bytes:
    """A PNG of `rgb` with seeded noise: every file differs (the scan drops exact duplicates, and
    near-identical ones would share a group)."""
    import random
    import struct
    import zlib

    rnd = random.Random(seed)
    raw = b"".join(b"\x00" + bytes(max(0, min(255, c + rnd.randint(-60, 60))) for _ in range(size) for c in rgb)
                   for _ in range(size))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def flat_folder(root: Path, per_class: int = 20) -> Path:
    root.mkdir(parents=True)
    for k, (name, shades) in enumerate(SHADES.items()):
        for i in range(per_class):
            (root / f"{name[0]}{i:02d}.png").write_bytes(noisy_png(shades[i % 3], seed=100 * k + i))
    return root


def digests(root: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.glob("*.png")}


def gallery_files(qtbot, w, n: int) -> list[str]:
    """`n` files from the error gallery, else from the fullest confusion-matrix cell."""
    rp = w.results_page
    if len(rp.gallery_paths()) >= n:
        return rp.gallery_paths()[:n]
    cm = w.results.confusion()
    row, col = max(((i, j) for i in range(len(cm)) for j in range(len(cm))), key=lambda ij: cm[ij[0]][ij[1]])
    rp.show_cell(row, col)
    qtbot.waitUntil(lambda: len(rp.gallery_paths()) >= n, timeout=60000)
    return rp.gallery_paths()[:n]


def test_label_from_nothing_train_fix_two_and_retrain(qtbot, tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("TRANSFER_STUDIO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TRANSFER_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("TRANSFER_STUDIO_SHOW_HIDDEN", "1")
    from gui.engine_client import EngineClient

    folder = flat_folder(tmp_path / "swatches")
    before = digests(folder)
    client = EngineClient()
    w = MainWindow(client, settings=Settings().load())
    w.confirm_quit = lambda: True
    qtbot.addWidget(w)
    w.show()
    w.activateWindow()
    with qtbot.waitSignal(client.ready, timeout=60000):
        w.session.start_engine()
    qtbot.waitUntil(lambda: bool(w.backbones.specs), timeout=60000)
    w.session.choose_backbone("test_tiny_cnn")
    qtbot.waitUntil(lambda: w.backbones.ready, timeout=60000)
    w.model_page.slider.setValue(w.backbones.levels)  # linear probe: fastest
    w.train_page.epochs.setValue(2)
    w.train_page.batch.setValue(8)
    w.train_page.input_size.setValue(32)

    # label from nothing, by keyboard; four files are left for the model to guess
    w.labeling.open(str(folder))
    lm, page = w.labeling.model, w.labeling.page
    assert w.stack.currentWidget() is page and lm.progress() == (0, 40)
    page.class_names.setText("red, blue")
    page.start_button.click()
    for _ in range(36):
        key = Qt.Key.Key_1 if Path(lm.current_path()).name.startswith("r") else Qt.Key.Key_2
        qtbot.keyClick(page, key)
    assert lm.progress() == (36, 40)

    with qtbot.waitSignal(client.result, timeout=300000):
        page.train_button.click()
    assert w.run.stopped == "completed", w.train_page.log.toPlainText()
    assert w.stack.currentIndex() == RESULTS
    assert w.data.report["labels"]["from_sidecar"] == 36 and w.data.report["labels"]["unlabeled"] == 4

    w.labeling.open(str(folder))
    qtbot.waitUntil(lambda: lm.suggestion() is not None, timeout=60000)
    assert lm.suggestion().label in ("red", "blue") and "The model says" in page.suggestion.text()
    assert len(page.chart.points) == 1 and page.chart.points[0][0] == 36

    # fix two labels from the results' gallery
    w.go(RESULTS)
    two = gallery_files(qtbot, w, 2)
    store = LabelStore(folder)
    wanted = {p: ("blue" if store.label_of(p) == "red" else "red") for p in two}
    for i, p in enumerate(two):  # right-click → Relabel as → the other class
        menu = w.results_page.relabel_menu(w.results_page.gallery.item(i))
        relabel = next(a for a in menu.actions() if a.text() == "Relabel as").menu()
        next(a for a in relabel.actions() if a.text() == wanted[p]).trigger()
    store = LabelStore(folder)
    assert {p: store.label_of(p) for p in two} == wanted

    # retrain: the engine reads the two fixed labels; the chart gets its second point
    w.labeling.open(str(folder))
    with qtbot.waitSignal(client.result, timeout=300000):
        page.train_button.click()
    assert w.run.stopped == "completed", w.train_page.log.toPlainText()
    labels = w.data.report["labels"]
    assert labels["from_sidecar"] == 36 and labels["unlabeled"] == 4
    splits = (Path(w.results.run_dir) / "splits.json").read_text()
    assert all(Path(p).name in splits for p in two)
    assert len(learning_curve(w.runs_root, str(folder))) == 2
    assert digests(folder) == before and len(list(folder.glob("*.png"))) == 40
