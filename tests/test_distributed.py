"""Several training processes (DDP, gloo on the CPU, started by `train --gpus 2 --device cpu` through
torchrun's launcher), the way Lightning and Accelerate test their DDP code without a GPU.

The contract: 2 processes sharing a global batch train the same model as 1 process with that batch.
Tolerance: weights within 1e-5 and metrics within 1e-6 after every step of 2 epochs (the only
difference is the order of float sums: each rank sums its part, then the ranks' sums are added).
BatchNorm statistics are per process under DDP, as in plain DDP without SyncBatchNorm; these runs
keep them frozen (what the recipe does on small data), so the runs can be compared exactly.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from engine.train.distributed import Ranks, shard
from tests.test_train import make_images, tiny_config

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_TOL, METRIC_TOL = 1e-5, 1e-6


# ---------------------------------------------------------------------- the pieces, in one process
def test_ranks_come_from_torchruns_environment():
    assert Ranks.from_env({}) == Ranks(0, 1, 0) and not Ranks.from_env({}).active
    r = Ranks.from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (r.rank, r.world, r.local_rank, r.active, r.is_main) == (3, 4, 1, True, False)


@pytest.mark.parametrize("world", [2, 3])
def test_each_rank_gets_its_share_of_every_global_batch(world):
    order = torch.randperm(23, generator=torch.Generator().manual_seed(0)).tolist()
    batches = [order[i:i + 8] for i in range(0, 23, 8)]  # 8, 8, 7
    parts = [shard(batches, Ranks(r, world)) for r in range(world)]
    for i, batch in enumerate(batches):  # together the ranks see exactly the batch, in order
        got = [j for mine, padding in parts if i not in padding for j in mine[i]]
        assert got == batch
    assert all(len(mine) == len(batches) for mine, _ in parts)  # the same number of steps everywhere


def test_a_rank_left_without_examples_pads_with_a_masked_one():
    batches = [[5, 6, 7], [9]]  # the epoch's short last batch: one example for two ranks
    (mine0, pad0), (mine1, pad1) = shard(batches, Ranks(0, 2)), shard(batches, Ranks(1, 2))
    assert mine0 == [[5, 6], [9]] and pad0 == set()
    assert mine1 == [[7], [9]] and pad1 == {1}  # rank 1 repeats 9 with its label masked (loop._batches)


def test_a_failed_process_is_named_with_its_reason():
    from engine.train.launch import failure_sentence

    s = failure_sentence(1, 2, -9, "Signal 9 (SIGKILL) received by PID 7", "/runs/a")
    assert s.startswith("Process 1 of 2 stopped (killed by SIGKILL: often the system running out of memory)")
    assert s.endswith("Resume with: transfer-studio train --resume /runs/a --gpus 2")
    s = failure_sentence(0, 4, 2, "DataError: The folder /d has no labeled images.", None)
    assert "(DataError: The folder /d has no labeled images.)" in s


def test_the_failure_named_is_the_one_that_started_it_not_a_peer_that_lost_its_connection():
    from types import SimpleNamespace

    from engine.train.launch import root_failure

    lost = "RuntimeError: [gloo/transport/tcp/pair.cc:561] Connection closed by peer [127.0.0.1]:6818"
    cause = SimpleNamespace(message={"message": "DataError: /x/missing is not a folder"}, timestamp=100, exitcode=1)
    # the peer's error can carry the same whole-second timestamp, or an earlier one
    follower = SimpleNamespace(message={"message": lost}, timestamp=99, exitcode=1)
    assert root_failure({1: follower, 0: cause}) == (0, cause)
    killed = SimpleNamespace(message="Signal 9 (SIGKILL) received by PID 12", timestamp=100, exitcode=-9)
    assert root_failure({0: SimpleNamespace(message=lost, timestamp=100, exitcode=1), 1: killed})[0] == 1
    # the agent stops the others with SIGTERM once one has died: that is never the cause when there is another
    stopped = SimpleNamespace(message="Signal 15 (SIGTERM) received by PID 11", timestamp=90, exitcode=-15)
    assert root_failure({0: stopped, 1: killed})[0] == 1
    same = SimpleNamespace(message="boom", timestamp=5, exitcode=1)
    assert root_failure({1: same, 0: same})[0] == 0  # a tie: the lower rank


def test_gpus_beyond_the_machine_fail_in_one_sentence():
    from engine.config import ConfigError
    from engine.train.launch import check_processes

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="no CUDA GPU.*--device cpu"):
        check_processes(2, "auto")
    check_processes(2, "cpu")  # CPU processes: any number


# ---------------------------------------------------------------------- two real processes
def _args(cfg) -> list[str]:
    return ["--data", *cfg.data, "--backbone", cfg.backbone, "--freeze", str(cfg.freeze), "--epochs", str(cfg.epochs),
            "--batch-size", str(cfg.batch_size), "--lr", str(cfg.lr), "--input-size", str(cfg.input_size),
            "--augment", cfg.augment, "--deterministic", "--runs-root", cfg.runs_root, "--workers", "0",
            "--no-compare-probe", "--no-refit", "--freeze-bn-stats", "--patience", "0",
            "--val-fraction", str(cfg.val_fraction), "--test-fraction", str(cfg.test_fraction)]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _launch(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "engine.cli", "train", *args], cwd=str(ROOT), env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _weights(run_dir: Path, kind: str = "last") -> dict:
    from safetensors.torch import load_file

    return load_file(str(run_dir / "checkpoints" / kind / "model.safetensors"))


def _assert_same_training(a: Path, b: Path, resumed_mid_epoch: int | None = None) -> None:
    """Same weights and epoch figures; the epoch a run resumed in the middle of has training figures
    over the examples after the resume only (as on one process), so only its validation is compared."""
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    worst = max(float((wa[k].double() - wb[k].double()).abs().max()) for k in wa)
    assert worst <= WEIGHTS_TOL, worst
    ha = json.loads((a / "checkpoints" / "last" / "state.json").read_text())["loop"]["history"]
    hb = json.loads((b / "checkpoints" / "last" / "state.json").read_text())["loop"]["history"]
    assert [h["epoch"] for h in ha] == [h["epoch"] for h in hb]
    for x, y in zip(ha, hb):
        for key in x:
            if x["epoch"] == resumed_mid_epoch and key.startswith("train_"):
                continue
            assert abs(x[key] - y[key]) <= METRIC_TOL, (key, x[key], y[key])


def _reference(tmp_path, data, **kw):
    """The single-process run the distributed ones must equal."""
    from engine.train import train

    cfg = tiny_config(tmp_path, data, name="one", compare_probe=False, refit=False, freeze_bn_stats=True,
                      augment="none", **kw)
    train(cfg)
    return cfg, tmp_path / "runs" / "one"


@pytest.mark.slow
def test_two_processes_train_what_one_process_trains(tmp_path):
    data = make_images(tmp_path / "data", per_class=10)
    # 15 training examples in global batches of 7: 7, 7, 1, so the last step leaves one rank only padding
    cfg, one = _reference(tmp_path, data, epochs=2, batch_size=7)
    p = _launch([*_args(cfg), "--name", "two", "--gpus", "2", "--device", "cpu"])
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err[-3000:]
    assert out.count("Run directory:") == 1 and out.count("epoch 2:") == 1  # rank 0 alone reports
    two = tmp_path / "runs" / "two"
    _assert_same_training(one, two)
    events = (two / "events.jsonl").read_text().splitlines()
    assert sum('"type": "epoch_end"' in e or '"type":"epoch_end"' in e for e in events) == 2  # rank 0 only
    assert json.loads((two / "metrics.json").read_text())["test"]["n"] > 0  # evaluated once, by rank 0


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _rank_of(pid: int) -> int | None:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    return next((int(e[5:]) for e in env if e.startswith(b"RANK=")), None)


@pytest.mark.slow
def test_a_killed_process_ends_the_run_cleanly_and_the_run_resumes(tmp_path):
    data = make_images(tmp_path / "data", per_class=12)
    cfg, one = _reference(tmp_path, data, epochs=12, batch_size=4)
    p = _launch([*_args(cfg), "--name", "two", "--gpus", "2", "--device", "cpu"])
    run_dir, victim = tmp_path / "runs" / "two", None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and p.poll() is None:  # kill rank 1 once an epoch is saved
        state = run_dir / "checkpoints" / "last" / "state.json"
        if state.is_file():
            victim = next((c for c in _children(p.pid) if _rank_of(c) == 1), None)
            if victim:
                os.kill(victim, signal.SIGKILL)
                break
        time.sleep(0.05)
    assert victim, "the run ended before a process could be killed"
    workers = [c for c in _children(p.pid) if c != victim]
    out, err = p.communicate(timeout=120)  # no hang: torchrun's agent stops the other process
    assert p.returncode == 1
    assert "Process 1 of 2 stopped (killed by SIGKILL" in err, err[-3000:]
    assert f"--resume {run_dir} --gpus 2" in err
    assert not any(Path(f"/proc/{w}").exists() and _rank_of(w) is not None for w in workers)
    saved = json.loads((run_dir / "checkpoints" / "last" / "state.json").read_text())["epoch"]
    assert 1 <= saved < 12
    r = _launch(["--resume", str(run_dir), "--gpus", "2"])
    out, err = r.communicate(timeout=300)
    assert r.returncode == 0, err[-3000:]
    assert f"Resuming after epoch {saved}" in out
    _assert_same_training(one, run_dir)


@pytest.mark.slow
def test_a_cancelled_two_process_run_resumes_on_one_process(tmp_path):
    """Cancel (SIGINT to the launcher, as Ctrl-C or the app's Cancel) saves on rank 0 mid-run; the run
    then resumes on a different number of processes and still equals the uninterrupted run."""
    data = make_images(tmp_path / "data", per_class=12)
    cfg, one = _reference(tmp_path, data, epochs=12, batch_size=4)
    p = _launch([*_args(cfg), "--name", "two", "--gpus", "2", "--device", "cpu"])
    run_dir = tmp_path / "runs" / "two"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and p.poll() is None:
        if (run_dir / "checkpoints" / "last" / "state.json").is_file():
            p.send_signal(signal.SIGINT)
            break
        time.sleep(0.05)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err[-3000:]
    assert f"Resume with: transfer-studio train --resume {run_dir} --gpus 2" in out
    saved = json.loads((run_dir / "checkpoints" / "last" / "state.json").read_text())["loop"]
    assert saved["epoch"] < 12
    r = _launch(["--resume", str(run_dir)])  # one process now
    out, err = r.communicate(timeout=300)
    assert r.returncode == 0, err[-3000:]
    _assert_same_training(one, run_dir, resumed_mid_epoch=saved["epoch"] + 1 if saved["samples_in_epoch"] else None)
