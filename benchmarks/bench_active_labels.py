"""Does "most useful first" save labels? A simulated person labeling Fashion-MNIST in rounds.

A pool of POOL training images and a balanced test set of TEST (Debian dataset-fashion-mnist,
shared/ASSETS.md) are drawn once (seed 0) and their frozen EfficientNet-Lite0 features extracted
once at 112 px (as ASSETS.md's probe; cached in tmp/: 7 min on the shared 2-core machine). Each simulated session
starts from START_PER_CLASS random labels per class (the seed draws them), then repeats: fit the
linear probe (standardised features + scikit-learn LogisticRegression, the ASSETS.md baseline),
score the test set, and "label" the next ROUND pool images in the queue's order - the
app's own `engine.labels.queue.order` ("useful": margin, each batch spread by k-center among
the 4x most uncertain) against a random order - until MAX_LABELS labels.

The target accuracy was fixed before any result was seen: what random order reaches at its last
round (MAX_LABELS labels, mean over seeds) minus 1 point. "Labels needed" is the first round at
which the mean curve reaches it; the goal (issue 25) is at least 30 % fewer with "useful". Variants
(entropy instead of margin; no diversity) are measured beside it, all reported.

    nice -n 5 python -m benchmarks.bench_active_labels          # writes benchmarks/ACTIVE_LABELS.md
    python -m benchmarks.bench_active_labels --seeds 0 --max-labels 400   # a quick look
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
POOL, TEST_PER_CLASS = 5000, 100
START_PER_CLASS, ROUND, MAX_LABELS = 20, 50, 1000
CACHE = ROOT / "tmp" / "bench_active_labels_features.npz"
OUT_MD = Path(__file__).with_name("ACTIVE_LABELS.md")
STRATEGIES = {  # name -> keyword arguments of queue.order (None: random order)
    "random": None,
    "margin + k-center (first default)": {"measure": "margin", "diversity": "kcenter"},
    "margin only": {"measure": "margin", "diversity": None},
    "entropy + k-center": {"measure": "entropy", "diversity": "kcenter"},
    "useful: margin + confusion round-robin (default)": {"measure": "margin", "diversity": "confusions"},
}
MAIN = "useful: margin + confusion round-robin (default)"
HISTORY = """## How the default was chosen (read this before the numbers)

The first default was margin + k-center (the issue's example). On seeds 0-2 it needed 22 % fewer
labels than random: the goal was **not met**. Two variants the issue names were measured (entropy
instead of margin; no diversity), and one more was designed after seeing those results: k-center's
farthest-point picks reach for atypical images at the edge of the uncertain pool, so the batch is
spread instead over *confusions* (the pair of the two likeliest classes), taking the most uncertain
of each in turn. The rule, fixed before that variant's result was seen: the default is the variant
needing the fewest labels on seeds 0-2, a variant with diversity winning a tie within one round
(the issue asks that a batch not be all one kind). Margin only and confusion round-robin tied
(550 labels each); confusion round-robin became the default. Because it was picked on seeds 0-2,
its figure there is optimistic by selection; **the confirmation on fresh seeds below is the honest
figure**, measured after the choice with nothing changed.
"""


def _draw():
    """(pool images, pool labels, test images, test labels): seed 0, balanced test set."""
    from benchmarks.accuracy import FMNIST, _idx

    rng = np.random.default_rng(0)
    parts = {}
    for part, fname in (("train", "train"), ("test", "t10k")):
        parts[part] = (_idx(FMNIST / f"{fname}-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28),
                       _idx(FMNIST / f"{fname}-labels-idx1-ubyte.gz", 8))
    x, y = parts["train"]
    pool = rng.choice(len(y), POOL, replace=False)
    xt, yt = parts["test"]
    test = np.concatenate([rng.choice(np.flatnonzero(yt == c), TEST_PER_CLASS, replace=False) for c in range(10)])
    return x[pool], y[pool], xt[test], yt[test]


def _features(images: np.ndarray) -> np.ndarray:
    """Frozen Lite0 features at 112 px through accuracy_baselines' own model and transform."""
    import torch
    from PIL import Image

    from benchmarks.accuracy_baselines import _image_model, _image_tensors

    spec, model = _image_model(10)
    model.reset_classifier(0)
    model.eval()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for start in range(0, len(images), 250):
            items = []
            for i in range(start, min(start + 250, len(images))):
                p = Path(tmp) / f"{i}.png"
                Image.fromarray(images[i]).save(p)
                items.append((p, 0))
            x, _ = _image_tensors(items, spec)
            with torch.inference_mode():
                out.append(torch.cat([model(b) for b in x.split(64)]).numpy())
            print(f"\r  features {min(start + 250, len(images))}/{len(images)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return np.concatenate(out).astype(np.float32)


def load_features(cache: Path = CACHE):
    """(pool features, pool labels, test features, test labels, seconds it took to extract them)."""
    if cache.is_file():
        d = np.load(cache)
        return d["pool"], d["pool_y"], d["test"], d["test_y"], float(d["seconds"])
    t0 = time.monotonic()
    xp, yp, xt, yt = _draw()
    feats = _features(np.concatenate([xp, xt]))
    seconds = time.monotonic() - t0
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, pool=feats[:POOL], pool_y=yp, test=feats[POOL:], test_y=yt, seconds=seconds)
    return feats[:POOL], yp, feats[POOL:], yt, seconds


def _probe(x, y):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y)


def session(pool, pool_y, test, test_y, strategy: dict | None, seed: int, max_labels: int) -> list[tuple[int, float]]:
    """One simulated person: [(labels used, test accuracy %)] after each round."""
    from engine.labels.queue import order

    rng = np.random.default_rng(seed)
    labeled = list(np.concatenate([rng.choice(np.flatnonzero(pool_y == c), START_PER_CLASS, replace=False)
                                   for c in range(10)]))
    curve = []
    while True:
        clf = _probe(pool[labeled], pool_y[labeled])
        curve.append((len(labeled), round(100.0 * float((clf.predict(test) == test_y).mean()), 2)))
        if len(labeled) >= max_labels:
            return curve
        taken = set(labeled)
        rest = np.array([i for i in range(len(pool_y)) if i not in taken])
        probs = clf.predict_proba(pool[rest])
        if strategy is None:
            ranked = order(probs, strategy="random", seed=seed * 1000 + len(labeled))
        else:
            ranked = order(probs, pool[rest], strategy="useful", seed=seed, batch=ROUND,
                           labeled_features=pool[labeled], diverse_batches=1, **strategy)
        labeled += [int(rest[j]) for j in ranked[:min(ROUND, max_labels - len(labeled))]]


def labels_needed(curve: list[tuple[int, float]], target: float) -> int | None:
    return next((n for n, acc in curve if acc >= target), None)


def mean_curve(curves: list[list[tuple[int, float]]]) -> list[tuple[int, float]]:
    return [(n, round(float(np.mean([c[i][1] for c in curves])), 2)) for i, (n, _) in enumerate(curves[0])]


def render(results: dict, target: float, seeds: list[int], extract_s: float, wall_s: float, max_labels: int,
           confirm: dict | None = None) -> str:
    means = {k: mean_curve(v) for k, v in results.items()}
    rnd = labels_needed(means["random"], target)
    lines = ["# Most useful first vs random order: labels saved (issue 25)", "",
             "Measured by `benchmarks/bench_active_labels.py` (see its docstring): Fashion-MNIST, a pool of "
             f"{POOL} training images and a balanced test set of {10 * TEST_PER_CLASS} (seed 0), frozen "
             "EfficientNet-Lite0 features at 112 px, a linear probe (standardised features + logistic "
             f"regression) refitted each round; {START_PER_CLASS} random labels per class to start, then rounds "
             f"of {ROUND} in the queue's order, up to {max_labels} labels; seeds {', '.join(map(str, seeds))} "
             "(each draws the starting labels and the random order). The queue is the app's own "
             "`engine.labels.queue.order`.", "",
             f"**Target** (fixed before any result was seen): random order's accuracy at {max_labels} labels, "
             f"mean over seeds, minus 1 point = **{target:.2f} %**.", "", HISTORY,
             *(_confirmation(confirm, max_labels) if confirm else []),
             "## Labels needed to reach the target (mean curve)", "",
             "| order | labels needed | fewer than random | per seed |", "|---|---|---|---|"]
    verdict = ""
    for name, curves in results.items():
        need = labels_needed(means[name], target)
        per_seed = [labels_needed(c, target) for c in curves]
        fewer = f"{100.0 * (1 - need / rnd):.0f} %" if need and rnd else "-"
        lines.append(f"| {name} | {need if need else f'not within {max_labels}'} | {fewer} | "
                     f"{', '.join(str(p) if p else '>' + str(max_labels) for p in per_seed)} |")
        if name == MAIN:
            saved = (1 - need / rnd) if need and rnd else None
            verdict = (f"Goal (at least 30 % fewer labels with the model's ordering): **"
                       f"{'met' if saved is not None and saved >= 0.30 else 'not met'}** - "
                       f"{MAIN} needs {need if need else f'more than {max_labels}'} labels, random {rnd}"
                       + (f" ({100 * saved:.0f} % fewer)." if saved is not None else "."))
    lines += ["", verdict, "", "## Test accuracy (%) against labels used, mean over seeds", ""]
    names = list(results)
    lines += ["| labels | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for i, (n, _) in enumerate(means["random"]):
        lines.append(f"| {n} | " + " | ".join(f"{means[k][i][1]:.1f}" for k in names) + " |")
    spread = {k: np.std([c[-1][1] for c in v]) for k, v in results.items()}
    lines += ["", "Spread across seeds at the last round (standard deviation, points): "
              + ", ".join(f"{k} {v:.1f}" for k, v in spread.items()) + ".", "",
              f"Feature extraction (once, cached): {extract_s:.0f} s; a session of 17 rounds takes about 100 s on "
              f"this shared 2-core machine (this invocation ran for {wall_s:.0f} s; curves kept from earlier "
              "invocations with --reuse are not re-timed).", ""]
    return "\n".join(lines)


def _confirmation(confirm: dict, max_labels: int) -> list[str]:
    """The chosen default against random on seeds that played no part in choosing it."""
    curves = confirm["curves"]
    means = {k: mean_curve(v) for k, v in curves.items()}
    target = round(means["random"][-1][1] - 1.0, 2)
    rnd, main = labels_needed(means["random"], target), labels_needed(means[MAIN], target)
    saved = (1 - main / rnd) if main and rnd else None
    out = [f"## Confirmation on fresh seeds {', '.join(map(str, confirm['seeds']))}", "",
           f"Target by the same rule on these seeds: **{target:.2f} %**.", "",
           "| order | labels needed | per seed | accuracy at 300 / 500 / 700 / 1000 labels |", "|---|---|---|---|"]
    for name in ("random", MAIN):
        per = [labels_needed(c, target) for c in curves[name]]
        at = {n: a for n, a in means[name]}
        out.append(f"| {name} | {labels_needed(means[name], target) or f'>{max_labels}'} | "
                   f"{', '.join(str(p) if p else '>' + str(max_labels) for p in per)} | "
                   f"{' / '.join(f'{at[n]:.1f}' for n in (300, 500, 700, 1000) if n in at)} |")
    out += ["", f"Goal (at least 30 % fewer labels than random) on fresh seeds: **"
            f"{'met' if saved is not None and saved >= 0.30 else 'not met'}**"
            + (f" ({100 * saved:.0f} % fewer: {main} labels against {rnd})." if saved is not None else "."), ""]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--max-labels", type=int, default=MAX_LABELS)
    ap.add_argument("--only", nargs="+", choices=list(STRATEGIES), help="strategies to run (default: all)")
    ap.add_argument("--out", default=str(OUT_MD), help="the markdown written (default benchmarks/ACTIVE_LABELS.md)")
    ap.add_argument("--confirm-seeds", type=int, nargs="*", default=[3, 4, 5],
                    help="fresh seeds on which the default is checked against random after the choice")
    ap.add_argument("--reuse", action="store_true",
                    help="keep the curves already in the .json beside --out (same seeds and labels); run the rest")
    args = ap.parse_args(argv)
    pool, pool_y, test, test_y, extract_s = load_features()
    t0 = time.monotonic()
    names = ["random"] + [k for k in STRATEGIES if k != "random" and (not args.only or k in args.only)]
    old = Path(args.out).with_suffix(".json")
    kept = json.loads(old.read_text(encoding="utf-8")) if args.reuse and old.is_file() else {}
    same = kept.get("seeds") == args.seeds and kept.get("max_labels", MAX_LABELS) == args.max_labels
    results = {}
    for name in names:
        if same and name in kept.get("curves", {}):
            results[name] = [[tuple(p) for p in c] for c in kept["curves"][name]]
            continue
        results[name] = []
        for seed in args.seeds:
            results[name].append(session(pool, pool_y, test, test_y, STRATEGIES[name], seed, args.max_labels))
            print(f"{name} seed {seed}: {results[name][-1][-1]} ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
    confirm = None
    if args.confirm_seeds:
        again = kept.get("confirm") or {}
        if not (same and again.get("seeds") == args.confirm_seeds):
            again = {"seeds": args.confirm_seeds, "curves": {
                name: [session(pool, pool_y, test, test_y, STRATEGIES[name], seed, args.max_labels)
                       for seed in args.confirm_seeds] for name in ("random", MAIN)}}
        confirm = again
    target = round(mean_curve(results["random"])[-1][1] - 1.0, 2)
    md = render(results, target, args.seeds, extract_s, time.monotonic() - t0, args.max_labels, confirm)
    Path(args.out).write_text(md, encoding="utf-8")
    Path(args.out).with_suffix(".json").write_text(json.dumps({"target": target, "seeds": args.seeds,
                                                               "max_labels": args.max_labels, "curves": results,
                                                               "confirm": confirm}, indent=1), encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
