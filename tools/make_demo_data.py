"""Build the bundled demo data in resources/demo/ from packages already on this machine.

- images/<class>/NNN.png: 60 Fashion-MNIST training images (28x28 grey) for each of 5
  classes, from Debian's dataset-fashion-mnist (MIT, Zalando Research);
- text/<topic>/NNN.txt: 60 fortunes for each of 4 topics, from Debian's fortunes /
  fortunes-min (BSD), skipping very short and very long entries.
Deterministic: the same seed picks the same examples and writes the same bytes.
Usage: .venv/bin/python tools/make_demo_data.py [--out resources/demo] [--seed 0]
"""
from __future__ import annotations

import argparse
import gzip
import random
import shutil
import struct
from pathlib import Path

import numpy as np
from PIL import Image

FASHION = Path("/usr/share/datasets/fashion-mnist")
FORTUNES = Path("/usr/share/games/fortunes")
FASHION_CLASSES = {0: "T-shirt_top", 1: "Trouser", 7: "Sneaker", 8: "Bag", 9: "Ankle_boot"}
TOPICS = ("computers", "food", "law", "science")
PER_CLASS = 60
MIN_CHARS, MAX_CHARS = 60, 600


def read_idx(images_gz: Path, labels_gz: Path) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(images_gz, "rb") as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 2051, f"{images_gz} is not an IDX image file"
        images = np.frombuffer(f.read(n * rows * cols), dtype=np.uint8).reshape(n, rows, cols)
    with gzip.open(labels_gz, "rb") as f:
        magic, n_labels = struct.unpack(">II", f.read(8))
        assert magic == 2049 and n_labels == n, f"{labels_gz} does not match {images_gz}"
        labels = np.frombuffer(f.read(n), dtype=np.uint8)
    return images, labels


def make_images(out: Path, rng: random.Random) -> None:
    images, labels = read_idx(FASHION / "train-images-idx3-ubyte.gz", FASHION / "train-labels-idx1-ubyte.gz")
    for label, name in FASHION_CLASSES.items():
        idx = sorted(rng.sample([int(i) for i in np.flatnonzero(labels == label)], PER_CLASS))
        folder = out / name
        folder.mkdir(parents=True)
        for k, i in enumerate(idx):
            Image.fromarray(images[i], mode="L").save(folder / f"{k:03d}.png", optimize=True)


def fortunes(topic: str) -> list[str]:
    raw = (FORTUNES / topic).read_bytes().decode("utf-8", errors="replace")
    entries, cur = [], []
    for line in raw.splitlines():
        if line.strip() == "%":
            entries.append("\n".join(cur).strip())
            cur = []
        else:
            cur.append(line.rstrip())
    entries.append("\n".join(cur).strip())
    seen, keep = set(), []
    for e in entries:
        if MIN_CHARS <= len(e) <= MAX_CHARS and e not in seen:
            seen.add(e)
            keep.append(e)
    return keep


def make_text(out: Path, rng: random.Random) -> None:
    for topic in TOPICS:
        pool = fortunes(topic)
        if len(pool) < PER_CLASS:
            raise SystemExit(f"{FORTUNES / topic} has only {len(pool)} usable fortunes")
        chosen = sorted(rng.sample(range(len(pool)), PER_CLASS))
        folder = out / topic
        folder.mkdir(parents=True)
        for k, i in enumerate(chosen):
            (folder / f"{k:03d}.txt").write_text(pool[i] + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "resources" / "demo"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    for sub in ("images", "text"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    make_images(out / "images", random.Random(f"{args.seed}:images"))
    make_text(out / "text", random.Random(f"{args.seed}:text"))
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
