"""Screenshots of issue 25 with the real engine: the Label mode with the model's suggestion and
the accuracy-by-labels chart, and Relabel as… in the Results page's error gallery.

A flat folder of 120 demo images (Sneaker, Ankle boot, Bag; file names say nothing of the
class) is labeled as a person would, with a few honest mistakes; the app trains on 45 labels,
45 more are labeled most useful first, it trains again, and the shots follow. Every label
goes through the app's own Label mode and every run is the engine's. Under Xvfb (display :95,
1366x768) when no DISPLAY is set. Usage: python tools/screenshots_labeling.py [--out DIR]
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shots import DEMO_IMAGES as DEMO, ROOT, Window, ensure_display, scratch  # noqa: E402
CLASSES = {"Sneaker": "Sneaker", "Ankle_boot": "Ankle boot", "Bag": "Bag"}
MISTAKES = 8  # labels given wrong on purpose: what the error gallery is for


def unlabeled_folder(root: Path) -> dict[str, str]:
    """Copy 40 images of each class into one flat folder under shuffled names; returns path -> true class."""
    files = [(p, name) for folder, name in CLASSES.items() for p in sorted((DEMO / folder).glob("*.png"))[:40]]
    random.Random(7).shuffle(files)
    root.mkdir(parents=True)
    truth = {}
    for i, (src, name) in enumerate(files):
        dst = root / f"img{i:03d}.png"
        shutil.copy(src, dst)
        truth[str(dst)] = name
    return truth


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--backbone", default="efficientnet_lite0")
    args = ap.parse_args(argv)
    xvfb = ensure_display(":95")
    work = scratch("ts-shots-labeling-")
    try:
        return _walk(args, work)
    finally:
        if xvfb:
            xvfb.terminate()


def _walk(args, work: Path) -> int:
    from PySide6.QtGui import QPainter
    from PySide6.QtTest import QTest

    from gui.window import MODEL, RESULTS

    win = Window(args.out, timeout_s=900)
    app, w, wait, save = win.app, win.w, win.wait, win.save

    truth = unlabeled_folder(work / "clothes")
    folder = str(work / "clothes")
    wait(lambda: bool(w.backbones.specs), "the engine's backbone list", 180)
    w.go(MODEL)
    w.session.choose_backbone(args.backbone)
    wait(lambda: w.backbones.ready, "the backbone's stages")
    w.model_page.slider.setValue(w.backbones.levels)  # linear probe: quick on a CPU
    w.train_page.epochs.setValue(6)

    lm, page = w.labeling.model, w.labeling.page
    names = list(CLASSES.values())
    wrong = iter(range(MISTAKES))

    def label(n: int) -> None:
        for i in range(n):
            right = truth[lm.current_path()]
            given = right
            if i % 9 == 4 and next(wrong, None) is not None:  # a slip of the finger, now and then
                given = names[(names.index(right) + 1) % len(names)]
            lm.label_key(names.index(given) + 1)
            QTest.qWait(5)

    def train() -> None:
        page.train_button.click()
        wait(lambda: w.run.running, "the run to start", 300)
        wait(lambda: not w.run.running, "the run to finish", 1800)
        if w.run.stopped != "completed":
            raise SystemExit(f"the run ended {w.run.stopped}: {w.message.label.text()}")

    w.labeling.open(folder)
    page.class_names.setText(", ".join(names))
    page.start_button.click()
    label(45)
    train()
    w.labeling.open(folder)
    page.order.setCurrentIndex(page.order.findData("useful"))
    wait(lambda: lm.suggestion() is not None, "the model's guesses", 300)
    label(45)
    train()
    w.labeling.open(folder)
    page.order.setCurrentIndex(page.order.findData("useful"))
    wait(lambda: lm.suggestion() is not None, "the model's guesses", 300)
    wait(lambda: w.labeling.images.idle, "the image")
    QTest.qWait(400)
    save(w.grab(), "25-label")

    # the error gallery: right-click → Relabel as, on a file given a wrong label if one is there
    w.go(RESULTS)
    rp = w.results_page
    wait(lambda: w.thumbnails.idle, "thumbnails")

    def slips_shown() -> list[int]:
        return [i for i, p in enumerate(rp.gallery_paths()) if lm.store.label_of(p) != truth.get(p)]

    if not slips_shown() and rp.split.count() > 1:  # a slip may sit in the validation set instead
        rp.split.setCurrentIndex(1)
        wait(lambda: w.thumbnails.idle, "thumbnails")
        if not slips_shown():
            rp.split.setCurrentIndex(0)
    paths = rp.gallery_paths()
    if not paths:
        raise SystemExit("the run made no confident errors to show")
    slips = slips_shown()
    row = slips[0] if slips else 0
    item = rp.gallery.item(row)
    rp.gallery.setCurrentItem(item)
    menu = rp.relabel_menu(item)
    menu.popup(rp.gallery.viewport().mapToGlobal(rp.gallery.visualItemRect(item).topRight()))  # caption visible
    QTest.qWait(300)
    sub_action = menu.actions()[0]
    menu.setActiveAction(sub_action)
    QTest.qWait(800)
    pix = w.grab()
    painter = QPainter(pix)
    for m in (menu, sub_action.menu()):
        if m.isVisible():
            painter.drawPixmap(w.mapFromGlobal(m.pos()), m.grab())
    painter.end()
    save(pix, "26-results-relabel")
    menu.close()
    if slips:  # the fix: the gallery marks it, the message bar says where it went
        rp.relabelRequested.emit(paths[row], truth[paths[row]])
        QTest.qWait(300)
        save(w.grab(), "27-results-relabeled")
    w.close()
    app.processEvents()
    print(f"mistakes in the gallery: {len(slips)} of {len(paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
