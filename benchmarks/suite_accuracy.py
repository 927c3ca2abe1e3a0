"""The auto recipe vs both baselines on the wide suite (issue 19, section 2), half by half.

For every task of benchmarks/suite_tasks.py x training size (10 / 50 / 200 per class, where the
task can give it) x seed, and every imbalanced row x seed: write that seed's train/test folders
(suite_tasks.materialise), train the engine's auto recipe on the train folder exactly as
benchmarks/accuracy.py's run_one does (RunConfig(data=[train], test_fraction=0.0, seed=seed,
val_fraction=0.15), nothing else), score the saved model on the balanced test folder
(accuracy, balanced accuracy, every class's recall), record the safety net's decision with both
candidates' held-out accuracy (accuracy._selection), then measure both baselines of
accuracy_baselines.py on exactly the same files. Each row is written to --out as soon as it is
measured.

    python -m benchmarks.suite_accuracy --half confirmation --sizes 10 200 --seeds 0 --imbalanced
    python -m benchmarks.suite_accuracy --tasks digits --sizes 50 --seeds 1 2 --merge
    python -m benchmarks.suite_accuracy --render          # SUITE_ACCURACY.md again from the json

A size a task cannot give (suite_tasks.capacity over seeds 0-5, as SUITE.md's "sizes possible")
is replaced by the largest of 10 / 50 / 200 it can. The test sets are balanced, so a baseline's
accuracy is also its balanced accuracy; the baselines return no per-class figures, so the
smallest class's recall is reported for the auto recipe only.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

from . import suite_tasks as st
from .accuracy import _selection
from .suite_ablation import parse_overrides
from .suite_report import _key, _kept, render_markdown, write_accuracy_block

SIZES = (10, 50, 200)


# ------------------------------------------------------------------------------ measuring
def possible_sizes(task: str) -> list[int]:
    """The sizes every class of the task can give at any of seeds 0-5 (SUITE.md's 'sizes possible')."""
    t = st.TASKS[task]
    most = min(left for seed in st.SEEDS
               for _, left in st.capacity(st.examples(task), t.test_per_class, seed, task, t.test_per_group).values())
    return [n for n in SIZES if most >= n]


def _sizes_for(task: str, asked: list[int]) -> list[int]:
    """Each asked size, or the largest possible size below it where the task cannot give it (no repeats)."""
    ok = possible_sizes(task)
    fit = [n if n in ok else max([m for m in ok if m <= n] or [0]) for n in asked]
    return list(dict.fromkeys(n for n in fit if n))


def held_out_scores(run_dir: str, test_dir: Path, train_dir: Path, which: str = "best") -> dict:
    """Accuracy, balanced accuracy and every class's recall of a saved model on the test folder;
    'minority_recall' is the lowest recall among the classes with the fewest training files."""
    from engine.inference import Predictor

    pred = Predictor.from_run(run_dir, which=which)
    paths, labels = [], []
    for d in sorted(p for p in test_dir.iterdir() if p.is_dir()):
        for f in sorted(d.iterdir()):
            paths.append(str(f))
            labels.append(d.name)
    out = {o["path"]: (o["top"][0][0] if "top" in o else None) for o in pred.predict_paths(paths, top_k=1)}
    guesses = [out.get(p) for p in paths]
    classes = sorted(set(labels))
    recall = {c: 100.0 * sum(g == y for g, y in zip(guesses, labels) if y == c) / labels.count(c) for c in classes}
    train_n = {c: sum(1 for f in (train_dir / c).iterdir() if f.is_file()) for c in classes}
    rarest = min(train_n.values())
    minority = min(classes, key=lambda c: (train_n[c] != rarest, recall[c]))
    return {"accuracy": round(100.0 * sum(g == y for g, y in zip(guesses, labels)) / len(labels), 1),
            "balanced_accuracy": round(float(np.mean(list(recall.values()))), 1),
            "recall": {c: round(v, 1) for c, v in recall.items()}, "train_counts": train_n,
            "minority_class": minority, "minority_recall": round(recall[minority], 1),
            "test_counts": {c: labels.count(c) for c in classes}}


def sample_config(task: str, per_class: int | None, seed: int, work: Path, imbalanced: dict | None = None,
                  overrides: dict | None = None):
    """(RunConfig, train folder, test folder) of one suite sample, its files written under `work`: the auto
    recipe as accuracy.run_one runs it, no other flags (overrides: one rule switched, for suite_ablation.py)."""
    from engine.config import RunConfig

    tag = f"{imbalanced['name'] if imbalanced else task}-{per_class or 'imb'}-s{seed}"
    if imbalanced:
        train_dir, test_dir = st.materialise_imbalanced(imbalanced, work / tag, seed)
    else:
        train_dir, test_dir = st.materialise(task, work / tag, per_class, seed)
    cfg = RunConfig(data=[str(train_dir)], test_fraction=0.0, seed=seed, runs_root=str(work / "runs"), name=tag,
                    val_fraction=0.15, **(overrides or {}))
    return cfg, train_dir, test_dir


def run_row(task: str, per_class: int | None, seed: int, work: Path, imbalanced: dict | None = None,
            with_baselines: bool = True, overrides: dict | None = None, ours: bool = True) -> dict:
    from engine.train import train

    from .accuracy_baselines import BASELINES as MEASURE

    row = imbalanced["name"] if imbalanced else task
    cfg, train_dir, test_dir = sample_config(task, per_class, seed, work, imbalanced, overrides)

    def baselines() -> dict:
        return {kind: fn(train_dir, test_dir, seed=seed) for kind, fn in zip(("probe", "finetune"),
                                                                            MEASURE[st.TASKS[task].modality])}

    if not ours:  # the baselines alone, measured again on the same files (merged() keeps the recipe's figures)
        return {"row": row, "per_class": per_class, "seed": seed, "baselines_only": True,
                "baselines_measured_at": time.strftime("%Y-%m-%d %H:%M"), "measured": baselines()}
    t0, c0 = time.monotonic(), time.process_time()
    result = train(cfg)
    wall, cpu = time.monotonic() - t0, time.process_time() - c0
    run_dir = Path(result["run_dir"])
    scores = held_out_scores(str(run_dir), test_dir, train_dir)
    resolved = json.loads((run_dir / "config.json").read_text())
    last = json.loads((run_dir / "checkpoints" / "last" / "state.json").read_text())
    modality = st.TASKS[task].modality
    measured = baselines() if with_baselines else {}
    # the first run's last epoch as checkpoints/last holds it (unblended runs only: a blend is applied at saving),
    # so a rule "keep the last epoch rather than the best" can be judged on test without training again
    last_epoch = (held_out_scores(str(run_dir), test_dir, train_dir, which="last")["accuracy"]
                  if (resolved.get("finetune_blend") or 1) >= 1 and (run_dir / "checkpoints" / "last").is_dir()
                  else None)
    return {"row": row, "task": task, "half": st.HALVES[task], "modality": modality, "per_class": per_class,
            "counts": imbalanced["counts"] if imbalanced else None, "seed": seed, **scores,
            "measured_at": time.strftime("%Y-%m-%d %H:%M"), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "selection": _selection(run_dir, test_dir), "measured": measured, "overrides": overrides or {},
            "backbone": resolved["backbone"], "freeze": resolved["freeze"], "epochs": resolved["epochs"],
            "epochs_run": last["loop"]["epoch"], "best_epoch": last["loop"]["best_epoch"],
            "last_epoch_accuracy": last_epoch, "refit": bool(resolved.get("refit")),  # for suite_plans.py
            "input_size": resolved.get("input_size"), "max_length": resolved.get("max_length"), "lr": resolved["lr"]}


def merged(kept: list[dict], new: list[dict]) -> list[dict]:
    """`kept` with every (row, N, seed) measured again replaced; a new row measured without baselines
    keeps the baselines measured before on the same files (they depend on the files only); baselines
    measured alone (--baselines-only) replace only the baselines of the sample they were measured for."""
    rows = {_key(r): r for r in kept}
    for r in new:
        old = rows.get(_key(r))
        if r.get("baselines_only"):
            if old:
                rows[_key(r)] = {**old, "measured": r["measured"], "baselines_measured_at": r["baselines_measured_at"]}
            continue
        if not r["measured"] and old and old.get("measured"):
            r = {**r, "measured": old["measured"],
                 "baselines_measured_at": old.get("baselines_measured_at", old.get("measured_at"))}
        rows[_key(r)] = r
    return sorted(rows.values(), key=lambda r: (r["half"], r["counts"] is not None, r["modality"], r["row"],
                                                r["per_class"] or 0, r["seed"]))


# ------------------------------------------------------------------------------ command line
def plan(tasks: list[str], sizes: list[int], seeds: list[int], imbalanced: bool) -> list[tuple]:
    """(task, N, seed, imbalanced row) in measuring order: seed by seed (breadth first), balanced rows then
    imbalanced rows."""
    out = []
    for seed in seeds:
        for task in tasks:
            out += [(task, n, seed, None) for n in _sizes_for(task, sizes)]
        if imbalanced:
            out += [(row["task"], None, seed, row) for row in st.IMBALANCED if row["task"] in tasks]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="*", default=None, choices=sorted(st.TASKS), help="default: every task of --half")
    p.add_argument("--half", choices=("tuning", "confirmation", "all"), default="all")
    p.add_argument("--sizes", type=int, nargs="*", default=list(SIZES), help="per class; none: imbalanced rows only")
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    p.add_argument("--imbalanced", action="store_true", help="also the IMBALANCED rows of the chosen tasks")
    p.add_argument("--no-baselines", action="store_true", help="skip measuring the baselines (ours only)")
    p.add_argument("--baselines-only", action="store_true", help="measure the baselines again, and only for "
                   "samples already in --out (their recipe figures are kept); implies --merge")
    p.add_argument("--merge", action="store_true", help="keep the rows already in --out")
    p.add_argument("--skip-measured", action="store_true", help="with --merge: skip samples already in --out")
    p.add_argument("--stop-at", metavar="HH:MM", help="start no new sample after this local time")
    p.add_argument("--out", default="benchmarks/suite_accuracy.json")
    p.add_argument("--md", default="benchmarks/SUITE_ACCURACY.md", help="'' = no markdown")
    p.add_argument("--accuracy-md", default="benchmarks/ACCURACY.md", help="the file whose wide-suite section is "
                   "written again with --md ('' = none)")
    p.add_argument("--render", action="store_true", help="measure nothing: write --md again from --out")
    p.add_argument("--only-in", metavar="JSON", help="measure only the samples this file holds (a variant paired "
                                                     "with the suite's own samples)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one RunConfig setting (a rule switched; benchmarks/suite_ablation.py); needs --out")
    a = p.parse_args(argv)
    overrides = parse_overrides(a.set)
    if overrides and a.out == p.get_default("out"):
        raise SystemExit("--set measures a variant: give it its own --out (and --md ''), not the suite's file")
    if a.render:
        _write_markdown(a, json.loads(Path(a.out).read_text()))
        return 0
    tasks = a.tasks or sorted(n for n, h in st.HALVES.items() if a.half in ("all", h))
    tasks = [t for t in tasks if a.half in ("all", st.HALVES[t])]
    if a.baselines_only and (a.no_baselines or overrides or a.only_in):
        raise SystemExit("--baselines-only measures the baselines of the suite's own samples: no --no-baselines, "
                         "--set or --only-in with it")
    a.merge = a.merge or a.baselines_only
    kept = json.loads(Path(a.out).read_text()) if a.merge and Path(a.out).is_file() else []
    done = {_key(r) for r in kept} if a.skip_measured and not a.baselines_only else set()
    only = {_key(r) for r in json.loads(Path(a.only_in).read_text())} if a.only_in else None
    if a.baselines_only:
        only = {_key(r) for r in kept}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task, n, seed, imb in plan(tasks, a.sizes, a.seeds, a.imbalanced):
            if ((imb or {}).get("name", task), n or 0, seed) in done or (
                    only is not None and ((imb or {}).get("name", task), n or 0, seed) not in only):
                continue
            if a.stop_at and time.strftime("%H:%M") >= a.stop_at:
                print(f"{time.strftime('%H:%M')}: past --stop-at {a.stop_at}, starting nothing more", flush=True)
                break
            try:
                r = run_row(task, n, seed, Path(tmp), imbalanced=imb, with_baselines=not a.no_baselines,
                            overrides=overrides, ours=not a.baselines_only)
            except Exception:  # one failed sample must not cost the rest of a long campaign
                print(f"{time.strftime('%H:%M')} FAILED {(imb or {}).get('name', task)} {n or 'imb'} seed {seed}:\n"
                      f"{traceback.format_exc()}", flush=True)
                _clear(Path(tmp))
                continue
            rows.append(r)
            m = r["measured"]
            base = f"probe {m['probe']['accuracy']:5.1f}  fine-tune {m['finetune']['accuracy']:5.1f}  " if m else ""
            if r.get("baselines_only"):
                ours_line = ""
            else:
                sel = r["selection"] or {}
                ours_line = (f"ours {r['accuracy']:5.1f} (bal {r['balanced_accuracy']:5.1f}, {r['minority_class']} "
                             f"{r['minority_recall']:5.1f})  ")
                base += (f"kept {_kept(r)} (probe {sel.get('probe_test')}, FT {sel.get('finetune_test')})  "
                         f"cpu {r['cpu_s']:.0f} s  wall {r['wall_s']:.0f} s")
            print(f"{time.strftime('%H:%M')} {r.get('half', 'baselines'):12} {r['row']:26} {str(n or 'imb'):>4} "
                  f"seed {seed}  {ours_line}{base}", flush=True)
            Path(a.out).write_text(json.dumps(merged(kept, rows), indent=2) + "\n")  # a long run keeps its rows
            _clear(Path(tmp))
    if a.md and (rows or kept):
        _write_markdown(a, merged(kept, rows))
    return 0


def _write_markdown(a, rows: list[dict]) -> None:
    Path(a.md).write_text(render_markdown(rows))
    if a.accuracy_md:
        write_accuracy_block(rows, a.accuracy_md)


def _clear(tmp: Path) -> None:
    """Drop one sample's files and run between samples (a 200-per-class image run holds hundreds of MB)."""
    import shutil

    for p in tmp.iterdir():
        shutil.rmtree(p, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
