"""What a start would do, before anything is written: settings checked, data scanned, backbone
picked, the auto recipe applied. `prepare` (run.py) goes on to create the run; the engine's
`resolve_config` request stops here, so the GUI shows what the engine will do by asking it.
"""
from __future__ import annotations

from ..config import ConfigError, RunConfig
from ..errors import BackboneError
from .device import resolve_device


def check_freeze(spec, freeze: int | None) -> None:
    if freeze is not None and freeze > len(spec.stages):
        raise ConfigError(f"Freezing depth {freeze} is out of range for {spec.id}: it has {len(spec.stages)} "
                          f"stages, so choose 0 (train everything) to {len(spec.stages)} (train only the head).")


def check_compatible(spec, dataset, freeze: int | None) -> None:
    if spec.modality != dataset.modality:
        raise BackboneError(
            f"The backbone {spec.id} reads {spec.modality} but this data is {dataset.modality}; "
            f"choose a backbone for {dataset.modality} data (see `transfer-studio backbones`).")
    check_freeze(spec, freeze)


def scan_and_pick(config: RunConfig, report, cancel):
    """Validate, scan the data and pick the backbone; returns (spec, dataset, device)."""
    from ..backbones import get_spec
    from ..data import scan
    from ..recipe import choose_backbone

    config.validate()
    spec = get_spec(config.backbone) if config.backbone != "auto" else None
    if spec is not None:
        check_freeze(spec, config.freeze)
    device = resolve_device(config.device)
    report.status("scanning", "Checking the data")
    dataset = scan(config.data, val_fraction=config.val_fraction, test_fraction=config.test_fraction,
                   seed=config.seed, text_column=config.text_column, label_column=config.label_column,
                   reporter=report, cancel=cancel, **config.grouping())
    if spec is None:
        spec = get_spec(choose_backbone(dataset.modality))
    check_compatible(spec, dataset, config.freeze)
    return spec, dataset, device


def recipe(config: RunConfig, spec, dataset, device):
    """(resolved config, [Setting], Facts) for this data and backbone."""
    from ..recipe import Facts, resolve

    facts = Facts.of_dataset(dataset, spec, str(device))
    cfg, settings = resolve(config.replace(backbone=spec.id), facts)
    return cfg, settings, facts


class _Quiet:
    """A reporter for a preview: the scan's progress goes nowhere."""

    def __call__(self, msg) -> None:
        pass

    def status(self, *args, **kwargs) -> None:
        pass

    def log(self, *args, **kwargs) -> None:
        pass


def preview(config: RunConfig, cancel=None, with_estimate: bool = True):
    """(resolved config, [Setting], Facts, estimate dict | None): what `train` would use and, timed on
    this machine, how long it would take at most (estimate.py); nothing is written."""
    spec, dataset, device = scan_and_pick(config, _Quiet(), cancel)
    cfg, settings, facts = recipe(config, spec, dataset, device)
    if not with_estimate:
        return cfg, settings, facts, None
    from .estimate import estimate

    return cfg, settings, facts, estimate(spec, cfg, facts, device)
