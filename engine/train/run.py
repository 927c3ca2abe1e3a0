"""One training run from config to evaluated checkpoint, in a run directory.

Order matters for the user: everything that can be wrong with the settings, the data or
the weights is checked before the first expensive step, each failure in one sentence.
"""
from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import torch

from .. import protocol
from ..atomic import read_json, write_json
from ..config import ConfigError, RunConfig, smaller_training_crop
from ..errors import Cancelled
from . import checkpoint as ckpt
from . import distributed
from .device import amp_dtype_for, configure, resolve_device
from .loop import Loop, LoopState, Split
from .reporting import RunReporter, log_left_out


def _unique_dir(root: Path, name: str) -> Path:
    """Create and return root/name (or name-2, name-3 ...): claimed by mkdir itself, never checked
    first, so two runs started at once with the same name get a folder each."""
    root.mkdir(parents=True, exist_ok=True)
    i = 1
    while True:
        path = root / (name if i == 1 else f"{name}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            i += 1


def _preprocess(spec, cfg: RunConfig, modality: str) -> dict:
    pp = dict(spec.preprocess)
    if modality == "image":
        pp["input_size"] = int(cfg.input_size or pp.get("input_size", 224))
        if cfg.crop_pct is not None:
            pp["crop_pct"] = float(cfg.crop_pct)
        pp["dicom_window"] = cfg.dicom_window  # DICOM pixels -> 8 bits: part of the model's input
    else:
        pp = {"max_length": int(cfg.max_length or pp.get("max_length", 128))}
    return pp


def _crops(cfg: RunConfig, modality: str) -> str:
    """', on 112 px crops (run at 128 px)' when training crops are smaller than the input."""
    crop = smaller_training_crop(cfg.to_dict()) if modality == "image" else None
    return f", on {crop} px crops (run at {cfg.input_size} px)" if crop else ""


def _class_weights(train_examples, n_classes: int, device) -> torch.Tensor:
    counts = torch.zeros(n_classes)
    for e in train_examples:
        counts[e.label] += 1
    w = counts.sum() / (n_classes * counts.clamp(min=1))
    return w.to(device)


def _small_head_init(model, spec, n_classes: int) -> None:
    """Start the new head near zero so the first steps do not wreck pretrained features.

    Library inits (e.g. timm's EfficientNet uses U(+-1/sqrt(classes))) give large initial
    logits on 1000+ features; a small normal init gives a loss of ~ln(classes) at step 1.
    """
    for name, p in model.named_parameters():
        if spec.head.covers(name) and p.shape[0] == n_classes:  # the output layer only
            with torch.no_grad():
                if p.dim() >= 2:
                    p.normal_(0.0, 0.01)
                else:
                    p.zero_()


def prepare(config: RunConfig, report: RunReporter, cancel):
    """Validate, scan, resolve the recipe and create the run directory. Nothing heavy yet."""
    from ..backbones import locate_weights
    from ..data import save_splits
    from ..data.labeled import labels_meta
    from ..library.safe_copy import weights_digest
    from .plan import recipe, scan_and_pick

    spec, dataset, device = scan_and_pick(config, report, cancel)
    weights = locate_weights(spec, config.weights)
    if weights is not None:
        from ..library.safe_copy import safe_weights

        report.status("loading_model", "Checking the weights file")
        weights = safe_weights(spec, weights)  # a pickle is converted in a separate process first
    if weights is None and spec.weights.kind != "random":
        from ..errors import WeightsError

        raise WeightsError(f"The weights for {spec.id} are not on this machine; bring them in with --weights FILE "
                           "or import them into the model library (nothing is downloaded).")
    cfg, settings, facts = recipe(config, spec, dataset, device)
    run_dir = _unique_dir(Path(cfg.runs_root), cfg.name)
    cfg = cfg.replace(name=run_dir.name)
    write_json(run_dir / "config.json", cfg.to_dict())
    write_json(run_dir / "recipe.json", {"facts": facts.to_dict(), "settings": [s.to_dict() for s in settings]})
    save_splits(dataset, run_dir)
    write_json(run_dir / "data_report.json", dataset.report.to_dict())
    write_json(run_dir / "labels.json", labels_meta(dataset))
    meta = {"format": "transfer-studio-run-model", "version": 1, "backbone": spec.id, "source": spec.source,
            "arch": spec.arch, "modality": dataset.modality, "classes": list(dataset.classes),
            "num_classes": len(dataset.classes), "freeze": cfg.freeze,
            "preprocess": _preprocess(spec, cfg, dataset.modality),
            "weights_origin": str(weights) if weights else "random-init", "weights_sha256": weights_digest(weights),
            "weights_path": str(weights) if weights else None}
    write_json(run_dir / "model.json", meta)
    return cfg, spec, dataset, run_dir, meta, device


def train(config: RunConfig, reporter=None, cancel=None, resume_from: str | None = None) -> dict:
    """Train (or resume) a run, refit it when the recipe says so; returns {"run_dir", "metrics", "stopped"}."""
    from ..backbones import build_tokenizer, get_spec
    from ..data import load_splits
    from . import refit

    t_start = time.monotonic()
    ranks = distributed.Ranks.from_env()
    if ranks.active:  # one of several processes torchrun started
        from .distributed_run import train_distributed

        return train_distributed(config, reporter, cancel, resume_from, ranks)
    if resume_from:
        run_dir = Path(resume_from)
        info = refit.load(run_dir)
        if not ckpt.has_checkpoint(run_dir / "checkpoints" / "last") and info is None:
            raise ConfigError(f"{run_dir} has no saved checkpoint to resume from; start a new run instead.")
        saved = RunConfig.from_dict(read_json(run_dir / "config.json"))
        if config is not None and config.epochs and config.epochs != saved.epochs and info is None:
            saved = saved.replace(epochs=config.epochs)
            write_json(run_dir / "config.json", saved.to_dict())
        cfg, meta = saved, read_json(run_dir / "model.json")
        report = RunReporter(run_dir / "events.jsonl", reporter, run_id=run_dir.name)
        spec = get_spec(meta["backbone"])
        dataset = load_splits(run_dir)
        device = resolve_device(cfg.device)
    else:
        report = RunReporter(None, reporter)
        cfg, spec, dataset, run_dir, meta, device = prepare(config, report, cancel)
        report.events_path, report.run_id = run_dir / "events.jsonl", run_dir.name
        log_left_out(dataset.report, report)  # once the run's log exists, so the run keeps the list too
        info = None
    configure(device, cfg.deterministic)
    report(protocol.Status(phase="loading_model", detail=f"{spec.display_name} on {device.type}"))
    report.log(f"Run directory: {run_dir}")
    tokenizer = None
    if meta["modality"] == "text":
        if resume_from:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(run_dir / "tokenizer"), local_files_only=True)
        else:
            tokenizer = build_tokenizer(spec, cfg.weights or "auto")
            tokenizer.save_pretrained(str(run_dir / "tokenizer"))
    phase = _Phase(cfg, spec, meta, run_dir, device, report, cancel, tokenizer)
    return _finish(phase, dataset, info, bool(resume_from), t_start)


def _finish(phase, dataset, info, resume: bool, t_start: float, stopped: str | None = None) -> dict:
    """The main phase (unless `stopped` says it has run), the probe decision, a refit, evaluation."""
    from .. import audit
    from ..classical import contender as simple_contender
    from . import probe_contender, refit

    cfg, run_dir, report, meta = phase.cfg, phase.run_dir, phase.report, phase.meta
    try:
        if info is None:
            if stopped is None:
                state, stopped = phase.fit(dataset, last=run_dir / "checkpoints" / "last", resume=resume)
            state = phase.state
            refit_wanted = refit.wanted(cfg, state, len(dataset.split("val")))
            probe_kept = probe_contender.keep_probe_if_better(phase, False, dataset)  # the network: probe or FT
            if simple_contender.challenge(phase, dataset, refit_wanted):  # kept: refitted already if wanted
                pass
            elif probe_kept and refit_wanted:
                probe_contender.refit_probe(phase, dataset)
            elif refit_wanted:
                info = refit.begin(run_dir, state, dataset, members=cfg.refit_soup or 1,
                                   until=cfg.refit_epochs or "best")
        if info is not None and info.get("status") == "running":
            refit.run(info, phase, dataset)
    except Cancelled:
        report.log("Cancelled: the last state is saved under checkpoints/; resume continues from there.")
        return {"run_dir": str(run_dir), "metrics": {}, "stopped": "cancelled"}
    from ..evaluate import evaluate_run

    stopped = stopped or "completed"
    metrics = evaluate_run(str(run_dir), reporter=report)
    audit.record_train(run_dir, meta, stopped)
    report.log(f"Finished in {time.monotonic() - t_start:.1f} s ({stopped}).")
    report(protocol.Result(run_dir=str(run_dir), metrics=metrics))
    return {"run_dir": str(run_dir), "metrics": metrics, "stopped": stopped}


class _Phase:
    """One training phase: a model, its optimizer and the epoch loop over one view of the data.

    The main phase selects the best epoch on validation (checkpoints/best); a refit phase
    trains on train + validation along the same learning-rate schedule, stops after
    `stop_epoch` (the epoch that won), and only its final state becomes the model.
    """

    def __init__(self, cfg, spec, meta, run_dir, device, report, cancel, tokenizer, stop_epoch: int | None = None,
                 ranks=distributed.SINGLE):
        self.cfg, self.spec, self.meta, self.run_dir = cfg, spec, meta, run_dir
        self.device, self.report, self.cancel, self.tokenizer = device, report, cancel, tokenizer
        self.stop_epoch = stop_epoch
        self.ranks = ranks  # several processes: only rank 0 writes checkpoints and fits the probe contender
        self.model = self.state = self.loop = self.blend = self.preparing = None

    def alone(self) -> None:
        """Rank 0 after the others left: the phase and its loop go on as a single process."""
        self.ranks = distributed.SINGLE
        if self.loop is not None:
            self.loop.ranks, self.loop.net = distributed.SINGLE, self.loop.model

    @property
    def select(self) -> bool:
        """The main phase selects on validation; a refit (stop_epoch set) does not."""
        return self.stop_epoch is None

    def _model(self, last: Path, resume: bool):
        from ..backbones import build_model, model_from_config

        spec, n_classes = self.spec, len(self.meta["classes"])
        torch.manual_seed(self.cfg.seed)
        if resume:
            hf_path = self.run_dir / "hf_config.json"
            model = model_from_config(spec, n_classes, read_json(hf_path) if hf_path.is_file() else None)
            ckpt.load_model_weights(last, model)
            return model
        # the checked file prepare() recorded: a pickle the person named was converted to safetensors in a
        # separate process (library/safe_copy.py), and this process never opens the pickle itself
        model = build_model(spec, n_classes, weights=self.meta.get("weights_path") or self.cfg.weights or "auto")
        _small_head_init(model, spec, n_classes)
        if self.meta["modality"] == "text" and not (self.run_dir / "hf_config.json").is_file():
            write_json(self.run_dir / "hf_config.json", json.loads(model.config.to_json_string()))
        if int(self.cfg.freeze) >= len(spec.stages):
            from .probe_speed import zero_head

            zero_head(model, spec)  # a linear probe converges in a few epochs from a zero head
        return model

    def fit(self, dataset, last: Path, resume: bool, callbacks: list | None = None):
        """Train to the end (or early stop); returns (LoopState, how it stopped). Raises Cancelled.

        `callbacks` are added after the phase's own (a soup member's KeepMember)."""
        from ..freezing import freeze_to, param_groups, split_for_features
        from .batches import make_dataset

        cfg, spec, meta, report, device = self.cfg, self.spec, self.meta, self.report, self.device
        self.model = model = self._model(last, resume)
        k = int(cfg.freeze)
        freeze_to(model, spec, k)
        channels_last = meta["modality"] == "image"
        model.to(device)
        if channels_last:
            model.to(memory_format=torch.channels_last)
        linear_probe = k >= len(spec.stages) and cfg.feature_cache
        splits = {}
        for name in ("train", "val"):
            ds, collate = make_dataset(dataset.split(name), modality=meta["modality"], preprocess=meta["preprocess"],
                                       train=(name == "train" and not linear_probe), augment=cfg.augment,
                                       tokenizer=self.tokenizer, train_size=cfg.train_input_size)
            splits[name] = Split(dataset=ds, collate=collate)
        groups = param_groups(model, spec, k, cfg.lr, cfg.lr_stage_decay, cfg.weight_decay)
        base_lrs = [g["lr"] for g in groups]
        self.optimizer = optimizer = torch.optim.AdamW(groups, lr=cfg.lr)
        self.state = state = LoopState(batch_size=cfg.batch_size)
        saved = ckpt.load_state(last) if resume else {}
        if resume:
            self.state = state = LoopState(**saved["loop"])
            ckpt.load_optimizer(last, optimizer)
            report.log(f"Resuming after epoch {state.epoch}" + (
                f" (+{state.samples_in_epoch} examples)" if state.samples_in_epoch else ""))

        def save_last(st: LoopState, partial: bool) -> None:
            if not self.ranks.is_main:
                return
            path = ckpt.save_checkpoint(last, model, {"epoch": st.epoch, "global_step": st.global_step,
                                                      "partial": partial, "loop": st.to_dict(),
                                                      "monitor": loop.monitor,
                                                      "callbacks": loop.callback_states()}, optimizer)
            report(protocol.Checkpoint(kind="last", path=str(path), epoch=st.epoch))

        class_weights = _class_weights(dataset.split("train"), len(meta["classes"]), device) \
            if cfg.class_weighted else None
        self.loop = loop = Loop(model=model, optimizer=optimizer, base_lrs=base_lrs, cfg=cfg, device=device,
                                train=splits["train"], val=splits["val"], report=report, cancel=self.cancel,
                                callbacks=[*self._callbacks(dataset, last, save_last, linear_probe, split_for_features),
                                           *(callbacks or [])],
                                amp_dtype=amp_dtype_for(device), channels_last=channels_last,
                                class_weights=class_weights, stop_epoch=self.stop_epoch, ranks=self.ranks)
        loop.load_callback_states(saved.get("callbacks"))
        speed = contextlib.nullcontext()
        if linear_probe:  # epochs on cached features take milliseconds: see probe_speed.py
            from .probe_speed import single_thread_on_cpu

            speed = single_thread_on_cpu(device)
        with speed:
            stopped = loop.fit(state, resumed=resume)
        if self.select and not ckpt.has_checkpoint(self.run_dir / "checkpoints" / "best"):
            self.save_best(state)
        return state, stopped

    def _callbacks(self, dataset, last: Path, save_last, linear_probe: bool, split_for_features) -> list:
        """The phase's callbacks, in the order their hooks must run (callbacks.py)."""
        from .callbacks import Announce, BnFreeze, SaveCheckpoints

        cfg, spec, meta, k = self.cfg, self.spec, self.meta, int(self.cfg.freeze)
        main = self.ranks.is_main  # what writes files (the contender, the blend's start) runs on rank 0 only
        out = []
        if linear_probe:
            from .features import FeatureCache

            out.append(FeatureCache(spec, meta, dataset, split_for_features))
        elif cfg.head_warmup and k < len(spec.stages):
            from .head_warmup import HeadWarmup

            warmup = HeadWarmup(spec, dataset, meta, self.tokenizer, split_for_features)
            out.append(warmup)
            if self.select and cfg.compare_probe and main:
                from .probe_contender import PrepareContender

                self.preparing = PrepareContender(warmup, self.run_dir, spec, len(meta["classes"]), cfg.seed,
                                                  bool(cfg.class_weighted))
                out.append(self.preparing)
        if self.blend_wanted() and main:
            from .weight_blend import WeightBlend

            self.blend = WeightBlend(cfg.finetune_blend, last)
            out.append(self.blend)
        out.append(Announce(phase="training" if self.select else "refitting", detail=lambda loop, st: (
            f"{loop.stop_epoch} epoch{'s' if loop.stop_epoch != 1 else ''}, batch {st.batch_size}"
            + _crops(cfg, meta["modality"]))))
        out.append(BnFreeze(spec, k, cfg.freeze_bn_stats))
        best = self.save_best if self.select else None  # a refit keeps only its final state
        if linear_probe:
            from .probe_speed import DeferredSaves

            out.append(DeferredSaves(save_last, best, self.model))
        else:
            out.append(SaveCheckpoints(save_last, best))
        return out

    @property
    def contender(self):
        """The linear probe fitted beside this phase (probe_contender.py), once the warm-up has run."""
        return self.preparing.contender if self.preparing is not None else None

    def blend_wanted(self) -> bool:
        share = self.cfg.finetune_blend
        return share is not None and share < 1 and bool(self.cfg.head_warmup) \
            and int(self.cfg.freeze) < len(self.spec.stages)

    def final_tensors(self) -> dict:
        """The weights this phase would save: blended with its start when the blend is on."""
        if self.blend is not None and self.blend.active:
            return self.blend.tensors(self.model)
        return ckpt.state_dict_tensors(self.model)

    def save_best(self, st: LoopState) -> None:
        if not self.ranks.is_main:
            return
        share = self.cfg.finetune_blend
        tensors = self.final_tensors() if self.blend is not None and self.blend.active else None
        path = ckpt.save_checkpoint(self.run_dir / "checkpoints" / "best", self.model,
                                    {"epoch": st.epoch, "global_step": st.global_step, "best_score": st.best_score,
                                     "monitor": self.loop.monitor, "metrics": st.history[-1] if st.history else {},
                                     "refit": not self.select,
                                     "finetune_blend": share if tensors is not None else 1.0},
                                    tensors=tensors)
        self.report(protocol.Checkpoint(kind="best", path=str(path), epoch=st.epoch))

    def saved_val(self) -> dict:
        """Validation figures of the model checkpoints/best holds (blended, when the blend is on)."""
        if self.blend is None or not self.blend.active:
            best = next((h for h in self.state.history if h.get("epoch") == self.state.best_epoch), None)
            if best:
                return best
        ckpt.load_model_weights(self.run_dir / "checkpoints" / "best", self.model)
        return self.loop.validate()

    def save_final(self) -> None:
        """The refit model as it is after its last epoch."""
        self.save_best(self.state)

