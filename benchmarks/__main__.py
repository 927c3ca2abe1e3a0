"""Speed benchmarks in one command: `python -m benchmarks [--quick] [--out DIR] [--render]`.

Runs every measurement in fresh subprocesses on the bundled demo data (Fashion-MNIST,
5 classes x 60, 28 px) with EfficientNet-Lite0 (real ImageNet weights) at 112 px, prints
a table of ratios and writes benchmarks/results.json and benchmarks/RESULTS.md (the
analysis in benchmarks/NOTES.md is appended). `--quick` uses 20 images per class, fewer
epochs and skips the optional studies; it is for checking the suite, not for numbers.
The other benchmark scripts in this folder (GUI latency, start-up) run too when present.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import report, suite
from .common import ROOT, child_env, load_average, machine, prepare_demo_data

HERE = Path(__file__).resolve().parent
EXTRA_SCRIPTS = [("bench_gui_latency.py", ["3"]), ("bench_startup.py", ["5"]),
                 ("bench_runs_listing.py", ["500", "5", "--window"]),  # issue 24: the Runs window, 300 ms goal
                 ("bench_folder_predict.py", ["--sizes", "5000", "50000"]),  # issue 24: flat memory on 50 000 files
                 ("bench_explain.py", ["5"])]  # issue 23: one Grad-CAM map < 1 s, MiniLM word scores < 2 s


def _run_script(name: str, args: list[str], log) -> dict | None:
    path = HERE / name
    if not path.is_file():
        return None
    log(f"{name}")
    t = time.monotonic()
    try:
        p = subprocess.run([sys.executable, str(path), *args], cwd=str(ROOT), env=child_env(True),
                           capture_output=True, text=True, timeout=600)
        return {"script": name, "exit": p.returncode, "seconds": round(time.monotonic() - t, 1),
                "output": (p.stdout[-3000:] + ("\n" + p.stderr[-1500:] if p.returncode else "")).strip()}
    except subprocess.TimeoutExpired:
        return {"script": name, "exit": None, "seconds": 600, "output": "timed out after 600 s"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small and fast: checks the suite, numbers are rough")
    ap.add_argument("--out", default=str(HERE), help="where results.json and RESULTS.md go (default: benchmarks/)")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: finetune,probe,engine,resolution,"
                                                "scripts")
    ap.add_argument("--render", action="store_true",
                    help="only rewrite RESULTS.md from results.json (e.g. after editing NOTES.md)")
    a = ap.parse_args(argv)
    if a.render:
        out = Path(a.out)
        results = json.loads((out / "results.json").read_text())
        (out / "RESULTS.md").write_text(report.markdown(results, HERE / "NOTES.md"))
        print(report.table(results.get("rows", [])))
        return 0
    skip = {s.strip() for s in a.skip.split(",") if s.strip()}
    full = not a.quick
    t_suite = time.monotonic()

    def log(msg: str) -> None:
        print(f"[{time.monotonic() - t_suite:7.1f} s] {msg}", flush=True)

    results: dict = {"quick": a.quick, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "load_before": load_average()}
    log(f"load average before: {results['load_before']}")
    results["machine"] = machine()
    per_class, ft_epochs, probe_epochs, batch = (20, 2, 10, 16) if a.quick else (60, 3, 30, 32)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="transfer-studio-benchmarks-") as tmp:
        work = Path(tmp)
        data = prepare_demo_data(work / "data", per_class)
        results["data"] = {"source": "resources/demo/images (Fashion-MNIST, 28 px PNG)", "classes": 5,
                           "per_class": per_class, "backbone": suite.BACKBONE, "input_size": suite.SIZE}
        if "finetune" not in skip:
            results["finetune"] = suite.bench_finetune(data, work, ft_epochs, batch, full, log,
                                                       rounds=3 if full else 1)
            rows += results["finetune"]["rows"]
        if "probe" not in skip:
            results["probe"] = suite.bench_probe(data, work, probe_epochs, full, log)
            rows += results["probe"]["rows"]
        if "engine" not in skip:
            results["engine"] = suite.bench_engine(data, work, batch, log)
            rows += results["engine"]["rows"]
        if full and "resolution" not in skip:
            results["resolution"] = suite.bench_resolution(data, work, [64, 96, 128, 160, 224], 3, batch, log)
            results["resolution"]["auto_choice"] = suite.auto_input_size(data)
        runs = [v for part in ("finetune", "probe", "resolution") for v in (results.get(part) or {}).values()]
        runs = [r for v in runs for r in (v if isinstance(v, list) else [v])]
        peak = [r.get("peak_rss_mb") for r in runs if isinstance(r, dict) and r.get("peak_rss_mb")]
        if peak:
            rows.append(suite._row("4d. peak RSS of a training process (max over runs)", max(peak), None, None,
                                   "(info)", None, "MB", "ru_maxrss of the benchmark workers"))
    if "scripts" not in skip:
        results["scripts"] = [r for r in (_run_script(n, args, log) for n, args in EXTRA_SCRIPTS) if r]
    results["rows"] = rows
    results["load_after"] = load_average()
    results["suite_s"] = round(time.monotonic() - t_suite, 1)
    log(f"load average after: {results['load_after']}")
    print()
    print(report.table(rows))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (out / "RESULTS.md").write_text(report.markdown(results, HERE / "NOTES.md"))
    print(f"\nwrote {out / 'results.json'} and {out / 'RESULTS.md'} in {results['suite_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
