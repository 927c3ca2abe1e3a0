"""What every screenshot script shares: a display, a throw-away data folder, the app's real
window with its engine, waiting for the app, and saving a picture.

Each script picks its own Xvfb display number, so two can run at once.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DEMO_IMAGES = ROOT / "resources" / "demo" / "images"
DEMO_TEXTS = ROOT / "resources" / "demo" / "text"


def ensure_display(display: str) -> subprocess.Popen | None:
    """Start Xvfb at 1366x768 on `display` unless there is a display already (offscreen without Xvfb)."""
    if os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        return None
    xvfb = shutil.which("Xvfb")
    if not xvfb:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        print("Xvfb not found: rendering offscreen instead", file=sys.stderr)
        return None
    proc = subprocess.Popen([xvfb, display, "-screen", "0", "1366x768x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ["DISPLAY"] = display
    for _ in range(50):
        if Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
            break
        time.sleep(0.1)
    return proc


def scratch(prefix: str, library: bool = False) -> Path:
    """A temporary folder for the app's settings, runs and data (unless the caller set them)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.setdefault("TRANSFER_STUDIO_CONFIG_DIR", str(work / "config"))
    os.environ.setdefault("TRANSFER_STUDIO_RUNS_DIR", str(work / "runs"))
    os.environ.setdefault("TRANSFER_STUDIO_DATA", str(work / "data"))
    if library:
        os.environ.setdefault("TRANSFER_STUDIO_LIBRARY", str(work / "data" / "library"))
    return work


def train_cli(*args: str) -> None:
    """`transfer-studio train ARGS` in a child process, as a person would at a terminal."""
    subprocess.run([sys.executable, str(ROOT / "transfer_studio.py"), "train", *args], check=True,
                   stdout=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(ROOT)))


class Window:
    """The app's window at 1366x768 with its engine started; `wait` and `shot` drive and picture it."""

    def __init__(self, out: str | Path, timeout_s: float = 600):
        from gui.app import build_window, make_app

        self.app = make_app()
        self.w = build_window()
        self.w.confirm_quit = lambda: True
        self.w.resize(1366, 768)
        self.w.show()
        self.w.session.start_engine()
        self.out, self.timeout_s = Path(out), timeout_s
        self.out.mkdir(parents=True, exist_ok=True)

    def wait(self, cond, what: str, timeout_s: float | None = None) -> None:
        """Process events until `cond()`; an error the app shows, or the time running out, ends the script."""
        from PySide6.QtTest import QTest

        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while not cond():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            if self.w.message.isVisible() and self.w.message.level == "error":
                raise SystemExit(f"the app reported an error while waiting for {what}: "
                                 f"{self.w.message.label.text()}")
            QTest.qWait(50)

    def shot(self, name: str, widget=None, settle_ms: int = 300) -> Path:
        """Save `widget` (the window by default) as OUT/name.png, once thumbnails and plots caught up."""
        from PySide6.QtTest import QTest

        QTest.qWait(settle_ms)
        path = self.out / (name if name.endswith(".png") else f"{name}.png")
        if not (widget or self.w).grab().save(str(path)):
            raise SystemExit(f"could not write {path}")
        print(f"wrote {path}")
        return path

    def save(self, pixmap, name: str) -> Path:
        path = self.out / f"{name}.png"
        pixmap.save(str(path))
        print(f"wrote {path}")
        return path
