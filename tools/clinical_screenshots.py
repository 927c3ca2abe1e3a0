"""Screenshots of the Results page's clinical evaluation for README (issue 22).

Opens the real window under Xvfb (display :97, 1366x768), shows a finished run's results
(made by `transfer-studio train` on tools/make_clinical_demo.py's data), and uses the real
engine for what the page asks: a second site, a subgroup file, a new threshold, the report.
Usage: python tools/clinical_screenshots.py RUN_DIR [--site FOLDER] [--subgroups CSV] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shots import ROOT, Window, ensure_display  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--site", help="a labeled folder to score as a second site through the window")
    ap.add_argument("--subgroups", help="a subgroup CSV to audit through the window")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args(argv)
    xvfb = ensure_display(":97")  # not :99, which tools/screenshots.py uses
    try:
        return _shoot(args)
    finally:
        if xvfb:
            xvfb.terminate()


def _shoot(args) -> int:
    from gui.window import RESULTS, TRY

    win = Window(args.out)
    app, w, wait, out = win.app, win.w, win.wait, win.out

    def shot(name: str) -> None:
        win.shot(name, settle_ms=400)

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
