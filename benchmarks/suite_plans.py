"""Is every suite row still what today's recipe would do? Checked without training.

A suite row is the auto recipe measured once, and a later rule change can leave it stale unseen:
the refit for texts below 100 per class (6f3e929, made on balanced rows at 50 per class) also
reached the imbalanced text rows (200 x 3 + 20 x 3 files: 77 training texts per class on
average), which had been measured without it. This check writes each row's training folder
again, asks the recipe what it would choose there (engine.train.plan.preview: the health scan
and the rules; nothing is trained) and lists every row whose recorded choices differ.

    python -m benchmarks.suite_plans                       # every row of suite_accuracy.json
    python -m benchmarks.suite_plans --tasks wordnet-verbs --out /tmp/plans.json
"""
from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

from . import suite_tasks as st

FIELDS = ("backbone", "freeze", "epochs", "lr", "input_size", "max_length")  # as run_row records them


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9)
    return a == b


def recorded_refit(row: dict) -> bool | None:
    """Whether the row's run was to refit: recorded since suite rows keep `refit`; before that, readable
    only where the fine-tune was kept (selection.finetune_refit), else unknown (None)."""
    if "refit" in row:
        return row["refit"]
    sel = row.get("selection") or {}
    if sel.get("network_winner", sel.get("winner")) == "fine-tune" and "finetune_refit" in sel:
        return bool(sel["finetune_refit"])
    return None


def differences(row: dict, cfg) -> dict:
    """{choice: [recorded, today's]} for every recorded choice today's resolved config `cfg` makes otherwise."""
    out = {f: [row.get(f), getattr(cfg, f)] for f in FIELDS if f in row and not _same(row.get(f), getattr(cfg, f))}
    was = recorded_refit(row)
    if was is not None and was != bool(cfg.refit):
        out["refit"] = [was, bool(cfg.refit)]
    return out


def todays_config(row: dict, work: Path):
    """The resolved RunConfig the recipe would train this row's sample with today (suite_accuracy.sample_config)."""
    from engine.train.plan import preview

    from .suite_accuracy import sample_config

    imbalanced = next((r for r in st.IMBALANCED if r["name"] == row["row"]), None) if row.get("counts") else None
    cfg, _, _ = sample_config(row["task"], row["per_class"], row["seed"], work, imbalanced, row.get("overrides"))
    return preview(cfg, with_estimate=False)[0]


def check(rows: list[dict]) -> list[dict]:
    """One entry per row: its key and the choices today's recipe makes otherwise (empty: still current)."""
    out = []
    with tempfile.TemporaryDirectory(prefix="suite-plans-") as tmp:
        for r in rows:
            diff = differences(r, todays_config(r, Path(tmp)))
            out.append({"row": r["row"], "per_class": r["per_class"], "seed": r["seed"],
                        "measured_at": r.get("measured_at"), "differences": diff})
            print(f"{r['row']:<26} {r['per_class'] or 'imb':>4} s{r['seed']}  "
                  + ("current" if not diff else "STALE " + json.dumps(diff)), flush=True)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default="benchmarks/suite_accuracy.json")
    p.add_argument("--tasks", nargs="*", default=None, help="only the rows of these tasks")
    p.add_argument("--out", help="also write the result here (JSON)")
    a = p.parse_args(argv)
    rows = [r for r in json.loads(Path(a.rows).read_text()) if a.tasks is None or r["task"] in a.tasks]
    result = check(rows)
    stale = [x for x in result if x["differences"]]
    print(f"{len(result) - len(stale)} of {len(result)} rows are what today's recipe would do; {len(stale)} stale.", flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
