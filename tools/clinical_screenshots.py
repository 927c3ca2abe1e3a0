"""Screenshots of the Results page's clinical evaluation for README (issue 22).

Opens the real window under Xvfb (display :97, 1366x768), shows a finished run's results
(made by `transfer-studio train` on tools/make_clinical_demo.py's data), and uses the real
engine for what the page asks: a second site, a subgroup file, a new threshold, the report.
Usage: python tools/clinical_screenshots.py RUN_DIR [--site FOLDER] [--subgroups CSV] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--site", help="a labeled folder to score as a second site through the window")
    ap.add_argument("--subgroups", help="a subgroup CSV to audit through the window")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args(argv)
    xvfb = None
    if not os.environ.get("DISPLAY"):
        os.environ["DISPLAY"] = ":97"  # not :99, which tools/screenshots.py uses
        xvfb = _xvfb(":97")
    try:
        return _shoot(args)
    finally:
        if xvfb:
            xvfb.terminate()


def _xvfb(display: str):
    import shutil
    import subprocess

    proc = subprocess.Popen([shutil.which("Xvfb"), display, "-screen", "0", "1366x768x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        if Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
            break
        time.sleep(0.1)
    return proc


def _shoot(args) -> int:
    from PySide6.QtTest import QTest

    from gui.app import build_window, make_app
    from gui.window import RESULTS, TRY

    app = make_app()
    w = build_window()
    w.confirm_quit = lambda: True
    w.resize(1366, 768)
    w.show()
    w.session.start_engine()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def wait(cond, what: str, timeout_s: float = 600) -> None:
        end = time.monotonic() + timeout_s
        while not cond():
            if time.monotonic() > end:
                raise SystemExit(f"timed out waiting for {what}")
            QTest.qWait(100)

    def shot(name: str) -> None:
        QTest.qWait(400)
        if not w.grab().save(str(out / name)):
            raise SystemExit(f"could not write {out / name}")
        print("saved", out / name)

    run = str(Path(args.run).resolve())
    metrics = json.loads((Path(run) / "metrics.json").read_text(encoding="utf-8"))
    w.session.m.results.set_result(run, metrics)
    w.go(RESULTS)
    panel = w.clinical_panel
    w.results_page.tabs.setCurrentIndex(1)  # the clinical evaluation (scrolled inside its tab)
    clinical = w.session.m.clinical
    wait(lambda: w.session.requests.ready, "the engine")
    if args.subgroups:
        w.clinical_controller.audit_subgroups(args.subgroups)
        wait(lambda: clinical.metrics.get("subgroups"), "the subgroup audit")
    if args.site:
        before = len(clinical.metrics.get("external") or [])
        w.clinical_controller.evaluate_site(args.site, "Site 2 (other contrast)")
        wait(lambda: len(clinical.metrics.get("external") or []) > before or clinical.last_site, "the second site")
    panel.slider.setValue(round(clinical.rule()["threshold"] * 1000))
    shot("21-clinical.png")
    panel.slider.setValue(600)  # a stricter threshold, by hand: every figure and the point move
    shot("22-clinical-threshold-moved.png")
    panel.method.setCurrentIndex(panel.method.findData("sensitivity"))
    panel.target.setValue(0.95)
    n = [0]
    clinical.events.result.connect(lambda: n.__setitem__(0, n[0] + 1))
    panel.apply.click()
    wait(lambda: n[0] > 0, "the new rule")
    shot("23-clinical-target-sensitivity.png")
    report = out.parent / "clinical-report-from-app.pdf"
    w.clinical_controller.save_report(str(report))
    wait(lambda: report.is_file(), "the PDF report")
    print("saved", report)
    w.results_page.tabs.setCurrentIndex(0)
    w.go(TRY)
    w.session.predict([str(p) for p in sorted(Path(args.site or run).rglob("*.png"))[:3]])
    wait(lambda: w.session.m.results.predictions, "predictions")
    shot("24-try-decision.png")
    w.close()
    app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
