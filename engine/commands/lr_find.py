"""`transfer-studio lr-find`: the learning-rate range test on a folder, with the settings `train` takes."""
from __future__ import annotations

import sys


def add_arguments(p) -> None:
    from .train import add_arguments as training_arguments

    training_arguments(p, with_output=False)
    p.add_argument("--steps", type=int, default=100, help="training steps in the test (default 100)")
    p.add_argument("--start-lr", type=float, default=1e-7)
    p.add_argument("--end-lr", type=float, default=10.0)


def run(a) -> int:
    import threading

    from .. import protocol
    from ..train.lr_find import find_lr
    from .train import config_from_args

    if not a.data:
        print("error: name the data with --data DIR", file=sys.stderr)
        return 2
    cancel = threading.Event()

    def report(msg) -> None:
        if isinstance(msg, protocol.Status) and not a.json:
            print(f"[{msg.phase}] {msg.detail}", file=sys.stderr)
        elif isinstance(msg, protocol.JobProgress) and not a.json and msg.done % 10 == 0:
            print(f"  step {msg.done}/{msg.total}", file=sys.stderr)

    try:
        out = find_lr(config_from_args(a), steps=a.steps, start_lr=a.start_lr, end_lr=a.end_lr, reporter=report,
                      cancel=cancel)
    except KeyboardInterrupt:
        return 130
    if a.json:
        import json

        print(json.dumps(out))
        return 0
    print(f"{'learning rate':>14}  loss (smoothed)")
    for lr, loss in zip(out["lrs"], out["losses"]):
        print(f"{lr:14.3g}  {loss:.4f}")
    s = out["suggestion"]
    print(f"\nSuggested learning rate: {s:.3g}" if s else "\nNo suggestion: the loss never fell; try --start-lr lower.")
    print(f"Rule: {out['rule']}. The test ended: {out['stopped']}. The recipe's rate for this run: {out['config_lr']:g}.")
    return 0
