"""How long does the Runs view take to list 500 run folders? Goal: under 300 ms (issue 24).

Measured three ways: reading every folder (no index), the first listing (which writes the
rebuildable index, engine/history/index.py), and listings from the index.

Generates N run folders shaped like real ones (config.json, model.json, recipe.json,
splits.json, data_report.json, checkpoints/best|last/state.json, metrics.json for the
finished ones, events.jsonl of 20 KB to 2 MB: a long run's step metrics), a mix of
finished, cancelled, failed and killed runs, then times `engine.history.list_runs` (what the
app calls) several times and reports the median and the worst. The OS file cache is warm
(the folders were just written), as it is when a person reopens the Runs view; the first
listing after a reboot reads from disk and is slower.

    .venv/bin/python benchmarks/bench_runs_listing.py [runs] [repeats] [--window]

`--window` also times opening the Runs window itself (RunsModel + RunsDialog, offscreen).
"""
from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.history import list_runs  # noqa: E402

TARGET_MS = 300.0
CLASSES = [f"class_{i:02d}" for i in range(12)]


def _event(seq: int, t: float, type_: str, **fields) -> str:
    return json.dumps({"v": "1.0", "type": type_, "run_id": "r", "seq": seq, "t": t, **fields},
                      separators=(",", ":")) + "\n"


def make_run(root: Path, i: int, rng: random.Random) -> None:
    run = root / f"run-{i:04d}"
    (run / "checkpoints" / "best").mkdir(parents=True)
    (run / "checkpoints" / "last").mkdir(parents=True)
    cfg = {"data": [f"/data/set{i % 7}"], "backbone": rng.choice(["resnet18", "efficientnet_b0", "mobilenetv3"]),
           "freeze": rng.randint(0, 5), "epochs": rng.randint(3, 30), "lr": rng.choice([1e-4, 3e-4, 1e-3]),
           "batch_size": 32, "augment": "light", "seed": i, "runs_root": str(root), "name": run.name,
           "monitor": "val_accuracy", "device": "auto", "schema_version": 1}
    (run / "config.json").write_text(json.dumps(cfg, indent=2))
    (run / "model.json").write_text(json.dumps({"backbone": cfg["backbone"], "modality": "image",
                                                "classes": CLASSES, "num_classes": len(CLASSES)}))
    (run / "recipe.json").write_text(json.dumps({"facts": {"modality": "image", "device": "cpu", "n_train": 2000,
                                                           "n_val": 400, "n_test": 400, "n_classes": 12,
                                                           "backbone_name": cfg["backbone"], "stages": 6},
                                                 "settings": [{"name": f"s{k}", "value": k, "auto": True,
                                                               "reason": "x" * 80} for k in range(20)]}))
    (run / "splits.json").write_text(json.dumps({"train": [[f"/data/f{k}.jpg", k % 12, "0" * 64]
                                                           for k in range(2800)]}))
    (run / "data_report.json").write_text(json.dumps({"classes": [{"name": c, "count": 200} for c in CLASSES]}))
    state = {"epoch": 3, "global_step": 300, "best_score": rng.random(), "monitor": "val_accuracy"}
    (run / "checkpoints" / "best" / "state.json").write_text(json.dumps(state))
    (run / "checkpoints" / "last" / "state.json").write_text(json.dumps(state))
    (run / "checkpoints" / "last" / "model.safetensors").write_bytes(b"\0" * 64)
    ending = rng.choice(["finished", "finished", "finished", "cancelled", "failed", "killed"])
    t = 1.7e9 + i * 3600
    lines = [_event(1, t, "status", phase="loading_model", detail="x on cpu")]
    n_metrics = int(rng.uniform(100, 12000))  # ~170 bytes each: 17 KB to 2 MB
    for k in range(n_metrics):
        lines.append(_event(k + 2, t + k, "metric", global_step=k, epoch=k / 100,
                            values={"loss": 1 / (k + 1), "lr": 1e-3}))
        if k % 100 == 99:
            lines.append(_event(k + 2, t + k, "epoch_end", epoch=k // 100 + 1, values={"val_accuracy": 0.5}))
    if ending == "finished":
        per_split = {"n": 400, "accuracy": 0.9, "ci95": {"accuracy": [0.87, 0.93]},
                     "per_class": [{"name": c, "precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 33}
                                   for c in CLASSES],
                     "confusion_matrix": [[3] * 12 for _ in CLASSES],
                     "confident_errors": [{"path": f"/data/f{k}.jpg", "true": "a", "predicted": "b",
                                           "probability": 0.9} for k in range(20)]}
        metrics = {"classes": CLASSES, "val": per_split, "test": per_split}
        (run / "metrics.json").write_text(json.dumps(metrics))
        lines.append(_event(0, t + n_metrics, "log", level="info", text="Finished in 812.0 s (completed)."))
        lines.append(_event(0, t + n_metrics, "result", run_dir=str(run), metrics=metrics))
    elif ending == "cancelled":
        lines.append(_event(0, t + n_metrics, "log", level="info", text="Cancelled: the last state is saved."))
    elif ending == "failed":
        lines.append(_event(0, t + n_metrics, "error", kind="out_of_memory", message="Out of memory.", detail=""))
    (run / "events.jsonl").write_text("".join(lines))
    old = time.time() - 3600  # written an hour ago: no run looks like it is still training
    os.utime(run / "events.jsonl", (old, old))


def time_window(root: Path, repeats: int) -> list[float]:
    """ms to open the Runs window (list through the index and fill the table), offscreen, as File → Runs… does."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from gui.history_model import RunsModel
    from gui.runs_dialog import RunsDialog

    app = QApplication.instance() or QApplication([])
    out = []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        model = RunsModel(str(root))
        dialog = RunsDialog(model)
        model.refresh()
        out.append(((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000))
        assert dialog.row_count() == len(model.runs)
        dialog.deleteLater()
        app.processEvents()
    return out


def main(argv: list[str]) -> int:
    window = "--window" in argv
    argv = [a for a in argv if a != "--window"]
    n = int(argv[0]) if argv else 500
    repeats = int(argv[1]) if len(argv) > 1 else 7
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(n):
            make_run(root, i, rng)
        size = sum(f.stat().st_size for f in root.rglob("events.jsonl"))
        times, cpu = [], []
        for _ in range(repeats):  # reading every folder, no index
            t0, c0 = time.perf_counter(), time.process_time()
            runs = list_runs(root, use_index=False)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        assert len(runs) == n, len(runs)
        t0 = time.perf_counter()
        built = list_runs(root)  # reads every folder and writes the index
        build_ms = (time.perf_counter() - t0) * 1000
        indexed, indexed_cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            again = list_runs(root)
            indexed.append((time.perf_counter() - t0) * 1000)
            indexed_cpu.append((time.process_time() - c0) * 1000)
        assert [r.to_dict() for r in again] == [r.to_dict() for r in built] == [r.to_dict() for r in runs]
        shown = time_window(root, repeats) if window else []
    med, worst = statistics.median(times), max(times)
    print(f"{n} run folders ({size / 1e6:.0f} MB of events.jsonl), load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores, goal {TARGET_MS:.0f} ms")
    print(f"  reading every folder: median {med:.0f} ms, worst {worst:.0f} ms of {repeats}; "
          f"CPU median {statistics.median(cpu):.0f} ms")
    print(f"  first listing, writing the index: {build_ms:.0f} ms")
    print(f"  from the index (folders unchanged): median {statistics.median(indexed):.0f} ms, worst {max(indexed):.0f} ms; "
          f"CPU median {statistics.median(indexed_cpu):.0f} ms")
    if shown:
        wall, cpu_w = [w for w, _ in shown], [c for _, c in shown]
        print(f"  the Runs window (listing + table of {n} rows): median {statistics.median(wall):.0f} ms, "
              f"worst {max(wall):.0f} ms; CPU time median {statistics.median(cpu_w):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
