"""Facts about the process the engine runs in: versions, devices, memory in use.

Everything here is cheap (standard library) and safe to call from the heartbeat thread;
nothing here imports torch or *initialises* CUDA just to measure it.
"""
from __future__ import annotations

import os
import platform
import sys
from importlib import metadata


def package_version(name: str) -> str:
    """Installed version of a distribution without importing it ("" when absent)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        if name == "torch" and "torch" in sys.modules:  # frozen builds may lack metadata
            return str(getattr(sys.modules["torch"], "__version__", ""))
        return ""


def python_version() -> str:
    return platform.python_version()


def rss_bytes() -> int:
    """Resident memory of this process now (peak on systems without /proc)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)
    except (ImportError, OSError):  # pragma: no cover - Windows
        return 0


def gpu_bytes() -> int:
    """Accelerator memory this process holds, only if torch already set it up."""
    torch = sys.modules.get("torch")
    if torch is None:
        return 0
    try:
        if torch.cuda.is_initialized():
            return sum(int(torch.cuda.memory_reserved(i)) for i in range(torch.cuda.device_count()))
        mps = getattr(torch, "mps", None)
        if mps is not None and torch.backends.mps.is_available():
            return int(mps.current_allocated_memory())
    except Exception:  # noqa: BLE001 - a heartbeat must never fail on a driver hiccup
        return 0
    return 0


def total_ram_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - Windows
        return 0


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def complete_devices(devices: list[dict]) -> list[dict]:
    """Fill what a torch-side probe leaves blank for the CPU entry: its name and RAM."""
    out = []
    for d in devices:
        d = dict(d)
        if d.get("kind") == "cpu":
            if not d.get("memory_bytes"):
                d["memory_bytes"] = total_ram_bytes()
            if d.get("name") in ("", None, platform.machine()):
                d["name"] = cpu_name()
        out.append(d)
    return out


def is_out_of_memory(exc: BaseException) -> bool:
    """True for an accelerator (or host) allocation failure, whichever library raised it."""
    if isinstance(exc, MemoryError):
        return True
    if type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
