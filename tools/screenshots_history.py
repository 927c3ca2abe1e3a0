"""Screenshots of issue 24 with the real engine: the Runs window, a comparison, a stopped run
offering Resume, a folder predicted into a table, and the learning-rate finder.

Two runs are trained first with the CLI (the tiny test CNN at 32 px on the demo images, two
learning rates), then the app trains a third and cancels it after its first epoch, as a
person would; every run folder is the engine's own. Under Xvfb (display :96, 1366x768) when
no DISPLAY is set. Usage: python tools/screenshots_history.py [--out DIR]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEMO = ROOT / "resources" / "demo" / "images"


def ensure_display() -> subprocess.Popen | None:
    if os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        return None
    display = ":96"
    proc = subprocess.Popen([shutil.which("Xvfb") or "Xvfb", display, "-screen", "0", "1366x768x24", "-nolisten",
                             "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ["DISPLAY"] = display
    for _ in range(50):
        if Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
            break
        time.sleep(0.1)
    return proc


def train_cli(runs: Path, name: str, lr: str, epochs: int) -> None:
    subprocess.run([sys.executable, str(ROOT / "transfer_studio.py"), "train", "--data", str(DEMO), "--backbone",
                    "test_tiny_cnn", "--input-size", "32", "--epochs", str(epochs), "--lr", lr, "--no-refit",
                    "--no-compare-probe", "--runs-root", str(runs), "--name", name], check=True,
                   stdout=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(ROOT)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args(argv)
    xvfb = ensure_display()
    work = Path(tempfile.mkdtemp(prefix="ts-shots-history-"))
    os.environ.update(TRANSFER_STUDIO_CONFIG_DIR=str(work / "config"), TRANSFER_STUDIO_RUNS_DIR=str(work / "runs"),
                      TRANSFER_STUDIO_DATA=str(work / "data"), TRANSFER_STUDIO_SHOW_HIDDEN="1")
    try:
        train_cli(work / "runs", "fashion lr 1e-3", "1e-3", 3)
        train_cli(work / "runs", "fashion lr 1e-2", "1e-2", 3)
        return _walk(Path(args.out))
    finally:
        if xvfb:
            xvfb.terminate()


def _walk(out: Path) -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from gui.app import build_window, make_app
    from gui.train_model import TrainSettings
    from gui.window import MODEL, TRAIN, TRY

    make_app()
    w = build_window()
    w.confirm_quit = lambda: True
    w.resize(1366, 768)
    w.show()
    w.session.start_engine()
    out.mkdir(parents=True, exist_ok=True)

    def wait(cond, what: str, timeout_s: float = 600) -> None:
        deadline = time.monotonic() + timeout_s
        while not cond():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            if w.message.isVisible() and w.message.level == "error":
                raise SystemExit(f"the app reported an error while waiting for {what}: {w.message.label.text()}")
            QTest.qWait(50)

    def shot(widget, name: str) -> None:
        QTest.qWait(400)
        path = out / f"{name}.png"
        widget.grab().save(str(path))
        print(f"wrote {path}")

    wait(lambda: bool(w.backbones.specs), "the engine's backbone list", 180)
    w.load_data([str(DEMO)])
    wait(lambda: w.data.report is not None, "the data report")
    w.go(MODEL)
    w.session.choose_backbone("test_tiny_cnn")
    wait(lambda: w.backbones.ready, "the backbone's stages")
    w.go(TRAIN)
    w.train_page.set_settings(TrainSettings(epochs=4, input_size=32, lr=3e-3))
    w.train_page.log_box.set_expanded(True)

    # the learning-rate finder on these settings
    dialog = w.history.find_lr()
    wait(lambda: not w.models.lr.running, "the learning-rate finder", 900)
    shot(dialog, "17-lr-find")
    dialog.close()

    # a run cancelled after its first epoch: the Train page offers Resume
    if not w.session.start_training():
        raise SystemExit(f"could not start: {w.message.label.text()}")
    wait(lambda: w.run.best_epoch is not None or (w.run.epoch >= 2 and w.run.phase == "training"), "an epoch")
    w.session.cancel()
    wait(lambda: not w.run.running, "the cancel")
    w.message.hide()
    runs = w.history.show_runs()
    QTest.qWait(300)
    runs.model.refresh()
    stopped = next(r for r in runs.model.runs if r.status == "stopped")
    runs.model.select([stopped.path])  # its Resume button lit
    runs.refresh()
    shot(runs, "13-runs")
    w.history.open_path(stopped.path)
    w.go(TRAIN)
    shot(w, "15-resume")

    # compare the two CLI runs
    finished = [r.path for r in runs.model.runs if r.status == "finished"][:2]
    runs.model.select(finished)
    w.history.compare(finished)
    cmp = w.history.compare_dialog
    cmp.kind.setCurrentIndex(1)
    shot(cmp, "14-compare")
    cmp.close()
    runs.close()

    # a finished run's results, then a whole folder into a table
    w.history.open_path(finished[0])
    w.go(TRY)
    folder_dialog = w.history.predict_folder(str(DEMO))
    wait(lambda: not w.models.folder.running, "the folder's predictions", 900)
    folder_dialog.table.sortByColumn(2, Qt.SortOrder.AscendingOrder)  # the least sure first
    shot(folder_dialog, "16-predict-folder")
    folder_dialog.close()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
