"""Accuracy of the auto recipe vs the baselines in shared/ASSETS.md, on real data.

Fashion-MNIST (EfficientNet-Lite0) and Fortunes topics (MiniLM) with N examples per class
for training (the engine carves its own validation split out of them) and a separate,
balanced held-out test set. Prints our accuracy and CPU time beside the measured
baselines ("frozen features + logistic regression" and "full fine-tune").

    python -m benchmarks.accuracy --image 10 50 200 --text 10 50 150
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np

FMNIST = Path("/usr/share/datasets/fashion-mnist")
FORTUNES = Path("/usr/share/games/fortunes")
FMNIST_NAMES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                "Ankle_boot"]
TOPICS = ["art", "computers", "education", "food", "law", "literature", "politics", "science"]
BASELINES = {  # shared/ASSETS.md: (frozen features + logreg, full fine-tune)
    ("image", 10): (68.8, 75.0), ("image", 50): (79.6, 82.7), ("image", 200): (82.4, 86.3),
    ("text", 10): (61.3, 68.4), ("text", 50): (72.8, 68.1), ("text", 150): (78.8, 70.0),
}


def _idx(path: Path, header: int) -> np.ndarray:
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


def fashion_split(root: Path, per_class: int, test_per_class: int = 100, seed: int = 0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    for part, fname, n in (("train", "train", per_class), ("test", "t10k", test_per_class)):
        images = _idx(FMNIST / f"{fname}-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
        labels = _idx(FMNIST / f"{fname}-labels-idx1-ubyte.gz", 8)
        for c, name in enumerate(FMNIST_NAMES):
            idx = rng.choice(np.flatnonzero(labels == c), n, replace=False)
            d = root / part / name
            d.mkdir(parents=True, exist_ok=True)
            for i in idx:
                Image.fromarray(images[i]).save(d / f"{i}.png")
    return root / "train", root / "test"


def fortunes_split(root: Path, per_class: int, test_per_class: int = 50, seed: int = 0):
    rnd = random.Random(seed)
    for topic in TOPICS:
        text = (FORTUNES / topic).read_text(encoding="utf-8", errors="replace")
        entries = [e.strip() for e in text.split("\n%\n") if len(e.strip()) > 20]
        rnd.shuffle(entries)
        n_test = min(test_per_class, len(entries) // 3)
        parts = {"test": entries[:n_test], "train": entries[n_test:n_test + per_class]}
        for part, items in parts.items():
            d = root / part / topic
            d.mkdir(parents=True, exist_ok=True)
            for i, e in enumerate(items):
                (d / f"{i}.txt").write_text(e, encoding="utf-8")
    return root / "train", root / "test"


def held_out_accuracy(run_dir: str, test_dir: Path) -> float:
    from engine.inference import Predictor

    pred = Predictor.from_run(run_dir)
    paths, labels = [], []
    for d in sorted(p for p in test_dir.iterdir() if p.is_dir()):
        for f in sorted(d.iterdir()):
            paths.append(str(f))
            labels.append(d.name)
    out = pred.predict_paths(paths, top_k=1)
    right = sum(1 for o, y in zip(out, labels) if "top" in o and o["top"][0][0] == y)
    return 100.0 * right / len(labels)


def run_one(modality: str, per_class: int, work: Path, extra: dict) -> dict:
    from engine.config import RunConfig
    from engine.train import train

    make = fashion_split if modality == "image" else fortunes_split
    train_dir, test_dir = make(work / f"{modality}-{per_class}", per_class)
    cfg = RunConfig(data=[str(train_dir)], test_fraction=0.0, val_fraction=0.15,
                    runs_root=str(work / "runs"), name=f"{modality}-{per_class}", **extra)
    t0, c0 = time.monotonic(), time.process_time()
    result = train(cfg)
    wall, cpu = time.monotonic() - t0, time.process_time() - c0
    acc = held_out_accuracy(result["run_dir"], test_dir)
    resolved = json.loads((Path(result["run_dir"]) / "config.json").read_text())
    probe, ft = BASELINES.get((modality, per_class), (None, None))
    return {"modality": modality, "per_class": per_class, "accuracy": round(acc, 1), "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1), "baseline_probe": probe, "baseline_finetune": ft,
            "backbone": resolved["backbone"], "freeze": resolved["freeze"], "epochs": resolved["epochs"],
            "input_size": resolved.get("input_size"), "max_length": resolved.get("max_length"), "lr": resolved["lr"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", type=int, nargs="*", default=[10, 50, 200])
    p.add_argument("--text", type=int, nargs="*", default=[10, 50, 150])
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="RunConfig overrides (JSON values)")
    p.add_argument("--out", default="benchmarks/accuracy.json")
    p.add_argument("--md", default="benchmarks/ACCURACY.md", help="markdown table of the same rows ('' = none)")
    a = p.parse_args(argv)
    extra = {k: json.loads(v) for k, v in (s.split("=", 1) for s in a.set)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for modality, sizes in (("image", a.image), ("text", a.text)):
            for n in sizes:
                rows.append(run_one(modality, n, Path(tmp), extra))
                r = rows[-1]
                best = max(x for x in (r["baseline_probe"], r["baseline_finetune"]) if x is not None)
                print(f"{modality:5} {n:4}/class  ours {r['accuracy']:5.1f}%  best baseline {best:5.1f}%  "
                      f"ratio {r['accuracy'] / best:.3f}  wall {r['wall_s']:.0f} s  "
                      f"(freeze {r['freeze']}, {r['epochs']} epochs, size {r['input_size']})", flush=True)
    Path(a.out).write_text(json.dumps(rows, indent=2) + "\n")
    if a.md:
        Path(a.md).write_text(render_markdown(rows, extra))
    return 0


def render_markdown(rows: list[dict], extra: dict) -> str:
    """The rows as a table beside the ASSETS.md baselines; the analysis lives in ACCURACY_NOTES.md."""
    import os
    import platform

    import torch

    lines = ["# Accuracy of the auto recipe vs the ASSETS.md baselines", "",
             f"Generated by `python -m benchmarks.accuracy` on {time.strftime('%Y-%m-%d %H:%M')}; "
             f"{os.cpu_count()} CPU cores, torch {torch.__version__}, Python {platform.python_version()}, "
             f"device {'cuda' if torch.cuda.is_available() else 'cpu'}. Do not edit by hand.", "",
             "Training data: N examples per class (the engine carves its own 15% validation split out of "
             "them); accuracy on a separate balanced held-out test set (Fashion-MNIST: 100 per class from "
             "t10k, 1000 images; Fortunes: up to 50 per topic). Baselines: the figures measured on the same "
             "kind of split in `../shared/ASSETS.md`.", ""]
    if extra:
        lines += [f"Overrides: `{json.dumps(extra)}`", ""]
    lines += ["| data | N/class | ours % | frozen + logreg % | full fine-tune % | ours / best baseline | "
              "wall s | CPU s | backbone | freeze | epochs | input |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        best = max(x for x in (r["baseline_probe"], r["baseline_finetune"]) if x is not None)
        data = "Fashion-MNIST (10 classes)" if r["modality"] == "image" else "Fortunes (8 topics)"
        lines.append(f"| {data} | {r['per_class']} | **{r['accuracy']:.1f}** | {r['baseline_probe']} | "
                     f"{r['baseline_finetune']} | {r['accuracy'] / best:.3f} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | "
                     f"{r['backbone']} | {r['freeze']} | {r['epochs']} | {r.get('input_size') or r.get('max_length') or '-'} |")
    notes = Path(__file__).with_name("ACCURACY_NOTES.md")
    if notes.is_file():
        lines += ["", notes.read_text().rstrip()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
