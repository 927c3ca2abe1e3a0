"""Accuracy of the auto recipe vs the baselines in shared/ASSETS.md, on real data.

Fashion-MNIST (EfficientNet-Lite0) and Fortunes topics (MiniLM) with N examples per class
for training (the engine carves its own validation split out of them) and a separate,
balanced held-out test set. For every row and seed, the two ASSETS.md baselines ("frozen
features + logistic regression" and "full fine-tune") are measured in the same run on the
same files (accuracy_baselines.py); the ASSETS.md figures are shown beside them.

    python -m benchmarks.accuracy            # every row, ~75 min on 2 cores
    python -m benchmarks.accuracy --image 10 --text --seeds 3 4 5 --merge   # add samples to the table

Rows at 10 per class use six samples, larger rows three (--big-seeds): at 10 per class the
mean of three samples moved by about 2 points between two sets of seeds, more than any
recipe change measured there.
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


def held_out_accuracy(run_dir: str, test_dir: Path, which: str = "best") -> float:
    from engine.inference import Predictor

    pred = Predictor.from_run(run_dir, which=which)
    paths, labels = [], []
    for d in sorted(p for p in test_dir.iterdir() if p.is_dir()):
        for f in sorted(d.iterdir()):
            paths.append(str(f))
            labels.append(d.name)
    out = pred.predict_paths(paths, top_k=1)
    right = sum(1 for o, y in zip(out, labels) if "top" in o and o["top"][0][0] == y)
    return 100.0 * right / len(labels)


def run_one(modality: str, per_class: int, work: Path, extra: dict, seed: int = 0,
            baselines: bool = False) -> dict:
    """Our auto recipe on one sample (seed) of N per class; with baselines=True also the two baselines."""
    from engine.config import RunConfig
    from engine.train import train

    make = fashion_split if modality == "image" else fortunes_split
    train_dir, test_dir = make(work / f"{modality}-{per_class}-s{seed}", per_class, seed=seed)
    cfg = RunConfig(data=[str(train_dir)], test_fraction=0.0, seed=seed, runs_root=str(work / "runs"),
                    name=f"{modality}-{per_class}-s{seed}", **{"val_fraction": 0.15, **extra})
    t0, c0 = time.monotonic(), time.process_time()
    result = train(cfg)
    wall, cpu = time.monotonic() - t0, time.process_time() - c0
    acc = held_out_accuracy(result["run_dir"], test_dir)
    resolved = json.loads((Path(result["run_dir"]) / "config.json").read_text())
    last = json.loads((Path(result["run_dir"]) / "checkpoints" / "last" / "state.json").read_text())
    selection = _selection(Path(result["run_dir"]), test_dir)
    probe, ft = BASELINES.get((modality, per_class), (None, None))
    measured = {}
    if baselines:
        from .accuracy_baselines import BASELINES as MEASURE

        for kind, fn in zip(("probe", "finetune"), MEASURE[modality]):
            measured[kind] = fn(train_dir, test_dir, seed=seed)
    return {"modality": modality, "per_class": per_class, "seed": seed, "accuracy": round(acc, 1),
            "measured_at": time.strftime("%Y-%m-%d %H:%M"),
            "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "measured": measured,
            "baseline_probe": probe, "baseline_finetune": ft, "selection": selection,
            "backbone": resolved["backbone"], "freeze": resolved["freeze"], "epochs": resolved["epochs"],
            "epochs_run": last["loop"]["epoch"], "best_epoch": last["loop"]["best_epoch"],
            "input_size": resolved.get("input_size"), "max_length": resolved.get("max_length"), "lr": resolved["lr"]}


def _selection(run_dir: Path, test_dir: Path) -> dict | None:
    """The run's probe-or-fine-tune decision, with both candidates' held-out accuracy where both are on disk
    (a fine-tune that won and was refitted on train + validation is scored as refitted)."""
    path = run_dir / "contender.json"
    if not path.is_file():
        return None
    info = json.loads(path.read_text())
    cps = run_dir / "checkpoints"
    simple = info.get("simple") or {}
    out = {"winner": info.get("winner")}
    if info.get("network_winner"):  # the simple model won: which network it replaced
        out["network_winner"] = info["network_winner"]
    if simple:  # the simple contender (engine/classical): its validation figure, and its own held-out score
        out["simple_val"] = (simple.get("val") or {}).get("val_accuracy")
        out["simple_p"] = simple.get("p_value")
        if (cps / "simple").is_dir():
            out["simple_test"] = round(held_out_accuracy(str(run_dir), test_dir, "simple"), 1)
    if "probe" not in info:
        return out
    network_dir = "network" if info.get("winner") == "simple model" and (cps / "network").is_dir() else "best"
    ft = "finetune" if (cps / "finetune").is_dir() else network_dir
    out.update({"probe_val": info["probe"]["val"].get("val_accuracy"),
                "finetune_val": ((info.get("fine_tune") or {}).get("val") or {}).get("val_accuracy"),
                "probe_test": round(held_out_accuracy(str(run_dir), test_dir, "probe"), 1)})
    if info.get("disagreements"):  # the probe scored higher: its McNemar test against the fine-tune
        out["probe_disagreements"] = info["disagreements"]
    if info.get("network_winner", info.get("winner")) != "linear probe" or ft == "finetune":
        out["finetune_test"] = round(held_out_accuracy(str(run_dir), test_dir, ft), 1)
        out["finetune_refit"] = ft == "best" and (run_dir / "refit.json").is_file()
    return out


def _better(r: dict) -> float:
    return max(r["measured"][k]["accuracy"] for k in ("probe", "finetune"))


def summarise(rows: list[dict]) -> list[dict]:
    """Mean over seeds per (modality, N): ours, each measured baseline, CPU seconds."""
    out = []
    for key in dict.fromkeys((r["modality"], r["per_class"]) for r in rows):
        rs = [r for r in rows if (r["modality"], r["per_class"]) == key]
        mean = lambda xs: round(float(np.mean(xs)), 1)  # noqa: E731
        s = {"modality": key[0], "per_class": key[1], "seeds": [r["seed"] for r in rs],
             "accuracy": mean([r["accuracy"] for r in rs]), "cpu_s": mean([r["cpu_s"] for r in rs]),
             "min_accuracy": min(r["accuracy"] for r in rs), "max_accuracy": max(r["accuracy"] for r in rs),
             "assets": (rs[0]["baseline_probe"], rs[0]["baseline_finetune"]), "recipe": rs[0]}
        if all(r["measured"] for r in rs):
            for k in ("probe", "finetune"):
                s[k] = mean([r["measured"][k]["accuracy"] for r in rs])
                s[k + "_cpu_s"] = mean([r["measured"][k]["cpu_s"] for r in rs])
            s["better"] = max(s["probe"], s["finetune"])
            s["wins"] = sum(r["accuracy"] >= _better(r) for r in rs)
        out.append(s)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", type=int, nargs="*", default=[10, 50, 200])
    p.add_argument("--text", type=int, nargs="*", default=[10, 50, 150])
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4, 5],
                   help="data samples (and engine seeds) per row; the small rows vary most between samples")
    p.add_argument("--big-seeds", type=int, default=3, metavar="K",
                   help="rows above 20 per class use only the first K seeds (they vary less and cost 5-50x more)")
    p.add_argument("--no-baselines", action="store_true", help="skip measuring the baselines (ours only)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="RunConfig overrides (JSON values)")
    p.add_argument("--merge", action="store_true",
                   help="keep the rows already in --out and replace only the samples measured now")
    p.add_argument("--out", default="benchmarks/accuracy.json")
    p.add_argument("--md", default="benchmarks/ACCURACY.md", help="markdown table of the same rows ('' = none)")
    p.add_argument("--render", action="store_true",
                   help="measure nothing: write --md again from the rows in --out (after editing ACCURACY_NOTES.md)")
    a = p.parse_args(argv)
    extra = {k: json.loads(v) for k, v in (s.split("=", 1) for s in a.set)}
    if a.render:
        _write_markdown(a.md, render_markdown(json.loads(Path(a.out).read_text()), extra))
        return 0
    kept = json.loads(Path(a.out).read_text()) if a.merge and Path(a.out).is_file() else []
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for modality, sizes in (("image", a.image), ("text", a.text)):
            for n in sizes:
                for seed in (a.seeds if n <= 20 else a.seeds[:a.big_seeds]):
                    rows.append(run_one(modality, n, Path(tmp), extra, seed=seed, baselines=not a.no_baselines))
                    r, m = rows[-1], rows[-1]["measured"]
                    base = (f"probe {m['probe']['accuracy']:5.1f}%  fine-tune {m['finetune']['accuracy']:5.1f}%  "
                            if m else "")
                    sel = r.get("selection") or {}
                    if sel:
                        base += (f"kept {sel['winner']} (probe {sel['probe_test']:.1f}%, fine-tune "
                                 f"{sel.get('finetune_test', float('nan')):.1f}% on test)  ")
                    print(f"{modality:5} {n:4}/class seed {seed}  ours {r['accuracy']:5.1f}%  {base}"
                          f"wall {r['wall_s']:.0f} s  (freeze {r['freeze']}, {r['epochs']} epochs max, "
                          f"best {r['best_epoch']} of {r['epochs_run']}, "
                          f"size {r['input_size'] or r['max_length']})", flush=True)
                    # a long run keeps what it measured
                    Path(a.out).write_text(json.dumps(merged(kept, rows), indent=2) + "\n")
    if a.md:
        _write_markdown(a.md, render_markdown(merged(kept, rows), extra))
    return 0


def _write_markdown(path: str, text: str) -> None:
    """ACCURACY.md again, keeping the wide suite's section (suite_accuracy.py writes that one)."""
    from .suite_report import carry_block

    p = Path(path)
    p.write_text(carry_block(p.read_text(), text) if p.is_file() else text)


def merged(kept: list[dict], new: list[dict]) -> list[dict]:
    """`kept` with every (data, N, seed) measured again replaced by its new row; sorted for the table.

    A new row measured without baselines keeps the baselines measured before on the same files."""
    key = lambda r: (r["modality"], r["per_class"], r["seed"])  # noqa: E731
    rows = {key(r): r for r in kept}
    for r in new:
        old = rows.get(key(r))
        if not r["measured"] and old and old.get("measured"):
            # --no-baselines: the baselines depend only on the files (the seed), not on the recipe
            r = {**r, "measured": old["measured"],
                 "baselines_measured_at": old.get("baselines_measured_at", old.get("measured_at"))}
        rows[key(r)] = r
    order = {"image": 0, "text": 1}
    return sorted(rows.values(), key=lambda r: (order.get(r["modality"], 2), r["per_class"], r["seed"]))


def _span(times) -> str:
    """"first to last" of the given times ("first" alone when they are all the same; "" for none)."""
    times = sorted(t for t in times if t)
    return " to ".join(dict.fromkeys([times[0], times[-1]])) if times else ""


def render_markdown(rows: list[dict], extra: dict) -> str:
    """Means over seeds beside the baselines measured on the same files; the analysis lives in ACCURACY_NOTES.md."""
    import os
    import platform

    import torch

    from .accuracy_baselines import IMAGE_SIZE, IMAGE_STEPS, TEXT_STEPS

    measured_at = _span(r.get("measured_at") for r in rows) or "an unrecorded time"
    lines = ["# Accuracy of the auto recipe vs the ASSETS.md baselines", "",
             "## Fashion-MNIST and Fortunes: the rows the recipe was first tuned on", "",
             f"Measured by `python -m benchmarks.accuracy` on {measured_at}; "
             f"{os.cpu_count()} CPU cores, torch {torch.__version__}, Python {platform.python_version()}, "
             f"device {'cuda' if torch.cuda.is_available() else 'cpu'}. Do not edit by hand.", "",
             "Each seed draws its own N training examples per class (the engine carves its own 15% validation "
             "split out of them; the baselines train on all N) and its own balanced held-out test set "
             "(Fashion-MNIST: 100 per class from t10k; Fortunes: up to 50 per topic). Both baselines are "
             "measured in this run on exactly the same files (`benchmarks/accuracy_baselines.py`: frozen "
             f"features + logistic regression; full fine-tune, {IMAGE_STEPS} steps at {IMAGE_SIZE} px / "
             f"{TEXT_STEPS} steps); the figures ASSETS.md published for its own split are shown for reference. "
             "Accuracy and CPU seconds are means over the seeds.", ""]
    carried = _span(r.get("baselines_measured_at") for r in rows)
    if carried:
        lines += [f"Where only the auto recipe was measured again (`--no-baselines --merge`), the baselines are "
                  f"those measured on the same files ({carried}).", ""]
    if extra:
        lines += [f"Overrides: `{json.dumps(extra)}`", ""]
    lines += ["| data | N/class | seeds | ours % (min-max) | frozen + logreg % | full fine-tune % | "
              "ours / better baseline | seeds ours >= better | ASSETS.md logreg / FT % | ours CPU s | "
              "fine-tune CPU s | CPU ours / fine-tune | recipe |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summarise(rows):
        data = "Fashion-MNIST (10 classes)" if s["modality"] == "image" else "Fortunes (8 topics)"
        r = s["recipe"]
        recipe = (f"{r['backbone']}, freeze {r['freeze']}, {r['epochs']} epochs max, "
                  f"{'size' if r['input_size'] else 'tokens'} {r['input_size'] or r['max_length']}")
        if "better" in s:
            measured = (f"{s['probe']} | {s['finetune']} | {s['accuracy'] / s['better']:.3f} | "
                        f"{s['wins']}/{len(s['seeds'])}")
            ft_cpu = f"{s['finetune_cpu_s']:.0f} | {s['cpu_s'] / max(1e-9, s['finetune_cpu_s']):.2f}"
        else:
            measured, ft_cpu = "- | - | - | -", "- | -"
        lines.append(f"| {data} | {s['per_class']} | {len(s['seeds'])} | **{s['accuracy']:.1f}** "
                     f"({s['min_accuracy']:.1f}-{s['max_accuracy']:.1f}) | {measured} | "
                     f"{s['assets'][0]} / {s['assets'][1]} | {s['cpu_s']:.0f} | {ft_cpu} | {recipe} |")
    lines += ["", "Per seed (safety net: the model the run kept, and the held-out accuracy of its linear probe and its "
              "fine-tune; '-' where the run predates it):", "",
              "| data | N/class | seed | ours % | logreg % | fine-tune % | ours CPU s | "
              "logreg CPU s | fine-tune CPU s | best epoch / epochs run | kept (probe / fine-tune %) |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m = r["measured"]
        cells = (f"{m['probe']['accuracy']} | {m['finetune']['accuracy']} | {r['cpu_s']:.0f} | "
                 f"{m['probe']['cpu_s']:.0f} | {m['finetune']['cpu_s']:.0f}") if m else f"- | - | {r['cpu_s']:.0f} | - | -"
        epochs = f"{r['best_epoch']} / {r['epochs_run']}" if r.get("epochs_run") else "-"
        sel = r.get("selection") or {}
        kept = (f"{'probe' if sel.get('winner') == 'linear probe' else 'FT'} ({sel.get('probe_test', '-')} / "
                f"{sel.get('finetune_test', '-')})") if sel else "-"
        lines.append(f"| {r['modality']} | {r['per_class']} | {r['seed']} | {r['accuracy']} | {cells} | {epochs} | {kept} |")
    notes = Path(__file__).with_name("ACCURACY_NOTES.md")
    if notes.is_file():
        lines += ["", notes.read_text().rstrip()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
