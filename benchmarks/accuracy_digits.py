"""The auto recipe on data unlike ASSETS.md's: scikit-learn's bundled handwritten digits (8x8 px).

ImageNet backbones never saw images this small, so a plain logistic regression on the 64
pixels is a strong baseline here; this checks that the recipe holds up where transfer
learning is at its weakest. Each seed draws N training images per class and 50 test images
per class from the 1,797 digits; both methods get the same files.

    python -m benchmarks.accuracy_digits --per-class 10 50 --seeds 0 1 2   # ~5 min on 2 cores
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def digits_split(root: Path, per_class: int, seed: int, test_per_class: int = 50):
    """PNG folders per digit; returns (train dir, test dir, train indices, test indices)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(d.target == c))
        train += list(idx[:per_class])
        test += list(idx[per_class:per_class + test_per_class])
    for part, ids in (("train", train), ("test", test)):
        for i in ids:
            folder = root / part / f"digit_{d.target[i]}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray((d.images[i] * 255 / 16).astype(np.uint8)).save(folder / f"{i}.png")
    return root / "train", root / "test", d.data[train], d.target[train], d.data[test], d.target[test]


def pixel_logreg(xtr, ytr, xte, yte) -> float:
    from sklearn.linear_model import LogisticRegression

    return 100.0 * float((LogisticRegression(max_iter=5000).fit(xtr, ytr).predict(xte) == yte).mean())


def main(argv=None) -> int:
    from engine.config import RunConfig
    from engine.train import train

    from .accuracy import held_out_accuracy

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-class", type=int, nargs="*", default=[10, 50])
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    a = p.parse_args(argv)
    print("| N/class | seed | ours % | pixels + logreg % | ours / baseline | epochs run (max) | ours CPU s |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in a.per_class:
            for seed in a.seeds:
                tr, te, *arrays = digits_split(Path(tmp) / f"{n}-{seed}", n, seed)
                c0 = time.process_time()
                out = train(RunConfig(data=[str(tr)], test_fraction=0.0, seed=seed, runs_root=f"{tmp}/runs",
                                      name=f"{n}-{seed}"), reporter=lambda m: None)
                cpu = time.process_time() - c0
                ours, base = held_out_accuracy(out["run_dir"], te), pixel_logreg(*arrays)
                run = Path(out["run_dir"])
                ran = json.loads((run / "checkpoints" / "last" / "state.json").read_text())["loop"]["epoch"]
                cfg = json.loads((run / "config.json").read_text())
                print(f"| {n} | {seed} | {ours:.1f} | {base:.1f} | {ours / base:.3f} | {ran} ({cfg['epochs']}) "
                      f"| {cpu:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
