"""`transfer-studio train`: fine-tune from the command line, printing progress as it goes."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from ..config import AUGMENT_PRESETS, BUDGETS, DICOM_WINDOWS, GROUP_BY, MONITORS, REFIT_EPOCHS, RunConfig


def add_arguments(p, with_output: bool = True) -> None:
    """The training settings (`recipe` shares them); the auto rules' help comes from engine.recipe.RULES."""
    from ..recipe.render import auto_help as auto

    p.add_argument("--data", nargs="+", metavar="DIR", help="folder(s) of labeled data, or a CSV/TSV file")
    if with_output:
        p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
        p.add_argument("--gpus", "--devices", metavar="N|all",
                       help="train on N GPUs of this machine (or all), one process each (PyTorch DDP started "
                            "by torchrun's launcher); --batch-size is the global batch, shared among them. With "
                            "--device cpu: N CPU processes (slow; for trying it out). Several machines: README, "
                            "'More than one GPU'")
        p.add_argument("--config", metavar="FILE",
                       help="replay a run's settings: a config.json from a run folder (the RunConfig the app "
                            "sent, Auto's choices filled in); --name and --runs-root may change where it goes, "
                            "the other settings flags are ignored")
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
    p.add_argument("--crop-pct", type=float, metavar="SHARE",
                   help="share of the resized image the evaluation centre crop keeps (1 = the whole image); "
                        "default the backbone's own")
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
    p.add_argument("--compare-simple", action=argparse.BooleanOptionalAction, default=None,
                   help=auto("compare_simple"))
    p.add_argument("--dicom-window", choices=DICOM_WINDOWS, default="file",
                   help="how DICOM values become pixels: the file's own window (default), the full range, or a "
                        "CT preset (CT files only)")
    add_group_arguments(p)
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--test-fraction", type=float, default=0.15)
    p.add_argument("--text-column")
    p.add_argument("--label-column")
    p.add_argument("--no-feature-cache", action="store_true")
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int, help=auto("num_workers"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deterministic", action="store_true")
    p.add_argument("--runs-root", help="where the run folder goes (default: runs, or the config's)")
    p.add_argument("--name")
    p.add_argument("--json", action="store_true", help="print every event (or, for recipe, the settings) as JSON")


def add_group_arguments(p) -> None:
    """--groups / --group-pattern / --group-by: one patient stays on one side of the split."""
    p.add_argument("--groups", metavar="FILE", help="a CSV of path,group rows: files of one group (one patient) "
                                                    "stay on one side of the split")
    p.add_argument("--group-pattern", metavar="REGEX",
                   help="a regular expression with (?P<group>...) naming each file's group in its path under the "
                        "data folder, e.g. '(?P<group>patient_\\d+)/'")
    p.add_argument("--group-by", choices=GROUP_BY, default="auto",
                   help="auto (default): the CSV, else the pattern, else a DICOM file's PatientID; none: each "
                        "file its own group")


def config_from_args(a) -> RunConfig:
    if getattr(a, "config", None):  # a replayed run, or the app's config for a multi-process run
        return config_from_file(a.config, a)
    return RunConfig(
        data=list(a.data or []), backbone=a.backbone, weights=a.weights, freeze=a.freeze, epochs=a.epochs,
        budget=a.budget,
        batch_size=a.batch_size, lr=a.lr, lr_stage_decay=a.lr_stage_decay, weight_decay=a.weight_decay,
        augment=a.augment, input_size=a.input_size, train_input_size=a.train_size, max_length=a.max_length,
        crop_pct=a.crop_pct,
        label_smoothing=a.label_smoothing,
        class_weighted=a.class_weighted, early_stopping_patience=a.patience or None, monitor=a.monitor,
        val_fraction=a.val_fraction, test_fraction=a.test_fraction, text_column=a.text_column,
        dicom_window=a.dicom_window, group_by=a.group_by, groups_file=a.groups, group_pattern=a.group_pattern,
        label_column=a.label_column, feature_cache=not a.no_feature_cache, device=a.device,
        refit=a.refit, refit_soup=a.refit_soup, refit_epochs=a.refit_epochs,
        finetune_blend=a.finetune_blend, compare_probe=a.compare_probe, compare_simple=a.compare_simple,
        head_warmup=a.head_warmup,
        freeze_bn_stats=a.freeze_bn_stats, num_workers=a.workers, seed=a.seed, gpus=_gpus(a, a.device),
        deterministic=a.deterministic, runs_root=a.runs_root or "runs", name=a.name)


def config_from_file(path: str, a) -> RunConfig:
    """A run's config.json (or any RunConfig as JSON), with --name / --runs-root applied when given."""
    import json
    from ..config import ConfigError

    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Could not read the settings in {path} ({exc}); name a run's config.json.") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} does not hold settings (a JSON object); name a run's config.json.")
    cfg = RunConfig.from_dict(raw)
    # a replay is a new run: the folder is chosen afresh (name-2, name-3... when the name is taken)
    cfg = cfg.replace(name=a.name or cfg.name, runs_root=a.runs_root or cfg.runs_root)
    cfg.validate()
    return cfg


class ConsolePrinter:
    """Human-readable progress on stderr-free stdout: one line per epoch, a live step line."""

    def __init__(self, as_json: bool, stream=None):
        self.as_json, self.out = as_json, stream or sys.stdout  # looked up now: sys.stdout may have been replaced
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


def _gpus(a, device: str) -> int:
    """--gpus N, or all of this machine's GPUs; 1 when not given."""
    value = getattr(a, "gpus", None)
    if value is None:
        return 1
    if str(value).lower() == "all":
        from ..train.launch import device_count

        return max(1, device_count(device) or 1)
    try:
        return int(value)
    except ValueError:
        from ..config import ConfigError

        raise ConfigError(f"--gpus takes a number of GPUs or 'all', not {value!r}.") from None


def _device(a) -> str:
    """The device the run trains on: its saved one when resuming."""
    if a.resume:
        import json
        from pathlib import Path

        return json.loads((Path(a.resume) / "config.json").read_text()).get("device", "auto")
    return config_from_args(a).device if getattr(a, "config", None) else a.device


def run(a) -> int:
    from ..train import train
    from ..train.distributed import Ranks

    if not a.resume and not a.data and not getattr(a, "config", None):
        print("error: name the data with --data DIR (or continue a run with --resume RUN_DIR, or replay one "
              "with --config RUN_DIR/config.json)", file=sys.stderr)
        return 2
    ranks = Ranks.from_env()
    n = _gpus(a, _device(a))
    if n > 1 and not ranks.active:  # start this command again in n processes (launch.py)
        from ..train.launch import check_processes, launch

        check_processes(n, _device(a))
        return launch(n, a.argv, as_json=a.json)
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
    if not ranks.active:
        result = train(cfg, reporter=ConsolePrinter(a.json), cancel=cancel, resume_from=a.resume)
    else:  # one of several processes: rank 0 prints, a failure is recorded for the launcher to name
        from ..train.launch import record_failure, watch_cancel_file

        watch_cancel_file(cancel)
        try:
            result = train(cfg, reporter=ConsolePrinter(a.json) if ranks.is_main else None, cancel=cancel,
                           resume_from=a.resume)
        except BaseException as exc:
            record_failure(exc)
            raise
    if result["stopped"] == "cancelled":
        if ranks.is_main:
            more = f" --gpus {ranks.world}" if ranks.active else ""
            print(f"Cancelled. Resume with: transfer-studio train --resume {result['run_dir']}{more}")
        return 130
    return 0
