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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shots import DEMO_IMAGES as DEMO, ROOT, Window, ensure_display, scratch  # noqa: E402
from shots import train_cli as _train  # noqa: E402


def train_cli(runs: Path, name: str, lr: str, epochs: int) -> None:
    _train("--data", str(DEMO), "--backbone", "test_tiny_cnn", "--input-size", "32", "--epochs", str(epochs),
           "--lr", lr, "--no-refit", "--no-compare-probe", "--runs-root", str(runs), "--name", name)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args(argv)
    xvfb = ensure_display(":96")
    os.environ["TRANSFER_STUDIO_SHOW_HIDDEN"] = "1"
    work = scratch("ts-shots-history-")
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

    from gui.train_model import TrainSettings
    from gui.window import MODEL, TRAIN, TRY

    win = Window(out)
    w, wait = win.w, win.wait

    def shot(widget, name: str) -> None:
        win.shot(name, widget, settle_ms=400)

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
