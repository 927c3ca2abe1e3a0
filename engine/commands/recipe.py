"""`transfer-studio recipe`: what the auto recipe would choose for this data, and why (nothing is trained)."""
from __future__ import annotations

import json
import sys


def add_arguments(p) -> None:
    from .train import add_arguments as train_arguments

    p.add_argument("--rules", action="store_true", help="print the rules themselves (markdown), not a data set's")
    p.add_argument("--no-estimate", action="store_true", help="do not time a few training steps for the estimate")
    train_arguments(p, with_output=False)


def run(a) -> int:
    if a.rules:
        from engine.recipe.render import rules_markdown

        print(rules_markdown())
        return 0
    if not a.data:
        print("error: name the data with --data DIR (or print the rules with --rules)", file=sys.stderr)
        return 2
    from engine.recipe.render import settings_text
    from engine.train.plan import preview

    from .train import config_from_args

    cfg, settings, facts, estimate = preview(config_from_args(a), with_estimate=not a.no_estimate)
    rows = [s.to_dict() for s in settings]
    if a.json:
        print(json.dumps({"config": cfg.to_dict(), "settings": rows, "facts": facts.to_dict(),
                          "estimate": estimate or {}}, indent=1))
    else:
        print(settings_text(rows, facts.to_dict(), estimate))
    return 0
