"""MODEL_CARD.md of a bundle: what the model is, how good, and its limits.

Written for a person who did not train the model: plain sentences first, tables after,
and warnings at the top when the evidence is thin (few examples, duplicates, leaks).
"""
from __future__ import annotations

from pathlib import Path

from ..config import GROUP_SOURCE_WORDS, smaller_training_crop
from ..evaluate.report import markdown_confusion, markdown_score, prob, with_ci
from .clinical_card import markdown_audits, markdown_clinical

FEW_EXAMPLES = 20  # training examples per class below which a warning is given
SMALL_TEST = 30  # test examples below which intervals are called wide


def _noun(modality: str, n: int | None = None) -> str:
    word = "image" if modality == "image" else "text"
    return word if n == 1 else word + "s"


def _class_counts(training: dict, classes: list[str]) -> list[dict]:
    """[{name, train, val, test}] from the data report, or from the split sizes alone."""
    rows = {c: {"name": c, "train": 0, "val": 0, "test": 0} for c in classes}
    for entry in (training.get("data_report") or {}).get("classes") or []:
        if isinstance(entry, dict) and entry.get("name") in rows:
            splits = entry.get("splits") or {}
            rows[entry["name"]].update({k: int(splits.get(k, 0) or 0) for k in ("train", "val", "test")})
    return [rows[c] for c in classes]


def _warnings(training: dict, counts: list[dict], metrics: dict, modality: str) -> list[str]:
    out = []
    few = [r for r in counts if 0 < r["train"] < FEW_EXAMPLES]
    if few:
        names = _join([f"{r['name']} ({r['train']})" for r in few])
        out.append(f"Few training examples: {names}. Predictions for "
                   f"{'this class' if len(few) == 1 else 'these classes'} are less reliable; "
                   f"{FEW_EXAMPLES} or more per class is a better start.")
    dup = (training.get("data_report") or {}).get("duplicates") or {}
    if dup.get("across_splits"):
        out.append(f"{len(dup['across_splits'])} group(s) of identical files appear in more than one split, "
                   "so the held-out scores may be optimistic (a leak).")
    if dup.get("across_classes"):
        out.append(f"{len(dup['across_classes'])} group(s) of identical files carry different labels; "
                   "some training labels are contradictory.")
    if dup.get("within_class"):
        out.append(f"{len(dup['within_class'])} group(s) of duplicate files within a class were in the data.")
    test = metrics.get("test") or {}
    if not test.get("n"):
        out.append("There was no test split, so the only scores are on the validation split that also chose "
                   "the checkpoint; expect lower accuracy on new data.")
    elif test["n"] < SMALL_TEST:
        out.append(f"The test split holds only {test['n']} {_noun(modality, test['n'])}, so the scores below are "
                   "rough: see how wide their confidence intervals are.")
    if "random" in str(training.get("weights_origin", "")):
        out.append("The network started from random weights, not from a pretrained model.")
    return out


def _short(path: str, roots: list[str]) -> str:
    """A path relative to its data folder (named by its last part): no home folders in a shared card."""
    for root in roots:
        try:
            return str(Path(Path(root).name) / Path(path).relative_to(root))
        except ValueError:
            continue
    return Path(path).name


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _origin(origin, bb: dict) -> str:
    """Where the starting weights came from, by file name (no local folders in a shared card)."""
    if not origin:
        return "unknown"
    if "random" in str(origin):
        return "none (the network started from random weights)"
    package = bb.get("weights_package")
    name = Path(str(origin)).name
    return f"from the Python package {package} (`{name}`)" if package else f"`{name}`"


def _freezing(training: dict) -> str:
    stages, k = training.get("stages") or [], int(training.get("freeze") or 0)
    if not stages:
        return f"the first {k} stage(s) of the backbone were frozen." if k else "every layer was fine-tuned."
    if k <= 0:
        return f"none; all {len(stages)} backbone stages and the new classification head were fine-tuned."
    if k >= len(stages):
        return (f"the whole backbone ({len(stages)} stages) was frozen and only the new classification head "
                "was trained (a linear probe).")
    return (f"the first {k} of {len(stages)} backbone stages ({_join(stages[:k])}) were frozen; "
            f"the other {len(stages) - k} stages and the new classification head were trained.")


def _selection(training: dict) -> str:
    """Which model the run kept, the fine-tune or the linear probe that competed with it, and why."""
    sel = training.get("selection") if isinstance(training.get("selection"), dict) else None
    if not sel or not sel.get("winner"):
        return ""
    simple = sel.get("simple") if isinstance(sel.get("simple"), dict) else None
    network = _network_selection(sel)
    if simple:
        against_simple = _simple_selection(sel, simple)
        if sel["winner"] == "simple model" or not network or not against_simple:
            return against_simple or network
        return f"{network} {against_simple[0].upper()}{against_simple[1:]}"
    return network


def _network_selection(sel: dict) -> str:
    """The linear probe against the fine-tune (train/probe_contender.py), in the card's words."""
    key = sel.get("monitor") or "val_accuracy"
    name = key.removeprefix("val_").replace("_", " ")
    probe, ft = ((sel.get(k) or {}).get("val") or {} for k in ("probe", "fine_tune"))
    if probe.get(key) is None or ft.get(key) is None:
        return ""
    scores = f"validation {name} {probe[key]:.3f} for the probe, {ft[key]:.3f} for the fine-tune"
    test = sel.get("disagreements") if isinstance(sel.get("disagreements"), dict) else None
    if sel.get("network_winner", sel["winner"]) == "linear probe":
        beyond = (f"; where the two disagreed the probe was right {test.get('probe_right_finetune_wrong')} times and "
                  f"the fine-tune {test.get('finetune_right_probe_wrong')}, McNemar p = "
                  f"{float(test.get('p_value', 1)):.2g}" if test else "")
        c = (sel.get("probe") or {}).get("C")
        return ("**this model is a linear probe**: the pretrained backbone unchanged, with a logistic-regression "
                f"head fitted on its frozen features{f' (C={c:g})' if c else ''}. The fine-tune described below was "
                f"trained too and scored lower on the same validation examples ({scores}{beyond}), so it was not "
                "kept.")
    if test:  # the probe scored higher, but not beyond chance
        return (f"a linear probe on the frozen features competed with the fine-tune and scored higher ({scores}), "
                f"but not beyond chance: it was right on {test.get('probe_right_finetune_wrong')} validation examples "
                f"the fine-tune got wrong and wrong on {test.get('finetune_right_probe_wrong')} it got right "
                f"(McNemar p = {float(test.get('p_value', 1)):.2g}), so the fine-tune was kept.")
    return (f"a linear probe on the frozen features competed with the fine-tune and scored lower or the same "
            f"({scores}), so the fine-tune was kept.")


def _simple_selection(sel: dict, simple: dict) -> str:
    """The network against the simple model (engine/classical/contender.py), in the card's words."""
    key = sel.get("monitor") or "val_accuracy"
    name = key.removeprefix("val_").replace("_", " ")
    mine, theirs = (simple.get(k) or {} for k in ("val", "network_val"))
    if mine.get(key) is None or theirs.get(key) is None:
        return ""
    network = "linear probe" if sel.get("network_winner") == "linear probe" else "fine-tune"
    detail = (f"validation {name} {mine[key]:.3f} for the simple model, {theirs[key]:.3f} for the {network} on the "
              f"same {simple.get('examples')} examples; the simple model was right on "
              f"{simple.get('simple_right_network_wrong')} the network got wrong and wrong on "
              f"{simple.get('network_right_simple_wrong')} it got right (McNemar p = {simple.get('p_value', 1):.3g})")
    if sel["winner"] == "simple model":
        return (f"**this model is not a neural network**: it is {simple.get('method')}, fitted on your data alone. "
                f"The pretrained backbone did not help this data: the {network} described below was trained too and "
                f"lost to it on validation beyond chance ({detail}), so it was not kept.")
    return (f"a simple model ({simple.get('method')}) competed with the network and did not beat it beyond chance "
            f"({detail}), so the {network} was kept.")


def _recipe(training: dict, modality: str) -> str:
    cfg = training.get("config") or {}
    parts = []
    if cfg.get("epochs"):
        parts.append(f"up to {cfg['epochs']} epoch{'' if cfg['epochs'] == 1 else 's'}")
    refit = training.get("refit") if isinstance(training.get("refit"), dict) else None
    probe_kept = (training.get("selection") or {}).get("winner") == "linear probe"
    if probe_kept:
        if refit:
            parts.append(f"the probe kept was fitted again on training + validation ({refit.get('examples')} "
                         "examples); validation scores below are those of the probe fitted on training alone")
    elif refit and training.get("epoch") is not None:
        n = int(training["epoch"])
        epochs = f"{n} epoch{'' if n == 1 else 's'}"
        if refit.get("until") == "trained":
            selected = (refit.get("selected") or {}).get("epoch")
            parts.append(f"a first run of {epochs} on the training split"
                         + (f" (best validation score at epoch {selected})" if selected else "")
                         + f", then trained again from the start on training + validation "
                         f"({refit.get('examples')} examples) for the same {epochs}; validation scores below "
                         "are those of the first run's best epoch")
        else:
            parts.append(f"the epoch count ({n}) chosen on the validation split, then trained again from the start "
                         f"on training + validation ({refit.get('examples')} examples) for {epochs}; "
                         "validation scores below are those of the model selected before that refit")
        members = int(refit.get("members") or 1)
        if members > 1:
            parts.append(f"that refit ran {members} times, each with its own data order and head fit, and the saved "
                         f"weights are the average of the {members} (a model soup)")
    elif training.get("epoch") is not None:
        monitor = str(training.get("monitor") or "validation score").replace("val_", "validation ").replace("_", " ")
        parts.append(f"weights kept from epoch {training['epoch']} (the best {monitor})")
    blend = training.get("finetune_blend")
    if isinstance(blend, (int, float)) and 0 < blend < 1 and not probe_kept:
        parts.append(f"the saved weights are {blend:.0%} the fine-tuned network and {1 - blend:.0%} the network "
                     "it started from (pretrained backbone + head fitted on frozen features; WiSE-FT)")
    if cfg.get("batch_size"):
        parts.append(f"batch size {cfg['batch_size']}")
    if cfg.get("lr"):
        lr = f"learning rate {cfg['lr']:g} for the head"
        if cfg.get("lr_stage_decay") not in (None, 1, 1.0) and int(training.get("freeze") or 0) < len(
                training.get("stages") or [0]):
            lr += f", times {cfg['lr_stage_decay']:.2g} for each stage further back"
        parts.append(lr)
    if cfg.get("weight_decay") is not None:
        parts.append(f"weight decay {cfg['weight_decay']:g}")
    if modality == "image":
        parts.append(f"augmentation \"{cfg.get('augment', 'none')}\"")
        size, crop = cfg.get("input_size"), smaller_training_crop(cfg)
        if size:
            parts.append(f"{size}-pixel inputs" + (f" (trained on random {crop}-pixel crops, so it sees images "
                                                   "slightly larger than in training, as FixRes recommends)"
                                                   if crop else ""))
    elif cfg.get("max_length"):
        parts.append(f"texts cut at {cfg['max_length']} tokens")
    if cfg.get("label_smoothing"):
        parts.append(f"label smoothing {cfg['label_smoothing']:g}")
    if cfg.get("class_weighted"):
        parts.append("loss weighted by class frequency")
    return ("; ".join(parts) + ".") if parts else ""


def _data_section(training: dict, counts: list[dict], modality: str) -> list[str]:
    report = training.get("data_report") or {}
    splits = training.get("splits") or {}
    sizes = {k: (splits.get(k) or {}).get("examples", 0) for k in ("train", "val", "test")}
    roots = training.get("data_roots") or report.get("roots") or []
    lines = ["## Training data", ""]
    if roots:
        lines.append("Read from the folder" + ("s " if len(roots) > 1 else " ")
                     + ", ".join(f"`{Path(r).name or r}`" for r in roots) + ".")
    lines += [f"{sum(sizes.values())} {_noun(modality)} in all: {sizes['train']} for training, {sizes['val']} for "
              f"validation (choosing the checkpoint) and {sizes['test']} for the final test. The exact split is "
              "recorded by content hash in training.json.", "",
              "| Class | Train | Validation | Test | Total |", "|---|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['train']} | {r['val']} | {r['test']} | {r['train'] + r['val'] + r['test']} |"
              for r in counts]
    lines += _dicom_and_groups(report, training.get("config") or {})
    findings = [f for f in report.get("findings") or [] if isinstance(f, dict) and f.get("severity") != "info"]
    skipped = report.get("skipped") or []
    lines += ["", "### Data health", ""]
    if not findings and not skipped:
        lines.append("The data check found no problems.")
    for f in findings:
        advice = f" {f['advice']}" if f.get("advice") else ""
        lines.append(f"- **{str(f.get('severity', 'note')).capitalize()}:** {f.get('message', '')}{advice}")
    if skipped:
        lines.append(f"- {len(skipped)} file(s) could not be read and were left out.")
    return lines


def _dicom_and_groups(report: dict, config: dict) -> list[str]:
    """How DICOM files were read and how examples were kept together (counts only, never a key)."""
    lines = []
    dicom = (report.get("image") or {}).get("dicom") or {}
    if dicom:
        mods = ", ".join(f"{m} {n}" for m, n in (dicom.get("modalities") or {}).items())
        lines += ["", f"{dicom.get('files', 0)} of the images are DICOM files ({mods}), read through their "
                  f"modality LUT (rescale) and the '{config.get('dicom_window', 'file')}' window "
                  "(preprocess.json `dicom_window`; predict.py reads new files the same way); "
                  f"{dicom.get('frame_policy', '')}."]
    groups = report.get("groups") or {}
    named = {k: n for k, n in (groups.get("sources") or {}).items() if k != "file"}
    if named:
        by = ", ".join(f"{n} by {GROUP_SOURCE_WORDS.get(k, k)}" for k, n in named.items())
        kept = (f"{groups['leaks']} group(s) sit in two of the given split folders (see Data health)"
                if groups.get("leaks") else "no group (one patient or object) is in two of train, validation and test")
        lines += ["", f"Images were split by group, not one by one: {groups.get('count', 0)} groups ({by}); {kept}."]
    return lines


def _settings_section(training: dict) -> list[str]:
    """Every setting the run used, with the auto recipe's reason for the ones it chose (recipe.json,
    written from engine/recipe's rules: the same words `transfer-studio recipe` prints)."""
    rows = [r for r in training.get("recipe") or [] if isinstance(r, dict) and r.get("name")]
    if not rows:
        return []
    out = ["", "### Settings, and why", "", "| setting | value | chosen by |", "|---|---|---|"]
    for r in rows:
        value = r.get("value")
        shown = ("on" if value else "off") if isinstance(value, bool) else (f"{value:g}" if isinstance(value, float)
                                                                              else str(value))
        why = f"the auto recipe: {r.get('reason')}" if r.get("auto") else "the person who trained it"
        out.append(f"| `{r['name']}` | {shown} | {why} |")
    return out


def render_model_card(manifest: dict, training: dict, metrics: dict, classes: list[str]) -> str:
    modality, bb = manifest["modality"], manifest["backbone"]
    simple = manifest.get("kind") == "simple"  # logistic regression on pixels or words (engine/classical)
    counts = _class_counts(training, classes)
    test = metrics.get("test") or {}
    shown = ", ".join(f"**{c}**" for c in classes[:12]) + (f" and {len(classes) - 12} more" if len(classes) > 12 else "")
    lines = [f"# {manifest['name']}: {'an image' if modality == 'image' else 'a text'} classifier "
             f"with {len(classes)} classes", "",
             f"This model sorts {_noun(modality)} into {len(classes)} classes: {shown}. It was made with "
             f"Transfer Studio {manifest['app']['version']} by "
             + (f"fitting **{bb['display_name']}** (not a neural network: the pretrained network it was compared "
                "with did worse on this data)" if simple else f"fine-tuning **{bb['display_name']}**")
             + f" on {manifest['created'][:10]}."]
    if test.get("n"):
        lines[-1] += (f" On {test['n']} held-out test {_noun(modality, test['n'])} it chose the right class "
                      f"{with_ci(test, 'accuracy')} of the time.")
    warnings = _warnings({**training, "weights_origin": bb.get("weights_origin")}, counts, metrics, modality)
    if warnings:
        lines += ["", "> **Read this first**", ">"] + [f"> - {w}" for w in warnings]
    lines += ["", "## Intended use", "",
              f"Sorting new {_noun(modality)} that resemble the training data into the classes above, with a "
              "person checking the uncertain cases (low top probability). It always answers with one of its "
              f"{len(classes)} classes, even for {_noun(modality)} that belong to none of them, and it has not been "
              "checked for fairness or safety: do not use it alone for decisions about people, health or money.", ""]
    lines += _data_section(training, counts, modality)
    n_params = (training.get("backbone") or {}).get("num_params")
    params = f", {n_params:,} backbone parameters" if isinstance(n_params, int) else ""
    if simple:
        lines += ["", "## Model", "", *_simple_model_lines(training, modality)]
    else:
        lines += _network_model_lines(training, bb, params, modality)
    lines += _settings_section(training)
    lines += _results_and_limits(manifest, training, metrics, modality, simple)
    return "\n".join(lines) + "\n"


def _simple_model_lines(training: dict, modality: str) -> list[str]:
    """The simple model, and the network it beat (whose recipe the settings below describe)."""
    net = training.get("backbone") or {}
    out = ["- Model: " + _selection(training),
           "- No pretrained weights: every number in `model.safetensors` was fitted on the training data above "
           "(`classical.json` says what each array is).",
           f"- The network it was compared with: {net.get('display_name', net.get('id', 'unknown'))}; "
           f"{_freezing(training)}"]
    recipe = _recipe(training, modality)
    if recipe:
        out.append(f"- Recipe of that network: {recipe}")
    return out


def _network_model_lines(training: dict, bb: dict, params: str, modality: str) -> list[str]:
    lines = ["", "## Model", "",
             f"- Backbone: {bb['display_name']}: registry id `{bb['id']}`, {bb['source']} `{bb['arch']}`{params}.",
             f"- Licence of the backbone: {bb.get('license') or 'unknown'}. Check it before you share or sell this "
             "model.",
             f"- Pretrained weights: {_origin(bb.get('weights_origin'), training.get('backbone') or {})}.",
             f"- Frozen during training: {_freezing(training)}"]
    selection = _selection(training)
    if "linear probe**" in selection:
        lines[-1] = f"- Frozen during the fine-tune: {_freezing(training)}"
    if selection:
        lines.append(f"- Model kept: {selection}")
    recipe = _recipe(training, modality)
    if recipe:
        lines.append(f"- Recipe{' of the fine-tune' if 'linear probe**' in selection else ''}: {recipe}")
    return lines


def _results_and_limits(manifest: dict, training: dict, metrics: dict, modality: str, simple: bool) -> list[str]:
    test, val = metrics.get("test") or {}, metrics.get("val") or {}
    lines = ["", "## Results", "", "Intervals are 95% intervals: Wilson score intervals for rates (accuracy, sensitivity, "
              "specificity, PPV, NPV), 1000 bootstrap resamples of the split for the other scores.", ""]
    lines += [f"### Test split ({test.get('n', 0)} {_noun(modality, test.get('n'))})", "", markdown_score(test), ""]
    if test.get("n"):
        lines += ["Confusion matrix of the test split (rows: the true class, columns: the prediction):", "",
                  markdown_confusion(test), ""]
    lines += [
              f"### Validation split ({val.get('n', 0)} {_noun(modality, val.get('n'))})", "",
              "The validation split chose the checkpoint, so these numbers lean optimistic.", "",
              markdown_score(val)]
    lines += markdown_clinical(metrics, modality) + markdown_audits(metrics)
    errors = (test or val).get("confident_errors") or []
    if errors:
        lines += ["", "The most confident mistakes on the " + ("test" if test.get("n") else "validation") + " split:", ""]
        roots = training.get("data_roots") or []
        lines += [f"- `{_short(e['path'], roots)}`: labelled {e['true']}, predicted {e['predicted']} "
                  f"({prob(e['probability'])})" for e in errors[:5]]
    parity = (manifest.get("onnx") or {}).get("parity") or {}
    lines += ["", "## Limitations", "",
              f"- The scores hold for {_noun(modality)} like the training data. "
              + ("Other cameras, lighting or scanners " if modality == "image" else
                 "Other writers, topics or time periods ")
              + "can do noticeably worse; score a labeled sample of your own data with "
              "`transfer-studio evaluate --model THIS_BUNDLE --data FOLDER` before relying on it.",
              ("- Probabilities are temperature-scaled on the validation split (see above); on other data they "
               "may be over- or under-confident again." if ((metrics.get("clinical") or {}).get("decision") or {})
               .get("temperature", 1.0) != 1.0 else f"- Probabilities are the {'model' if simple else 'network'}'s "
               "softmax outputs; they were not calibrated."),
              "- Classes with fewer examples, and classes that look alike in the confusion matrix, are the "
              "least reliable.", "",
              "## Files", "",
              "See README.md for how to run `predict.py` (needs only onnxruntime and numpy, plus "
              + (("Pillow) and how to compute the model with numpy alone." if modality == "image" else
                  "nothing more) and how to compute the model with numpy alone.") if simple else
                 f"{'Pillow' if modality == 'image' else 'tokenizers'}) and how to load the weights in plain "
                 f"{'PyTorch' if modality == 'image' else 'Hugging Face transformers'}.")]
    if parity:
        lines.append(f"`model.onnx` was checked against the {'app' if simple else 'PyTorch'} model on "
                     f"{parity['examples']} "
                     f"{parity.get('split', 'test')} {_noun(modality, parity['examples'])}: the largest difference "
                     f"in any class probability was {parity['max_abs_prob_diff']:.1e}.")
    return lines
