"""How long from launching `transfer-studio gui` until its window is on screen?

Each run starts a fresh process (`python transfer_studio.py gui --no-engine` with
TRANSFER_STUDIO_STARTUP_PROBE=1: the app prints a line from the first event-loop turn
after show() and quits); the time is from Popen to reading that line. The baseline is a
bare QApplication + QWidget measured the same way, so the ratio shows what the app adds
on top of Qt itself. Target: median under 1.5 s.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_startup.py [runs]
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 1.5
BASELINE = """
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication(sys.argv)
w = QWidget(); w.resize(1280, 760); w.show()
QTimer.singleShot(0, lambda: (print(f"window-shown {time.time():.6f}", flush=True), app.quit()))
app.exec()
"""


def _time(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in p.stdout:
        if line.startswith("window-shown"):
            elapsed = time.perf_counter() - t0
            break
    else:
        raise SystemExit(f"{cmd} never showed its window:\n{p.stderr.read()[-2000:]}")
    p.wait(timeout=60)
    return elapsed


def main(argv: list[str]) -> int:
    runs = int(argv[0]) if argv else 7
    with tempfile.TemporaryDirectory() as cfg:
        env = dict(os.environ, TRANSFER_STUDIO_STARTUP_PROBE="1", TRANSFER_STUDIO_CONFIG_DIR=cfg)
        if not env.get("DISPLAY"):
            env.setdefault("QT_QPA_PLATFORM", "offscreen")
        app_cmd = [sys.executable, str(ROOT / "transfer_studio.py"), "gui", "--no-engine"]
        base_cmd = [sys.executable, "-c", BASELINE]
        _time(app_cmd, env)  # warm the OS file cache once; not counted
        base, app = [], []
        for _ in range(runs):  # interleaved so load changes hit both alike
            base.append(_time(base_cmd, env))
            app.append(_time(app_cmd, env))
    mb, ma = statistics.median(base), statistics.median(app)
    platform = "xcb (" + env["DISPLAY"] + ")" if env.get("DISPLAY") else env.get("QT_QPA_PLATFORM", "")
    print(f"start-up to window shown, median of {runs} runs, platform {platform}, load {os.getloadavg()[0]:.1f}")
    print(f"{'':28}{'median s':>10}{'min s':>8}{'max s':>8}")
    print(f"{'bare QApplication+QWidget':28}{mb:>10.3f}{min(base):>8.3f}{max(base):>8.3f}")
    print(f"{'transfer-studio gui':28}{ma:>10.3f}{min(app):>8.3f}{max(app):>8.3f}")
    print(f"ratio app/baseline: {ma / mb:.2f}x; target < {TARGET_S} s: {'met' if ma < TARGET_S else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
