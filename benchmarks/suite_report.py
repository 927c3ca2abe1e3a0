"""The wide suite's figures in words and tables: summaries per row and per half against issue 19's
goal, SUITE_ACCURACY.md, and the section of ACCURACY.md that shows both halves. Measuring lives in
suite_accuracy.py; nothing here trains."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import suite_choices
from . import suite_tasks as st
from .accuracy import _span

GOAL_WITHIN, GOAL_PROBE = 1.0, 2.0  # issue 19's goal, in points


def _key(r: dict) -> tuple:
    return r["row"], r["per_class"] or 0, r["seed"]


def _mean(xs) -> float:
    return round(float(np.mean(xs)), 1)


def _kept(r: dict) -> str:
    winner = (r.get("selection") or {}).get("winner")
    return {"linear probe": "probe", "fine-tune": "FT", "simple model": "simple", None: "-"}.get(winner, str(winner))


def summarise(rows: list[dict]) -> list[dict]:
    """One line per (row, N): means and minimum over seeds, baselines, gaps in points, the kept model per seed."""
    out = []
    for key in dict.fromkeys(_key(r)[:2] for r in rows):
        rs = sorted((r for r in rows if _key(r)[:2] == key), key=lambda r: r["seed"])
        s = {"row": key[0], "task": rs[0]["task"], "half": rs[0]["half"], "modality": rs[0]["modality"],
             "per_class": rs[0]["per_class"], "counts": rs[0]["counts"], "seeds": [r["seed"] for r in rs],
             "accuracy": _mean([r["accuracy"] for r in rs]), "min_accuracy": min(r["accuracy"] for r in rs),
             "balanced_accuracy": _mean([r["balanced_accuracy"] for r in rs]),
             "minority_recall": _mean([r["minority_recall"] for r in rs]),
             "min_minority_recall": min(r["minority_recall"] for r in rs),
             "cpu_s": _mean([r["cpu_s"] for r in rs]), "kept": [_kept(r) for r in rs]}
        if all(r.get("measured") for r in rs):
            for k in ("probe", "finetune"):
                s[k] = _mean([r["measured"][k]["accuracy"] for r in rs])
                s[k + "_cpu_s"] = _mean([r["measured"][k]["cpu_s"] for r in rs])
            s["better"] = max(s["probe"], s["finetune"])
            s["vs_better"] = round(s["accuracy"] - s["better"], 1)
            s["vs_probe"] = round(s["accuracy"] - s["probe"], 1)
        out.append(s)
    return out


def kept_counts(kept: list[str]) -> str:
    """['FT', 'probe', 'FT'] -> 'FT 2 / probe 1'."""
    counts = {k: kept.count(k) for k in dict.fromkeys(sorted(kept))}
    return " / ".join(f"{k} {n}" for k, n in counts.items())


def half_summary(lines: list[dict]) -> dict:
    """The goal's figures over one half's summary lines that have baselines."""
    b = [s for s in lines if "better" in s]
    return {"rows": len(lines), "with_baselines": len(b),
            "mean_vs_better": round(float(np.mean([s["vs_better"] for s in b])), 1) if b else None,
            "within_1": sum(s["vs_better"] >= -GOAL_WITHIN for s in b),
            "below_probe_2": [f"{s['row']} {_size(s)}" for s in b if s["vs_probe"] < -GOAL_PROBE],
            "below_better_1": [f"{s['row']} {_size(s)}" for s in b if s["vs_better"] < -GOAL_WITHIN],
            "fewer_than_3_seeds": [f"{s['row']} {_size(s)}" for s in lines if len(s["seeds"]) < 3]}


def _size(s: dict) -> str:
    if s["counts"]:
        return " / ".join(f"{n}" for n in sorted(set(s["counts"].values()), reverse=True)) + " (imbalanced)"
    return str(s["per_class"])


def _env() -> dict:
    import os
    import platform

    import torch

    return {"cpus": os.cpu_count(), "machine": platform.machine(), "torch": torch.__version__,
            "python": platform.python_version(), "device": "cuda" if torch.cuda.is_available() else "cpu"}


def halves_markdown(rows: list[dict], level: str = "##") -> list[str]:
    """Both halves' row tables with their summary lines against the goal (SUITE_ACCURACY.md and ACCURACY.md)."""
    lines: list[str] = []
    summary = summarise(rows)
    for half in ("tuning", "confirmation"):
        ss = [s for s in summary if s["half"] == half]
        lines += [f"{level} {half.capitalize()} half", ""]
        if not ss:
            lines += ["Nothing measured yet.", ""]
            continue
        lines += ["| task | modality | N/class | seeds | ours % mean (min) | probe % | fine-tune % | "
                  "ours - better (pts) | ours - probe (pts) | ours bal. acc % | smallest class recall % mean (min) | "
                  "kept | CPU s ours / fine-tune |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for s in ss:
            seeds = ",".join(map(str, s["seeds"])) + ("" if len(s["seeds"]) >= 3 else " *")
            name = s["row"] if not s["counts"] else f"{s['row']} ({s['task']})"
            base = (f"{s['probe']:.1f} | {s['finetune']:.1f} | {s['vs_better']:+.1f} | {s['vs_probe']:+.1f}"
                    if "better" in s else "- | - | - | -")
            cpu = f"{s['cpu_s']:.0f} / " + (f"{s['finetune_cpu_s']:.0f}" if "better" in s else "-")
            lines.append(f"| {name} | {s['modality']} | {_size(s)} | {seeds} | **{s['accuracy']:.1f}** "
                         f"({s['min_accuracy']:.1f}) | {base} | {s['balanced_accuracy']:.1f} | "
                         f"{s['minority_recall']:.1f} ({s['min_minority_recall']:.1f}) | {kept_counts(s['kept'])} | "
                         f"{cpu} |")
        h = half_summary(ss)
        lines += ["", f"Summary ({half}, {h['with_baselines']} of {h['rows']} rows with baselines): "
                  f"mean of (ours - better baseline) "
                  f"{'-' if h['mean_vs_better'] is None else format(h['mean_vs_better'], '+.1f')} points; "
                  f"{h['within_1']} of {h['with_baselines']} rows within {GOAL_WITHIN:g} point of the better "
                  f"baseline or above (below it: {', '.join(h['below_better_1']) or 'none'}); "
                  f"{len(h['below_probe_2'])} rows more than {GOAL_PROBE:g} points below the probe"
                  f"{': ' + ', '.join(h['below_probe_2']) if h['below_probe_2'] else ''}.", ""]
        seen = {s["row"] for s in ss}
        missing = [n for n, v in st.HALVES.items() if v == half and n not in seen]
        missing += [r["name"] for r in st.IMBALANCED if st.HALVES[r["task"]] == half and r["name"] not in seen]
        if missing:
            lines += [f"Tasks and imbalanced rows of this half not measured at any size: {', '.join(missing)}.", ""]
        if h["fewer_than_3_seeds"]:
            lines += [f"Rows with fewer than 3 seeds (marked *): {', '.join(h['fewer_than_3_seeds'])}.", ""]
    return lines


def render_markdown(rows: list[dict], env: dict | None = None) -> str:
    from .accuracy_baselines import IMAGE_SIZE, IMAGE_STEPS, TEXT_STEPS

    env = env or _env()
    when = _span(r.get("measured_at") for r in rows) or "an unrecorded time"
    lines = ["# The auto recipe on the wide suite, tuning and confirmation halves", "",
             f"Measured by `python -m benchmarks.suite_accuracy` on {when}; {env['cpus']} CPU cores "
             f"({env['machine']}, shared with other work, so CPU seconds are more reliable than wall time), "
             f"torch {env['torch']}, Python {env['python']}, device {env['device']}. Do not edit by hand: "
             "`python -m benchmarks.suite_accuracy --render` writes it again from suite_accuracy.json.", "",
             "Protocol: for each task of `benchmarks/suite_tasks.py` (halves fixed in SUITE.md before any result), "
             "each seed writes its own N training files per class and the task's balanced held-out test set "
             "(`suite_tasks.materialise`; imbalanced rows: `materialise_imbalanced`, 1:10 in training, the same "
             "balanced test). The auto recipe trains on the training folder with no flags "
             "(`RunConfig(data=[train], test_fraction=0.0, seed=seed, val_fraction=0.15)`, as "
             "`benchmarks/accuracy.py`; it carves its own 15% validation out of the N), and its saved model is "
             "scored on the test folder. Both baselines (`benchmarks/accuracy_baselines.py`: frozen features + "
             f"logistic regression; plain fine-tune, {IMAGE_STEPS} steps at {IMAGE_SIZE} px / {TEXT_STEPS} steps "
             "for text) train on all N files of the same seed and are scored on the same test files; images reach "
             "them through the engine's own decoder (`engine.data.images.load_image`: transparency composited on "
             "white), as they reach the recipe. "
             "The test sets are balanced, so accuracy is also balanced accuracy; the smallest class's recall "
             "(the lowest recall among the classes with the fewest training files) is measured for ours only. "
             "'kept' is the safety net's choice per seed (FT = the fine-tune, probe = the linear probe). "
             "Figures are means over seeds; 'min' is the lowest seed.", ""]
    carried = _span(r.get("baselines_measured_at") for r in rows)
    if carried:
        lines += [f"Where only the auto recipe was measured again (`--no-baselines --merge`) or only the baselines "
                  f"(`--baselines-only`), the other side was measured on the same files ({carried}).", ""]
    lines += halves_markdown(rows)
    lines += suite_choices.render(rows)
    lines += ["## Per seed", "", "| half | row | N/class | seed | ours % | bal. acc % | smallest class (recall %) | "
              "kept | probe on test % | fine-tune on test % | simple model on test % (McNemar p) | probe baseline % | "
              "fine-tune baseline % | CPU s ours / probe / fine-tune | recipe | measured |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m, sel = r.get("measured") or {}, r.get("selection") or {}
        base = f"{m['probe']['accuracy']} | {m['finetune']['accuracy']}" if m else "- | -"
        cpu = f"{r['cpu_s']:.0f} / " + (f"{m['probe']['cpu_s']:.0f} / {m['finetune']['cpu_s']:.0f}" if m else "- / -")
        recipe = (f"{r['backbone']}, freeze {r['freeze']}, lr {r['lr']:g}, best epoch {r['best_epoch']} of "
                  f"{r['epochs_run']} ({r['epochs']} max), {'size' if r['input_size'] else 'tokens'} "
                  f"{r['input_size'] or r['max_length']}")
        size = (" / ".join(f"{c} {n}" for c, n in r["counts"].items())) if r["counts"] else r["per_class"]
        lines.append(f"| {r['half']} | {r['row']} | {size} | {r['seed']} | {r['accuracy']} | "
                     f"{r['balanced_accuracy']} | {r['minority_class']} ({r['minority_recall']}) | {_kept(r)} | "
                     f"{sel.get('probe_test', '-')} | {sel.get('finetune_test', '-')} | {_simple(sel)} | {base} | "
                     f"{cpu} | {recipe} | "
                     f"{r['measured_at']} |")
    return "\n".join(lines) + "\n"


def _simple(sel: dict) -> str:
    """The simple contender's held-out score (or, for runs that did not keep its file, its validation score)
    and the McNemar p of its challenge; '-' where the run predates it."""
    p = sel.get("simple_p")
    if p is None:
        return "-"
    if sel.get("simple_test") is not None:
        return f"{sel['simple_test']} (p {p:.2g})"
    val = sel.get("simple_val")
    return f"val {100 * val:.1f} (p {p:.2g})" if val is not None else f"(p {p:.2g})"

# ------------------------------------------------------------------------------ ACCURACY.md
ACCURACY_MD = "benchmarks/ACCURACY.md"
BLOCK_BEGIN = "<!-- wide suite: written by `python -m benchmarks.suite_accuracy`; do not edit by hand -->"
BLOCK_END = "<!-- end of wide suite -->"


def accuracy_block(rows: list[dict]) -> str:
    """The section of ACCURACY.md that shows both halves (issue 19: "ACCURACY.md reports both halves, every
    row, with the minimum over seeds"); protocol, choices and per-seed figures stay in SUITE_ACCURACY.md."""
    when = _span(r.get("measured_at") for r in rows) or "an unrecorded time"
    lines = [BLOCK_BEGIN, "", "## The wide suite (issue 19): tuning half and confirmation half", "",
             f"{len({(r['row'], r['per_class']) for r in rows})} rows of {len(st.TASKS)} real tasks, measured on "
             f"{when} with the protocol of this file (auto recipe, no flags; both baselines on the same files; "
             "balanced held-out test). Recipe changes "
             "are made on the tuning half only and kept only when the confirmation half does not get worse "
             "(ABLATIONS.md). Goal on the confirmation half: every row within "
             f"{GOAL_WITHIN:g} point of the better baseline or above, above it on average, and no row more than "
             f"{GOAL_PROBE:g} points below the probe. The protocol, what each run's choices did and every seed: "
             "[SUITE_ACCURACY.md](SUITE_ACCURACY.md).", ""]
    return "\n".join(lines + halves_markdown(rows, level="###") + [BLOCK_END])


def with_block(text: str, block: str) -> str:
    """`text` with the suite's block in place of the old one, or after the title when it has none."""
    if BLOCK_BEGIN in text and BLOCK_END in text:
        head, rest = text.split(BLOCK_BEGIN, 1)
        return head + block + rest.split(BLOCK_END, 1)[1]
    title, sep, body = text.partition("\n\n")
    return title + sep + block + "\n\n" + body


def carry_block(old: str, new: str) -> str:
    """`new` (ACCURACY.md as accuracy.py writes it) with the suite's block that `old` had, if any."""
    if BLOCK_BEGIN not in old or BLOCK_END not in old:
        return new
    block = BLOCK_BEGIN + old.split(BLOCK_BEGIN, 1)[1].split(BLOCK_END, 1)[0] + BLOCK_END
    return with_block(new, block)


def write_accuracy_block(rows: list[dict], path: str = ACCURACY_MD) -> None:
    p = Path(path)
    if p.is_file():
        p.write_text(with_block(p.read_text(), accuracy_block(rows)))
