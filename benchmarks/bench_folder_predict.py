"""Does memory stay flat when a whole folder is predicted? (issue 24: 50 000 files)

Writes N small PNG files (three sizes, a few unreadable ones, a few non-images), then in a
fresh process per N runs `engine.folder_predict.predict_folder` exactly as the engine's job
thread does (rows serialised to JSON lines and dropped, as the pipe would carry them), and
reports the peak resident memory (ru_maxrss) after loading the model and after the folder,
for N = 5 000 and 50 000: flat means the two peaks barely differ. The model is a run of the
tiny test CNN at 32 px trained for one epoch on the demo images (or `--model PATH`), so the
figure is the pipeline's own memory, not a large backbone's.

    .venv/bin/python benchmarks/bench_folder_predict.py [--sizes 5000 50000] [--model RUN_OR_BUNDLE]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
import torch
torch.set_num_threads({threads})
from engine import protocol
from engine.bundle.reader import open_predictor
from engine.folder_predict import predict_folder
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
predictor = open_predictor({model!r})
predictor.predict_detailed([])  # nothing: the model is loaded
loaded = peak_mb()
lines = [0, 0]
def send(msg):
    line = protocol.encode(msg, 1)
    lines[0] += 1
    lines[1] = max(lines[1], len(line))
t0 = time.monotonic()
done = predict_folder(predictor, {folder!r}, top_k=3, send=send)
print(json.dumps({{"loaded_mb": loaded, "peak_mb": peak_mb(), "seconds": time.monotonic() - t0, "files": done.total,
                  "unreadable": done.unreadable, "messages": lines[0], "longest_line": lines[1]}}))
"""


def make_files(folder: Path, n: int) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    tiles = []
    for i, side in enumerate((24, 32, 48)):
        img = Image.new("RGB", (side, side), ((60 * i) % 255, 120, 200))
        path = folder / f"tile{i}.png"
        img.save(path)
        tiles.append(path.read_bytes())
    for i in range(n):
        sub = folder / f"part{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(exist_ok=True)
        if i % 997 == 0:
            (sub / f"broken_{i}.png").write_bytes(b"not a png")
        elif i % 1499 == 0:
            (sub / f"notes_{i}.txt").write_text("not an image")
        else:
            (sub / f"img_{i:06d}.png").write_bytes(tiles[i % 3])
    for i in range(3):
        (folder / f"tile{i}.png").unlink()


def tiny_model(base: Path) -> str:
    from engine.config import RunConfig
    from engine.train import train

    cfg = RunConfig(data=[str(ROOT / "resources" / "demo" / "images")], backbone="test_tiny_cnn", epochs=1,
                    input_size=32, runs_root=str(base / "runs"), name="tiny", refit=False, compare_probe=False)
    return train(cfg)["run_dir"]


def table_memory(n: int) -> float:
    """MB the app's table model (gui/jobs_model.FolderJob, Qt-free) holds for n rows: the window keeps every
    row so it can sort, filter and save them; the engine keeps none."""
    import tracemalloc

    from gui.jobs_model import FolderJob

    job = FolderJob()
    tracemalloc.start()
    job.start("/data/incoming", "/runs/r", 3)
    for start in range(0, n, 64):
        job.add(start + 64, n, 1.0, 100.0, [{"path": f"/data/incoming/part{i // 1000:03d}/img_{i:06d}.png",
                                             "top": [["Ankle_boot", 0.71], ["Sneaker", 0.2], ["Bag", 0.09]]}
                                            for i in range(start, min(n, start + 64))])
    size, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return size / 1e6


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000, 50000])
    ap.add_argument("--model")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (default 1: on the shared 2-core machine two threads ran the tiny "
                         "CNN 15-30x slower; memory, not speed, is what this measures)")
    ap.add_argument("--table", type=int, metavar="N", help="only measure the app's table model for N rows")
    a = ap.parse_args(argv)
    if a.table:
        print(f"the app's table of {a.table} rows holds {table_memory(a.table):.1f} MB (Python objects, tracemalloc)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        model = a.model or tiny_model(base)
        results = []
        for n in a.sizes:
            folder = base / f"files{n}"
            t0 = time.monotonic()
            make_files(folder, n)
            made = time.monotonic() - t0
            code = CHILD.format(root=str(ROOT), model=str(model), folder=str(folder), threads=a.threads)
            env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="4294967296", MALLOC_TRIM_THRESHOLD_="4294967296")
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append((n, r))
            print(f"{n:>6} files (written in {made:.0f} s): model loaded {r['loaded_mb']:.0f} MB peak RSS; after the "
                  f"folder {r['peak_mb']:.0f} MB (+{r['peak_mb'] - r['loaded_mb']:.0f} MB); {r['seconds']:.0f} s, "
                  f"{r['files'] / r['seconds']:.0f} files/s; {r['unreadable']} unreadable listed; "
                  f"{r['messages']} messages, longest line {r['longest_line'] / 1024:.0f} KiB", flush=True)
        if len(results) >= 2:
            (n0, r0), (n1, r1) = results[0], results[-1]
            print(f"peak RSS grew {r1['peak_mb'] - r0['peak_mb']:+.0f} MB from {n0} to {n1} files "
                  f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
