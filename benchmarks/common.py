"""Shared pieces of the benchmark suite: data, subprocesses, machine description.

Every measurement runs in a fresh subprocess (`python -m benchmarks.worker TASK ARGS`),
so each side of a ratio starts equal (no warm caches, no imported modules) and the glibc
allocator settings the app gives its engine (`FAST_ENV`, read once at process start) can
be switched on or off per measurement.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_IMAGES = ROOT / "resources" / "demo" / "images"
# What gui/engine_client.py puts in the engine's environment (see shared/README.md).
FAST_ENV = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "4294967296"}
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
RESULT_PREFIX = "BENCH-RESULT "


def child_env(fast: bool, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in FAST_ENV}
    env.update(OFFLINE_ENV)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if fast:
        env.update(FAST_ENV)
    env.update(extra or {})
    return env


def run_worker(task: str, args: dict, *, fast: bool, timeout: float = 1800, extra_env: dict | None = None) -> dict:
    """Run one measurement in a fresh interpreter; returns the worker's result dict."""
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.worker", task, json.dumps(args)], cwd=str(ROOT),
                          env=child_env(fast, extra_env), capture_output=True, text=True, timeout=timeout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            out = json.loads(line[len(RESULT_PREFIX):])
            out["process_wall_s"] = round(time.monotonic() - t0, 3)
            return out
    tail = (proc.stdout[-2000:] + "\n" + proc.stderr[-4000:]).strip()
    raise RuntimeError(f"benchmark task {task} failed (exit {proc.returncode}):\n{tail}")


def emit(result: dict) -> None:
    """Worker side: print the result as the last stdout line."""
    import resource

    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


def prepare_demo_data(dest: Path, per_class: int) -> Path:
    """The first `per_class` demo images of each class, copied to `dest` (5 classes, 28 px)."""
    if dest.exists():
        shutil.rmtree(dest)
    for cls in sorted(p for p in DEMO_IMAGES.iterdir() if p.is_dir()):
        out = dest / cls.name
        out.mkdir(parents=True)
        for f in sorted(cls.glob("*.png"))[:per_class]:
            shutil.copy2(f, out / f.name)
    return dest


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 ** 2, 1)
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb, "os": platform.platform(),
            "python": platform.python_version()}
    try:
        probe = subprocess.run([sys.executable, "-c", (
            "import json, torch, torchvision; c = torch.cuda.is_available(); print(json.dumps({"
            "'torch': torch.__version__, 'torchvision': torchvision.__version__, 'cuda': c, "
            "'gpu': torch.cuda.get_device_name(0) if c else None, 'threads': torch.get_num_threads()}))")],
            capture_output=True, text=True, timeout=120, env=child_env(False))
        info.update(json.loads(probe.stdout.strip().splitlines()[-1]))
    except Exception as exc:  # noqa: BLE001 - the description is best effort
        info["probe_error"] = str(exc)
    return info
