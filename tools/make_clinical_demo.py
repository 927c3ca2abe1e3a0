"""Binary data for trying the clinical evaluation (issue 22), from packages already here.

- demo_binary/: the bundled demo images made binary (resources/demo/images: Sneaker vs
  Ankle_boot, 60 each);
- shirts/: a real, hard binary set from Fashion-MNIST's training file (Debian
  dataset-fashion-mnist, MIT): 360 T-shirt_top and 120 Shirt (the rarer class, positive by
  the default rule);
- shirts_site2/: the same two classes from the t10k file (150 / 50), with contrast lowered
  and a brightness offset: a second "site" whose images look different, as another scanner's;
- shirts_subgroups.csv / shirts_site2_subgroups.csv: path,brightness — each image's mean
  intensity band (low / mid / high), a real property of the pixels, as a subgroup attribute.
Deterministic for a seed. Usage: python tools/make_clinical_demo.py --out /tmp/clinical
"""
from __future__ import annotations

import argparse
import csv
import random
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from make_demo_data import FASHION, read_idx  # noqa: E402

PAIR = {0: "T-shirt_top", 6: "Shirt"}


def _band(img: np.ndarray) -> str:
    m = float(img.mean())
    return "low" if m < 70 else "mid" if m < 110 else "high"


def _write(out: Path, images, labels, counts: dict[int, int], rng: random.Random, shift: bool) -> list[list[str]]:
    rows = []
    for label, n in counts.items():
        idx = sorted(rng.sample([int(i) for i in np.flatnonzero(labels == label)], n))
        folder = out / PAIR[label]
        folder.mkdir(parents=True)
        for k, i in enumerate(idx):
            img = images[i].astype(np.float32)
            if shift:  # another "scanner": lower contrast, brighter background
                img = np.clip(img * 0.6 + 60, 0, 255)
            img = img.astype(np.uint8)
            path = folder / f"{k:03d}.png"
            Image.fromarray(img, mode="L").save(path, optimize=True)
            rows.append([str(path.relative_to(out.parent)), _band(img)])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/clinical")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    for sub in ("demo_binary", "shirts", "shirts_site2"):
        shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("Sneaker", "Ankle_boot"):
        shutil.copytree(ROOT / "resources" / "demo" / "images" / name, out / "demo_binary" / name)
    train = read_idx(FASHION / "train-images-idx3-ubyte.gz", FASHION / "train-labels-idx1-ubyte.gz")
    test = read_idx(FASHION / "t10k-images-idx3-ubyte.gz", FASHION / "t10k-labels-idx1-ubyte.gz")
    for name, (images, labels), counts, shift in (("shirts", train, {0: 360, 6: 120}, False),
                                                  ("shirts_site2", test, {0: 150, 6: 50}, True)):
        rows = _write(out / name, images, labels, counts, random.Random(f"{args.seed}:{name}"), shift)
        with open(out / f"{name}_subgroups.csv", "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([["path", "brightness"]] + rows)
    print(f"wrote {out}: demo_binary/, shirts/, shirts_site2/ and their subgroup CSVs")


if __name__ == "__main__":
    main()
