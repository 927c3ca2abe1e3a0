"""One recipe rule switched, on the suite's own files: does the rule earn its place?

Issue 19: "rules cite the suite, not single rows; rules that only ever helped one row go." A rule
is audited by measuring the auto recipe again with that one setting overridden
(`suite_accuracy --set KEY=VALUE --no-baselines --out VARIANT.json`): each sample draws the same
files at the same seed, so every variant sample pairs with the default's. This module renders the
pairs: per sample the default and the variant, per half the mean change, the worst and how many
samples moved each way. The rule is kept where switching it off hurts, or at least does not help,
across the tuning half and does not help the confirmation half either.

    python -m benchmarks.suite_accuracy --set finetune_blend=1 --no-baselines --half tuning \\
        --sizes 10 50 --seeds 0 1 2 --only-in benchmarks/suite_accuracy.json \\
        --out benchmarks/ablations/finetune_blend=1.json --md ''
    python -m benchmarks.suite_ablation benchmarks/ablations/*.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

DEFAULT = "benchmarks/suite_accuracy.json"


def parse_overrides(pairs: list[str]) -> dict:
    """['finetune_blend=0', 'refit=false'] -> {'finetune_blend': 0, 'refit': False}; keys must be RunConfig
    fields, values are read as JSON (a bare word stays a string)."""
    from engine.config import RunConfig

    names = {f.name for f in dataclasses.fields(RunConfig)}
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or key not in names:
            raise SystemExit(f"--set {pair!r}: expected KEY=VALUE with KEY a RunConfig field")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _key(r: dict) -> tuple:
    return r["row"], r["per_class"] or 0, r["seed"]


def pairs(default: list[dict], variant: list[dict]) -> list[dict]:
    """Each variant sample beside the default's on the same files (samples without a partner are left out)."""
    base = {_key(r): r for r in default}
    out = []
    for r in variant:
        d = base.get(_key(r))
        if d is None:
            continue
        out.append({"half": r["half"], "row": r["row"], "per_class": r["per_class"], "seed": r["seed"],
                    "default": d["accuracy"], "variant": r["accuracy"],
                    "change": round(r["accuracy"] - d["accuracy"], 1),
                    "kept": ((d.get("selection") or {}).get("winner"), (r.get("selection") or {}).get("winner"))})
    return sorted(out, key=lambda p: (p["half"], p["row"], p["per_class"] or 0, p["seed"]))


def half_summary(ps: list[dict]) -> dict:
    ch = [p["change"] for p in ps]
    return {"samples": len(ps), "mean": round(float(np.mean(ch)), 1) if ch else None,
            "worst": min(ch) if ch else None, "best": max(ch) if ch else None,
            "up": sum(c > 0 for c in ch), "down": sum(c < 0 for c in ch), "level": sum(c == 0 for c in ch)}


def render(default: list[dict], variants: dict[str, list[dict]]) -> str:
    lines = ["# Recipe rules switched, on the suite's own files", "",
             "Written by `python -m benchmarks.suite_ablation` (do not edit by hand). Each variant is the auto "
             "recipe with one setting overridden (`suite_accuracy --set`), measured on the same files and seeds "
             "as the default rows of suite_accuracy.json; 'change' is variant minus default, in points of "
             "held-out accuracy (balanced test sets). A rule earns its place when switching it off does not help "
             "the tuning half and does not help the confirmation half. A candidate change (a setting the recipe "
             "does not choose today) is made only when it helps the tuning half, and kept only when the "
             "confirmation half does not get worse.", ""]
    for name, rows in variants.items():
        sets = sorted({json.dumps(r.get("overrides") or {}, sort_keys=True) for r in rows})
        ps = pairs(default, rows)
        lines += [f"## {name}", "", f"Overrides: {', '.join(sets) or '(none recorded)'}.", "",
                  "| half | samples | mean change (pts) | worst | best | up / level / down |", "|---|---|---|---|---|---|"]
        for half in ("tuning", "confirmation", "all"):
            h = half_summary([p for p in ps if half in ("all", p["half"])])
            if not h["samples"]:
                lines.append(f"| {half} | 0 | - | - | - | - |")
                continue
            lines.append(f"| {half} | {h['samples']} | {h['mean']:+.1f} | {h['worst']:+.1f} | {h['best']:+.1f} | "
                         f"{h['up']} / {h['level']} / {h['down']} |")
        lines += ["", "| half | row | N/class | seed | default % | variant % | change | kept (default / variant) |",
                  "|---|---|---|---|---|---|---|---|"]
        for p in ps:
            lines.append(f"| {p['half']} | {p['row']} | {p['per_class'] or 'imb'} | {p['seed']} | {p['default']} | "
                         f"{p['variant']} | {p['change']:+.1f} | {p['kept'][0]} / {p['kept'][1]} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="+", help="JSON files written by suite_accuracy --set ... --out")
    ap.add_argument("--default", default=DEFAULT)
    ap.add_argument("--md", default="benchmarks/ABLATIONS.md")
    a = ap.parse_args(argv)
    default = json.loads(Path(a.default).read_text())
    variants = {Path(v).stem: json.loads(Path(v).read_text()) for v in a.variants}
    Path(a.md).write_text(render(default, variants))
    print(f"wrote {a.md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
