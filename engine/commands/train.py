"""`transfer-studio train`: fine-tune from the command line, printing progress as it goes."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from ..config import AUGMENT_PRESETS, BUDGETS, MONITORS, REFIT_EPOCHS, RunConfig


def add_arguments(p, with_output: bool = True) -> None:
    """The training settings (`recipe` shares them); the auto rules' help comes from engine.recipe.RULES."""
    from ..recipe.render import auto_help as auto

    p.add_argument("--data", nargs="+", metavar="DIR", help="folder(s) of labeled data, or a CSV/TSV file")
    if with_output:
        p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    p.add_argument("--backbone", default="auto", help="registry id (see `transfer-studio backbones`); default auto")
    p.add_argument("--weights", help="a weights file or Hugging Face folder you brought in")
    p.add_argument("--freeze", type=int, help=auto("freeze", "freeze the first K stages (0 = train everything)"))
    p.add_argument("--epochs", type=int, help=auto("epochs"))
    p.add_argument("--budget", choices=BUDGETS, default="standard",
                   help="how long Auto lets the run train: quick (about half), standard, or thorough (no CPU cap); "
                        "`transfer-studio recipe` shows the time it expects")
    p.add_argument("--batch-size", type=int, help=auto("batch_size"))
    p.add_argument("--lr", type=float, help=auto("lr", "learning rate of the head; earlier stages get less"))
    p.add_argument("--lr-stage-decay", type=float, help=auto("lr_stage_decay"))
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--augment", choices=AUGMENT_PRESETS, default="light")
    p.add_argument("--input-size", type=int, help=auto("input_size", "image side in pixels"))
    p.add_argument("--train-size", type=int, metavar="PX",
                   help=auto("train_input_size", "side of the random training crops"))
    p.add_argument("--max-length", type=int, help=auto("max_length", "text tokens"))
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--class-weighted", action=argparse.BooleanOptionalAction, default=None,
                   help=auto("class_weighted"))
    p.add_argument("--patience", type=int, default=3,
                   help="early-stopping patience in epochs (0 = off); a run stops no earlier than halfway "
                        "down the learning-rate schedule")
    p.add_argument("--monitor", default=None, choices=MONITORS, help=auto("monitor"))
    p.add_argument("--head-warmup", action=argparse.BooleanOptionalAction, default=None,
                   help=auto("head_warmup"))
    p.add_argument("--freeze-bn-stats", action=argparse.BooleanOptionalAction, default=None,
                   help=auto("freeze_bn_stats"))
    p.add_argument("--refit", action=argparse.BooleanOptionalAction, default=None,
                   help=auto("refit", "after early stopping, train again on train + validation"))
    p.add_argument("--refit-soup", type=int, metavar="N",
                   help=auto("refit_soup", "refit N times and average them into the saved model"))
    p.add_argument("--refit-epochs", choices=REFIT_EPOCHS,
                   help=auto("refit_epochs", "a refit trains for the epoch count that won on validation (best) "
                                             "or as long as the first run trained (trained)"))
    p.add_argument("--finetune-blend", type=float, metavar="SHARE",
                   help=auto("finetune_blend", "save SHARE x the fine-tuned weights + the rest of the weights "
                                               "the fine-tune began from (1 = off)"))
    p.add_argument("--compare-probe", action=argparse.BooleanOptionalAction, default=None,
                   help=auto("compare_probe"))
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--test-fraction", type=float, default=0.15)
    p.add_argument("--text-column")
    p.add_argument("--label-column")
    p.add_argument("--no-feature-cache", action="store_true")
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int, help=auto("num_workers"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deterministic", action="store_true")
    p.add_argument("--runs-root", default="runs")
    p.add_argument("--name")
    p.add_argument("--json", action="store_true", help="print every event (or, for recipe, the settings) as JSON")


def config_from_args(a) -> RunConfig:
    return RunConfig(
        data=list(a.data or []), backbone=a.backbone, weights=a.weights, freeze=a.freeze, epochs=a.epochs,
        budget=a.budget,
        batch_size=a.batch_size, lr=a.lr, lr_stage_decay=a.lr_stage_decay, weight_decay=a.weight_decay,
        augment=a.augment, input_size=a.input_size, train_input_size=a.train_size, max_length=a.max_length,
        label_smoothing=a.label_smoothing,
        class_weighted=a.class_weighted, early_stopping_patience=a.patience or None, monitor=a.monitor,
        val_fraction=a.val_fraction, test_fraction=a.test_fraction, text_column=a.text_column,
        label_column=a.label_column, feature_cache=not a.no_feature_cache, device=a.device,
        refit=a.refit, refit_soup=a.refit_soup, refit_epochs=a.refit_epochs,
        finetune_blend=a.finetune_blend, compare_probe=a.compare_probe, head_warmup=a.head_warmup,
        freeze_bn_stats=a.freeze_bn_stats, num_workers=a.workers, seed=a.seed,
        deterministic=a.deterministic, runs_root=a.runs_root, name=a.name)


class ConsolePrinter:
    """Human-readable progress on stderr-free stdout: one line per epoch, a live step line."""

    def __init__(self, as_json: bool, stream=sys.stdout):
        self.as_json, self.out = as_json, stream
        self._last_line = 0.0
        self._seq = 0

    def __call__(self, msg) -> None:
        from .. import protocol

        if self.as_json:
            self._seq += 1
            self.out.write(protocol.encode(msg, self._seq))
            self.out.flush()
            return
        now = time.monotonic()
        if isinstance(msg, protocol.Status):
            self.out.write(f"[{msg.phase}] {msg.detail}\n")
        elif isinstance(msg, protocol.Log):
            self.out.write(("" if msg.level == "info" else f"{msg.level.upper()}: ") + msg.text + "\n")
        elif isinstance(msg, protocol.Progress) and msg.phase in ("train", "refit") and now - self._last_line > 2.0:
            eta = f", ETA {msg.eta_s:.0f} s" if msg.eta_s else ""
            self.out.write(f"  {'refit ' if msg.phase == 'refit' else ''}epoch {msg.epoch}/{msg.epochs} "
                           f"step {msg.step}/{msg.steps} {msg.samples_per_s:.1f} samples/s{eta}\n")
            self._last_line = now
        elif isinstance(msg, protocol.EpochEnd):
            vals = " ".join(f"{k}={v:.4f}" for k, v in msg.values.items())
            self.out.write(f"epoch {msg.epoch}: {vals}{'  (best)' if msg.best else ''} [{msg.seconds:.1f} s]\n")
        elif isinstance(msg, protocol.Result):
            m = msg.metrics or {}
            split = "test" if m.get("test") else "validation"
            scored = m.get("test") or m.get("val") or {}
            acc, n = scored.get("accuracy"), scored.get("n")
            ci = (scored.get("ci95") or {}).get("accuracy")
            baseline = (m.get("simple_baseline") or {}).get("accuracy")
            line = f"Done: {msg.run_dir}"
            if acc is not None:
                # a figure on a handful of examples is mostly luck: its interval and count go with it
                detail = ", ".join(x for x in (f"95% CI {ci[0]:.3f}-{ci[1]:.3f}" if ci else "",
                                               f"{n} examples" if n else "") if x)
                line += f"  {split} accuracy {acc:.3f}" + (f" ({detail})" if detail else "")
                line += f"; simple baseline {baseline:.3f}" if baseline is not None else ""
                kept = (m.get("selection") or {}).get("winner")
                line += f"; kept: {kept}" if kept else ""
            self.out.write(line + "\n")
        self.out.flush()


def run(a) -> int:
    from ..train import train

    if not a.resume and not a.data:
        print("error: name the data with --data DIR (or continue a run with --resume RUN_DIR)", file=sys.stderr)
        return 2
    cancel = threading.Event()

    def on_sigint(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        print("Cancelling at the next batch (Ctrl-C again to abort)...", file=sys.stderr)
        cancel.set()

    signal.signal(signal.SIGINT, on_sigint)
    cfg = None if a.resume else config_from_args(a)
    if a.resume and a.epochs:
        cfg = RunConfig(data=["-"], epochs=a.epochs)
    result = train(cfg, reporter=ConsolePrinter(a.json), cancel=cancel, resume_from=a.resume)
    if result["stopped"] == "cancelled":
        print(f"Cancelled. Resume with: transfer-studio train --resume {result['run_dir']}")
        return 130
    return 0
