"""`make package`: build the one-folder bundle dist/transfer-studio/ with PyInstaller.

Runs PyInstaller on packaging/transfer_studio.spec with the Python running this script
(so a CPU-only build is the same command run from a venv holding CPU-only torch), adds
the Linux desktop entry, its icon and an install script beside the executables, writes
BUILD-INFO.txt, and prints how long it took and how large the folder is.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_contents as bc  # noqa: E402  (standard library only)

SPEC = bc.ROOT / "packaging" / "transfer_studio.spec"
LINUX_EXTRAS = (bc.ROOT / "packaging" / "linux" / "transfer-studio.desktop",
                bc.ROOT / "packaging" / "linux" / "install-desktop-entry.sh",
                bc.ROOT / "resources" / "icons" / "app.png",
                bc.ROOT / "packaging" / "README-airgapped.md")


# Qt's xcb platform plugin needs these; PyInstaller bundles them only if the build machine has them.
XCB_HELPERS = {"xcb-cursor": "libxcb-cursor0", "xkbcommon-x11": "libxkbcommon-x11-0",
               "xcb-icccm": "libxcb-icccm4", "xcb-keysyms": "libxcb-keysyms1"}


def missing_xcb_helpers() -> list[str]:
    """Debian package names of the xcb helper libraries this build machine lacks (Linux only)."""
    if not sys.platform.startswith("linux"):
        return []
    import ctypes.util

    return [pkg for lib, pkg in XCB_HELPERS.items() if ctypes.util.find_library(lib) is None]


def folder_size(folder: Path) -> int:
    """Bytes of the regular files under `folder` (links counted once, not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(dirpath) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def largest_parts(folder: Path, n: int = 8) -> list[tuple[int, str]]:
    """The n largest entries of the bundle's library folder, by size."""
    base = folder / "_internal" if (folder / "_internal").is_dir() else folder
    sizes = []
    for entry in base.iterdir():
        size = folder_size(entry) if entry.is_dir() else (0 if entry.is_symlink() else entry.stat().st_size)
        sizes.append((size, entry.name))
    return sorted(sizes, reverse=True)[:n]


CUDA_FOLDERS = ("nvidia", "cuda")
CUDA_LIBRARY_WORDS = ("cuda", "cudnn", "cublas", "cufft", "curand", "cusolver", "cusparse", "cupti", "cufile",
                      "nccl", "nvrtc", "nvjitlink", "nvjpeg", "nvshmem", "nvtoolsext", "cudart")


def cuda_size(folder: Path) -> int:
    """Bytes of CUDA libraries in the bundle: what a CPU-only torch build would not carry."""
    base = folder / "_internal" if (folder / "_internal").is_dir() else folder
    total = sum(folder_size(base / name) for name in CUDA_FOLDERS if (base / name).is_dir())
    for path in base.rglob("*.so*"):
        top = path.relative_to(base).parts[0]
        if top not in CUDA_FOLDERS and not path.is_symlink() and any(w in path.name.lower() for w in CUDA_LIBRARY_WORDS):
            total += path.stat().st_size
    return total


def gib(n: int) -> str:
    return f"{n / 2 ** 30:.2f} GiB"


def pyinstaller_command(dist: Path, work: Path, clean: bool) -> list[str]:
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(dist.parent), "--workpath", str(work), str(SPEC)]
    if clean:
        cmd.insert(3, "--clean")
    return cmd


def add_extras(dist: Path) -> None:
    """Desktop entry, icon, installer script and the install notes next to the executables."""
    if not sys.platform.startswith("linux"):
        return
    for src in LINUX_EXTRAS:
        if src.is_file():
            dest = dist / ("README-airgapped.md" if src.suffix == ".md" else src.name)
            shutil.copy2(src, dest)
            if src.suffix == ".sh":
                dest.chmod(0o755)


def write_build_info(dist: Path, seconds: float) -> None:
    try:
        from importlib.metadata import version

        torch_version = version("torch")
    except Exception:  # noqa: BLE001
        torch_version = "?"
    lines = [f"Transfer Studio bundle built {time.strftime('%Y-%m-%d %H:%M:%S %z')}",
             f"platform: {sys.platform}, Python {sys.version.split()[0]}",
             f"torch {torch_version} ({bc.torch_variant()})",
             f"build time: {seconds:.0f} s", ""]
    (dist / "BUILD-INFO.txt").write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dist", type=Path, default=bc.DIST_DIR, help="output folder (default: dist/transfer-studio)")
    p.add_argument("--work", type=Path, default=bc.ROOT / "build" / "pyinstaller", help="PyInstaller work folder")
    p.add_argument("--incremental", action="store_true",
                   help="reuse PyInstaller's work folder from the last build: faster, but it keeps the compiled "
                        "code of any source file edited while that build was analysing")
    a = p.parse_args(argv)
    dist = a.dist.resolve()
    if dist.name != bc.GUI_NAME:
        p.error(f"the output folder must be named {bc.GUI_NAME} (the spec's COLLECT name)")

    variant = bc.torch_variant()
    print(f"Building {dist} with torch ({variant}) from {sys.executable}", flush=True)
    if variant.startswith("cuda"):
        print("  CUDA torch: its CUDA libraries are bundled (libtorch links them); expect ~4-5 GiB. "
              "Build from a venv with CPU-only torch for a bundle of about 1.2 GiB (packaging/README-airgapped.md).",
              flush=True)
    missing_libs = missing_xcb_helpers()
    if missing_libs:
        print(f"  WARNING: {', '.join(missing_libs)} not installed here: the bundle will lack them and the window "
              "will not open on machines without them (apt-get install them, then build again).", flush=True)
    start = time.monotonic()
    code = subprocess.call(pyinstaller_command(dist, a.work.resolve(), clean=not a.incremental), cwd=str(bc.ROOT))
    seconds = time.monotonic() - start
    if code != 0:
        print(f"PyInstaller failed (exit code {code}) after {seconds:.0f} s", file=sys.stderr)
        return code
    missing = [name for name in (bc.GUI_NAME, bc.ENGINE_NAME)
               if not (dist / (name + (".exe" if os.name == "nt" else ""))).is_file()]
    if missing:
        print(f"the build finished but {', '.join(missing)} is missing from {dist}", file=sys.stderr)
        return 1
    add_extras(dist)
    write_build_info(dist, seconds)
    size = folder_size(dist)
    print(f"\nBuilt {dist} in {seconds / 60:.1f} min ({seconds:.0f} s): {gib(size)}")
    cuda = cuda_size(dist)
    if cuda:
        print(f"  of which CUDA libraries: {gib(cuda)} (a CPU-only torch build carries none of them)")
    for part_size, name in largest_parts(dist):
        print(f"  {gib(part_size):>10}  {name}")
    print(f"Check it with: {sys.executable} packaging/smoke_test.py --dist {dist}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
