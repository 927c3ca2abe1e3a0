"""A run trained by several processes at once (DDP started by torchrun; see distributed.py).

Everything around the loop follows run.py; what differs is who does it: rank 0 prepares the
run folder and the others read it, all train the main phase together, then the others leave
and rank 0 alone finishes the run (`run._finish`) as a single process would.
"""
from __future__ import annotations

import time
from pathlib import Path

from .. import protocol
from ..atomic import read_json, write_json
from ..config import ConfigError, RunConfig
from ..errors import Cancelled
from . import checkpoint as ckpt
from . import distributed
from .device import configure
from .reporting import RunReporter
from .reporting import log_left_out
from .run import _finish, _Phase, prepare


def train_distributed(config, reporter, cancel, resume_from, ranks) -> dict:
    """One of several processes torchrun started: all train the main phase together (DDP); then the
    ranks other than 0 leave and rank 0 alone decides the probe contender, refits and evaluates.

    Rank 0 prepares the run (scan, recipe, run folder) and reports; the others read what it wrote
    in the run folder (shared storage across machines), as a resume does, and report nothing.
    A refit runs on rank 0 alone: the recipe refits small data only (under 40 examples a class, texts under 100)."""
    from ..backbones import get_spec
    from ..data import load_splits
    from . import refit

    t_start = time.monotonic()
    device_name = config.device if config is not None and not resume_from else \
        read_json(Path(resume_from) / "config.json").get("device", "auto")
    ranks, device = distributed.start(device_name)
    try:
        report = RunReporter(None, reporter if ranks.is_main else None)
        run_dir = Path(resume_from) if resume_from else None
        if ranks.is_main:
            if resume_from:
                _extend_epochs(run_dir, config, refit.load(run_dir))
            else:
                cfg, spec, dataset, run_dir, meta, _ = prepare(config, report, cancel)
                log_left_out(dataset.report, report)
                if meta["modality"] == "text":
                    from ..backbones import build_tokenizer

                    build_tokenizer(spec, cfg.weights or "auto").save_pretrained(str(run_dir / "tokenizer"))
        run_dir = Path(ranks.agree(str(run_dir)))  # the others wait here for the folder rank 0 made
        if ranks.is_main:
            from .launch import note_run_dir

            report.events_path, report.run_id = run_dir / "events.jsonl", run_dir.name
            note_run_dir(run_dir)
        info = refit.load(run_dir)
        if resume_from and not ckpt.has_checkpoint(run_dir / "checkpoints" / "last") and info is None:
            raise ConfigError(f"{run_dir} has no saved checkpoint to resume from; start a new run instead.")
        cfg, meta = RunConfig.from_dict(read_json(run_dir / "config.json")), read_json(run_dir / "model.json")
        spec, dataset = get_spec(meta["backbone"]), load_splits(run_dir)
        configure(device, cfg.deterministic)
        report(protocol.Status(phase="loading_model",
                               detail=f"{spec.display_name} on {ranks.world} processes ({device.type})"))
        report.log(f"Run directory: {run_dir}")
        tokenizer = None
        if meta["modality"] == "text":
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(run_dir / "tokenizer"), local_files_only=True)
        phase = _Phase(cfg, spec, meta, run_dir, device, report, cancel, tokenizer, ranks=ranks)
        stopped = None
        if info is None:
            try:
                _, stopped = phase.fit(dataset, last=run_dir / "checkpoints" / "last", resume=bool(resume_from))
            except Cancelled:
                report.log("Cancelled: the last state is saved under checkpoints/; resume continues from there.")
                return {"run_dir": str(run_dir), "metrics": {}, "stopped": "cancelled"}
        ranks.barrier()  # checkpoints/best is on disk before anyone leaves
    finally:
        distributed.stop()
    if not ranks.is_main:
        return {"run_dir": str(run_dir), "metrics": {}, "stopped": stopped or "completed"}
    phase.alone()
    return _finish(phase, dataset, info, bool(resume_from), t_start, stopped=stopped)


def _extend_epochs(run_dir: Path, config, info) -> None:
    """`--resume --epochs N`: a run resumed for more epochs than it was set for (not a refit)."""
    saved = RunConfig.from_dict(read_json(run_dir / "config.json"))
    if config is not None and config.epochs and config.epochs != saved.epochs and info is None:
        write_json(run_dir / "config.json", saved.replace(epochs=config.epochs).to_dict())
