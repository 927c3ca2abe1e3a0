"""engine.atomic: a folder swap killed at any point (kill -9: no cleanup runs) is brought back to
one complete copy by recover_dir, and temp folders of dead writers are removed, live ones kept."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import atomic

ROOT = Path(__file__).resolve().parents[1]

# Writes `final` with atomic_dir and dies (os._exit, as kill -9 would) at its CRASH-th step:
# 0 = while the temp folder is being written, n >= 1 = before the n-th rename or removal.
CHILD = r"""
import os, shutil, sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from engine import atomic

crash = int(sys.argv[2])
steps = [0]

def step(fn, half=False):
    def wrapped(path, *a, **k):
        steps[0] += 1
        if steps[0] == crash:
            if half and Path(path).is_dir():  # dies half-way through removing a folder
                next(p for p in Path(path).iterdir()).unlink()
            os._exit(9)
        return fn(path, *a, **k)
    return wrapped

os.replace = step(os.replace)
shutil.rmtree = step(shutil.rmtree, half=True)
with atomic.atomic_dir(Path(sys.argv[1])) as tmp:
    (tmp / "model.bin").write_bytes(b"new" * 10000)
    if crash == 0:
        os._exit(9)
    (tmp / "state.json").write_text("new")
"""


def _write(folder: Path, tag: str) -> None:
    folder.mkdir(parents=True)
    (folder / "model.bin").write_bytes(tag.encode() * 10000)
    (folder / "state.json").write_text(tag)


def _content(folder: Path) -> str:
    """'old' or 'new' when the folder is one complete copy; anything else fails the test."""
    tag = (folder / "state.json").read_text()
    assert sorted(p.name for p in folder.iterdir()) == ["model.bin", "state.json"]
    assert (folder / "model.bin").read_bytes() == tag.encode() * 10000
    return tag


def _crash(final: Path, at: int) -> int:
    return subprocess.run([sys.executable, "-c", CHILD, str(final), str(at), str(ROOT)], timeout=60).returncode


@pytest.mark.parametrize("had_old", [True, False], ids=["replacing", "first-write"])
@pytest.mark.parametrize("at", range(0, 6))
def test_a_folder_swap_killed_at_any_step_recovers_to_one_complete_copy(tmp_path, at, had_old):
    final = tmp_path / "checkpoints" / "last"
    if had_old:
        _write(final, "old")
    code = _crash(final, at)
    atomic.recover_dir(final)
    left = sorted(p.name for p in final.parent.iterdir())
    assert left == (["last"] if final.exists() else [])  # no .new, .old or temp folder left
    steps = 4 if had_old else 3  # renames and removals atomic_dir makes
    if code == 0:
        assert at > steps and _content(final) == "new"
    elif at >= 2:  # killed after the new copy was complete: it wins
        assert _content(final) == "new"
    else:  # killed before it was complete: the previous copy stays (none on a first write)
        assert final.exists() == had_old and (not had_old or _content(final) == "old")


def test_a_crash_between_the_renames_of_an_older_version_puts_the_previous_copy_back(tmp_path):
    """Before the .new step, a kill between `final -> .old` and `temp -> final` left no `final`
    at all, only .old and a temp folder that cannot be told from a partial one."""
    final = tmp_path / "last"
    _write(tmp_path / ".last.old", "old")
    _write(tmp_path / ".last.k3j9_x2a.tmp", "new")
    atomic.recover_dir(final)
    assert _content(final) == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def test_recover_tree_mends_every_interrupted_swap_and_temp_file_under_a_run(tmp_path):
    run = tmp_path / "run"
    _write(run / "checkpoints" / ".last.old", "old")
    _write(run / "checkpoints" / ".last.new", "new")
    _write(run / "checkpoints" / "best", "best")
    _write(run / "checkpoints" / f".best.{os.getpid()}-abcdefgh.tmp", "partial")
    (run / f".config.json.{os.getpid()}-a1b2c3d4.tmp").write_text("{")
    (run / "config.json").write_text("{}")
    atomic.recover_tree(run)
    assert _content(run / "checkpoints" / "last") == "new" and _content(run / "checkpoints" / "best") == "best"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best", "last"]
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.json"]


def test_only_temp_folders_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ck = tmp_path / "runs" / "a" / "checkpoints"
    _write(ck / f".last.{dead.pid}-abcdefgh.tmp", "partial")
    _write(ck / f".best.{os.getpid()}-abcdefgh.tmp", "being written")  # a live writer's
    _write(ck / ".last.abcdefgh.tmp", "legacy")  # no pid: left to the run's own resume
    (tmp_path / "runs" / "a" / f".config.json.{dead.pid}-zzzzzzzz.tmp").write_text("{")
    assert atomic.remove_stale_temps(tmp_path / "runs") == 2
    assert sorted(p.name for p in ck.iterdir()) == [f".best.{os.getpid()}-abcdefgh.tmp", ".last.abcdefgh.tmp"]
    assert os.listdir(tmp_path / "runs" / "a") == ["checkpoints"]


def test_a_failed_write_leaves_the_previous_folder_and_no_temp(tmp_path):
    final = tmp_path / "best"
    _write(final, "old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_dir(final) as tmp:
            (tmp / "model.bin").write_bytes(b"x")
            raise RuntimeError("disk trouble")
    assert _content(final) == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["best"]
