"""What each run's own choices did across the suite, judged afterwards on the held-out test.

Issue 19 asks that rules cite the suite, not single rows. Two rules decide inside every run, on
validation only: the safety net (linear probe or fine-tune, `compare_probe`) and the simple
contender (`compare_simple`). Every suite sample keeps both candidates on disk, so their worth can be
read from the suite without another training run: how often each was kept, and what keeping it
changed on test compared with the alternative the run had in hand.
"""
from __future__ import annotations

import numpy as np


def _mean(xs: list[float]) -> float | None:
    return round(float(np.mean(xs)), 1) if xs else None


def choices(rows: list[dict]) -> dict:
    """Figures over the samples of `rows` (one half, or all).

    The probe-or-fine-tune choice is judged only where both candidates were scored on test as they stood
    when it was made, trained on the training split alone: a kept fine-tune that was then refitted on
    train + validation (the recipe's refit) is scored refitted, and its train-only self is not on disk."""
    fair, ties = [], []
    for r in rows:
        sel = r.get("selection") or {}
        if sel.get("probe_test") is None or sel.get("finetune_test") is None or sel.get("finetune_refit"):
            continue
        probe_won = sel.get("network_winner", sel.get("winner")) == "linear probe"
        kept, other = ("probe_test", "finetune_test") if probe_won else ("finetune_test", "probe_test")
        fair.append((probe_won, sel[kept], sel[other], sel["finetune_test"]))
    for r in rows:  # validation accuracy tied: where the tie-break sent the run
        sel = r.get("selection") or {}
        if sel.get("probe_val") is not None and sel.get("probe_val") == sel.get("finetune_val"):
            ties.append("probe" if sel.get("network_winner", sel.get("winner")) == "linear probe" else "FT")
    challenged = [r for r in rows if (r.get("selection") or {}).get("simple_p") is not None]
    return {
        "choices": len([r for r in rows if (r.get("selection") or {}).get("probe_val") is not None]),
        "fair": len(fair),
        "probe_gains": [round(k - o, 1) for won, k, o, _ in fair if won],  # kept probe minus the fine-tune, test
        "right": sum(k >= o for _, k, o, _ in fair),  # the kept one did at least as well on test
        "gain_over_fine_tune": _mean([k - f for _, k, _, f in fair]),
        "loss_to_better": _mean([max(k, o) - k for _, k, o, _ in fair]),
        "ties": ties,
        "simple_challenges": len(challenged),
        "simple_kept": sum((r["selection"].get("winner") == "simple model") for r in challenged),
        "simple_vs_ours": [round(r["selection"]["simple_test"] - r["accuracy"], 1) for r in challenged
                           if r["selection"].get("simple_test") is not None],
    }


def render(rows: list[dict]) -> list[str]:
    """The markdown section: one line per half and one for the whole suite."""
    lines = ["## What each run's own choices did, judged on the held-out test", "",
             "Both candidates of a choice stay in the run folder, so the suite shows what a choice made on "
             "validation was worth on test, with no extra training (`benchmarks/suite_choices.py`). "
             "Safety net (`compare_probe`): of the runs that chose between the linear probe and the fine-tune, "
             "those where both were scored on test as they stood at the choice (trained on the training split "
             "only; a fine-tune kept and then refitted on train + validation is left out, as its train-only self is "
             "not kept): how often the probe was kept and what that changed, how often the kept one was at least "
             "as good on test, its mean gain over always keeping the fine-tune, and its mean loss to the better of "
             "the two (an oracle that peeks at test). Ties: runs whose two validation accuracies were equal, and "
             "where the tie-break sent them (a tie keeps the fine-tune; runs measured before 2026-12-07 13:00 broke "
             "it by the lower validation loss: benchmarks/PROBE_TIES.md). Simple contender "
             "(`compare_simple`): how often its challenge ran and won, and its test accuracy minus the saved "
             "model's.", "",
             "| half | choices | judged | probe kept | kept probe - fine-tune on test (pts, each) | kept one at least "
             "as good | mean gain over always fine-tuning (pts) | mean loss to the better (pts) | validation ties "
             "(went to) | simple model kept / challenged | simple model - saved model on test (pts, mean; min to "
             "max) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for half in ("tuning", "confirmation", "all"):
        c = choices([r for r in rows if half in ("all", r["half"])])
        gains = ", ".join(f"{g:+.1f}" for g in c["probe_gains"]) or "-"
        ties = (f"{len(c['ties'])} (" + ", ".join(f"{k} {c['ties'].count(k)}" for k in sorted(set(c["ties"])))
                + ")") if c["ties"] else "0"
        sv = c["simple_vs_ours"]
        simple = f"{np.mean(sv):+.1f} ({min(sv):+.1f} to {max(sv):+.1f})" if sv else "-"
        lines.append(f"| {half} | {c['choices']} | {c['fair']} | {len(c['probe_gains'])} | "
                     f"{gains} | {c['right']} of {c['fair']} | {_signed(c['gain_over_fine_tune'])} | "
                     f"{_signed(c['loss_to_better'])} | {ties} | {c['simple_kept']} / {c['simple_challenges']} | "
                     f"{simple} |")
    return lines + [""]


def _signed(v: float | None) -> str:
    return "-" if v is None else f"{v:+.1f}"
