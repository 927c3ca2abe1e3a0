"""Screenshots of issue 23 with the real engine: the Results gallery's most confident errors with
their Grad-CAM maps, and the Try page showing what the model looked at in dropped files; with
--text, the Try page's highlighted words for texts (30-try-explained-text.png).

A run is trained first with the CLI (EfficientNet-Lite0 as a linear probe at 224 px on the demo
images: its ImageNet features, quick on a CPU; MiniLM-L6 likewise on the demo texts), then opened
in the app as a person would from File → Open run. Under Xvfb (display :95, 1366x768) when no
DISPLAY is set. Usage: python tools/screenshots_explain.py [--out DIR] [--run RUN_DIR] [--text]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shots import DEMO_IMAGES as DEMO, DEMO_TEXTS as TEXTS, ROOT, Window, ensure_display, scratch  # noqa: E402


def train_cli(runs: Path, text: bool) -> Path:
    what = (["--data", str(TEXTS), "--backbone", "minilm_l6", "--freeze", "8"] if text else
            ["--data", str(DEMO), "--backbone", "efficientnet_lite0", "--freeze", "9", "--input-size", "224"])
    name = "demo-text" if text else "demo-images"
    subprocess.run([sys.executable, str(ROOT / "transfer_studio.py"), "train", *what, "--epochs", "6", "--no-refit",
                    "--no-compare-probe", "--runs-root", str(runs), "--name", name], check=True)
    return runs / name


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--run", help="a finished run to open instead of training one")
    ap.add_argument("--text", action="store_true", help="the Try page on texts (a MiniLM run)")
    args = ap.parse_args(argv)
    xvfb = ensure_display(":94")
    work = scratch("ts-explain-shots-")
    try:
        run = Path(args.run) if args.run else train_cli(work / "runs", args.text)
        return _walk(run, Path(args.out), args.text)
    finally:
        if xvfb:
            xvfb.terminate()


def _walk(run: Path, out: Path, text: bool = False) -> int:
    from gui.window import RESULTS, TRY

    win = Window(out, timeout_s=300)
    w, wait, shot = win.w, win.wait, win.shot

    explain = w.models.explain
    wait(lambda: bool(w.backbones.specs), "the engine's backbone list", 180)
    if not w.session.reopen.open_run(str(run)):
        raise SystemExit(f"could not open {run}")
    if text:
        w.results_page.text_mode = w.try_page.text_mode = True  # as loading the run's text data would set
        explain.set_show(True)
        files = [sorted(d.iterdir())[-1] for d in sorted(TEXTS.iterdir()) if d.is_dir()]
        w.go(TRY)
        w.try_files([str(f) for f in files])
        wait(lambda: bool(w.results.predictions), "predictions")
        wait(lambda: all(explain.get(str(f)) for f in files), "the texts' word scores")
        shot("30-try-explained-text")
        w.close()
        return 0
    w.go(RESULTS)
    wait(lambda: w.thumbnails.idle and bool(w.results_page.gallery_paths()), "the gallery")
    w.results_page.overlay.toggle.setChecked(True)
    explain.set_opacity(0.6)
    wait(lambda: all(explain.get(p, w.results_page._target(p)) for p in w.results_page.gallery_paths()),
         "the gallery's maps")
    shot("28-results-explained")

    files = [sorted(d.iterdir())[-1] for d in sorted(DEMO.iterdir()) if d.is_dir()][:3]
    w.go(TRY)
    w.try_files([str(f) for f in files])
    wait(lambda: bool(w.results.predictions), "predictions")
    wait(lambda: all(explain.get(str(f)) for f in files), "the dropped files' maps")
    first = str(files[0])
    row = next(r for r in w.results.predictions if r.get("path") == first)
    other = w.results.classes().index(row["top"][1][0])  # the runner-up class, clicked
    w.try_page.classChosen.emit(first, other)
    wait(lambda: explain.get(first) is not None, "the clicked class's map")
    shot("29-try-explained")
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
