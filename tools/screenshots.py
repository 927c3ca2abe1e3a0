"""`make screenshots`: walk the whole workflow on the demo data with the real engine and
save a PNG of every step into docs/screenshots/.

Runs under Xvfb (started here at 1366×768 when no DISPLAY is set), so it shows exactly
what a person sees on a small laptop screen. Each shot is QWidget.grab() of the window.
The model library is shown importing a ResNet-18 .pth made here from a random init
(a subprocess builds it, so this process stays torch-free like the app); the data folder,
library, settings and runs all live in a temporary folder.
With --dicom, only the Data page on a DICOM tree (made here from pydicom's own CT test
files: several patients per class, files without extension): the file's window, then the
CT lung preset, with the groups found.
Usage: python tools/screenshots.py [--out DIR] [--backbone ID] [--epochs N] [--text | --dicom]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shots import ROOT, Window, ensure_display, scratch  # noqa: E402


def dicom_tree(root: Path) -> Path:
    """Two classes of CT slices from pydicom's test files, 3 patients each, 2-3 slices a patient
    (flipped and shifted copies), no file extension; no real patient data (new IDs)."""
    import numpy as np
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    files = Path(pydicom.data.__file__).parent / "test_files"
    sources = [pydicom.dcmread(files / n) for n in ("693_J2KI.dcm", "J2K_pixelrep_mismatch.dcm", "CT_small.dcm")]
    for c, cls in enumerate(("follow_up", "routine")):
        for p in range(3):
            src = sources[(c + p) % len(sources)]
            for i in range(2 + (p % 2)):
                ds = src.copy()
                arr = src.pixel_array
                arr = np.roll(arr[:, ::-1] if (i + c) % 2 else arr, 7 * i + 3 * p, axis=0)
                ds.file_meta = src.file_meta.copy()
                ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
                ds.set_pixel_data(np.ascontiguousarray(arr), src.PhotometricInterpretation, int(src.BitsStored))
                ds.PatientID, ds.PatientName = f"DEMO-{c}{p}", f"Demo^Patient{c}{p}"
                ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
                out = root / cls / f"study{c}{p}" / f"IM{i:04d}"
                out.parent.mkdir(parents=True, exist_ok=True)
                ds.save_as(out, enforce_file_format=True)
    return root


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--text", action="store_true", help="use the text demo (MiniLM) instead of images")
    ap.add_argument("--dicom", action="store_true", help="only the Data page on a DICOM tree (13-, 14-*.png)")
    args = ap.parse_args(argv)
    xvfb = ensure_display(":99")
    work = scratch("ts-shots-", library=True)
    try:
        return _walk(args, work)
    finally:
        if xvfb:
            xvfb.terminate()


def _walk(args, work: Path) -> int:
    from PySide6.QtTest import QTest

    from gui.window import DATA, MODEL, RESULTS, SAVE, TRAIN, TRY

    win = Window(args.out)
    app, w, wait, shot, out = win.app, win.w, win.wait, win.shot, win.out

    if args.dicom:
        wait(lambda: bool(w.backbones.specs), "the engine's backbone list", 180)
        w.load_data([str(dicom_tree(work / "pacs"))])
        wait(lambda: w.data.report is not None, "the DICOM data report")
        wait(lambda: len(w.data.previews) >= 8, "the engine's DICOM thumbnails", 120)
        w.go(DATA)
        shot("13-data-dicom")
        box = w.data_page.options
        box.window_combo.activated.emit(box.window_combo.findData("lung"))
        wait(lambda: w.data.preview_window == "lung", "the thumbnails in the lung window", 600)
        shot("14-data-dicom-lung")
        w.close()
        return 0

    kind = "text" if args.text else "images"
    demo = ROOT / "resources" / "demo" / kind
    wait(lambda: bool(w.backbones.specs), "the engine's backbone list", 180)
    w.open_demo(kind)
    wait(lambda: w.data.report is not None, "the data report")
    wait(lambda: w.thumbnails.idle, "thumbnails")
    w.go(DATA)
    shot("01-data")
    if not args.text:  # the demo's one pair of near-identical sneakers, side by side
        from gui.pairs_view import PairsView
        from gui.widgets import Collapsible

        for box in w.data_page.findChildren(Collapsible):
            box.set_expanded(isinstance(box.content, PairsView))
        shot("15-data-near-pairs")

    backbone = "minilm_l6" if args.text and args.backbone == "efficientnet_lite0" else args.backbone
    w.go(MODEL)
    w.session.choose_backbone(backbone)
    wait(lambda: w.backbones.ready, "the backbone's stages")
    w.model_page.refresh()
    w.model_page.slider.setValue(w.backbones.levels)  # linear probe: quick on a CPU
    shot("02-model")

    w.go(TRAIN)
    w.train_page.epochs.setValue(args.epochs)
    w.train_page.log_box.set_expanded(True)
    if not w.session.start_training():
        raise SystemExit(f"could not start: {w.message.label.text()}")
    wait(lambda: (w.run.phase == "training" and w.run.epoch >= min(3, args.epochs)) or not w.run.running,
         "training to get going")
    shot("03-train")
    wait(lambda: not w.run.running, "training to finish", 1200)
    if w.run.stopped != "completed":
        raise SystemExit(f"the run ended as {w.run.stopped}: {w.message.label.text()}")
    w.go(TRAIN)
    w.train_page.advanced.set_expanded(True)  # shows what Auto input size means for this data
    shot("04-train-finished")

    w.go(RESULTS)
    wait(lambda: w.thumbnails.idle, "gallery thumbnails")
    shot("05-results")
    cm = w.results.confusion()
    off = [(i, j, v) for i, row in enumerate(cm) for j, v in enumerate(row) if i != j and v]
    if off:
        i, j, _ = max(off, key=lambda t: t[2])
        w.results_page.matrix.setCurrentCell(i, j)
        w.results_page.show_cell(i, j)
        wait(lambda: bool(w.results_page.gallery_paths()) or "Finding" not in w.results_page.gallery_hint.text(),
             "the files of a confusion-matrix cell")
        wait(lambda: w.thumbnails.idle, "cell thumbnails")
        shot("06-results-cell")

    files = [sorted(d.iterdir())[-1] for d in sorted(demo.iterdir()) if d.is_dir()][:4]
    w.go(TRY)
    w.try_files([str(f) for f in files])
    wait(lambda: bool(w.results.predictions), "predictions")
    wait(lambda: w.thumbnails.idle, "try-it thumbnails")
    shot("07-try")

    target = work / "saved"
    target.mkdir()
    w.go(SAVE)
    w.session.save(str(target))
    wait(lambda: w.results.saved_path is not None, "the saved bundle", 600)
    w.message.hide()
    shot("08-save")

    # the data step again: texts, and a folder with problems (unreadable files, a duplicate)
    other = "images" if args.text else "text"
    w.open_demo(other)
    wait(lambda: w.data.report is not None, "the second data report")
    shot(f"09-data-{other}")
    if args.text:
        w.close()
        return 0
    messy = work / "messy"
    classes = sorted(p for p in demo.iterdir() if p.is_dir())[:3]
    for i, d in enumerate(classes):
        keep = 8 if i == 1 else 20  # one small class: imbalance
        shutil.copytree(d, messy / d.name, ignore=lambda _d, names, keep=keep: sorted(names)[keep:])
    first, second = messy / classes[0].name, messy / classes[1].name
    (first / "scan_0001.png").write_bytes(b"\x89PNG\r\n\x1a\n-- cut off during copy --")  # unreadable
    (first / "notes.docx").write_bytes(b"PK\x03\x04 not data")  # ignored
    shutil.copy(sorted(first.glob("*.png"))[0], second / "copied_by_mistake.png")  # one file, two labels
    w.load_data([str(messy)])
    wait(lambda: w.data.report is not None, "the messy data report")
    w.message.hide()
    shot("10-data-problems")

    # data that cannot be trained on: one class has a single usable image
    fatal = work / "fatal"
    shutil.copytree(classes[0], fatal / classes[0].name, ignore=lambda _d, names: sorted(names)[12:])
    shutil.copytree(classes[1], fatal / classes[1].name, ignore=lambda _d, names: sorted(names)[1:])
    (fatal / classes[1].name / "scan_0002.png").write_bytes(b"not an image at all")
    w.load_data([str(fatal)])
    wait(lambda: w.data.report is not None, "the fatal data report")
    shot("12-data-fatal")

    # the model library: a carried-in ResNet-18 .pth imported from its "weights missing" row
    pth = work / "usb" / "resnet18-f37072fd.pth"
    pth.parent.mkdir()
    subprocess.run([sys.executable, "-c", "import sys, torch, torchvision; torch.save(torchvision.models."
                    "resnet18(weights=None, num_classes=1000).state_dict(), sys.argv[1])", str(pth)], check=True)
    w.load_data([str(demo)])
    wait(lambda: w.data.report is not None, "the data report")
    w.go(MODEL)
    w.open_library("resnet18")
    w.library.page.import_path(str(pth))
    page = w.library.page

    def imported() -> bool:
        if page.status_level == "error":
            raise SystemExit(f"the library import failed: {page.status.text()}")
        resnet = w.backbones.choice("resnet18")
        return resnet is not None and resnet.enabled and not page.busy() and not page.listing()

    wait(imported, "the library import", 900)
    QTest.qWait(300)
    w.library.grab().save(str(out / "11-library.png"))
    print(f"wrote {out / '11-library.png'}")
    w.library.close()
    w.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
