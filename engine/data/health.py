"""Turning scan results into the health report: counts, summaries and plain findings.

Every finding says what was seen, what it means for training, and what to do about it.
"""
from __future__ import annotations

import os
import statistics
from collections import Counter, defaultdict

from .check import Checked
from .dicom import FRAME_POLICY
from .groups import SOURCE_WORDS
from .dedupe import Deduped
from .types import SPLITS, Example, HealthReport

SAMPLES_PER_CLASS = 6
FEW_EXAMPLES = 10
IMBALANCE_WARN = 3.0


def _stats(values: list[int]) -> dict:
    if not values:
        return {"min": 0, "median": 0, "max": 0}
    return {"min": min(values), "median": statistics.median_low(values), "max": max(values)}


def _s(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def class_table(classes: list[str], examples: list[Example]) -> list[dict]:
    """Per-class counts (total and per split) and a few sample paths (fewer when classes are many)."""
    samples = max(0, min(SAMPLES_PER_CLASS, 300 // max(1, len(classes))))
    rows = {c: {"name": c, "count": 0, "splits": dict.fromkeys(SPLITS, 0), "examples": []} for c in classes}
    for e in examples:
        row = rows[classes[e.label]]
        row["count"] += 1
        row["splits"][e.split] += 1
        if len(row["examples"]) < samples:
            row["examples"].append(e.path)
    return [rows[c] for c in classes]


def image_summary(checked: list[Checked], used: set[str]) -> dict:
    """Sizes and modes of the images that will be used (after duplicates are dropped)."""
    ok = [c for c in checked if c.problem is None and c.cand.kind == "image" and c.cand.path in used]
    out = {"count": len(ok), "width": _stats([c.width for c in ok]), "height": _stats([c.height for c in ok]),
           "modes": dict(sorted(Counter(c.mode for c in ok).items()))}
    dicom = [c.dicom for c in ok if c.dicom]
    if dicom:  # plain facts only: nothing here identifies a patient
        out["dicom"] = {"files": len(dicom), "multi_frame_files": sum(d["frames"] > 1 for d in dicom),
                        "frame_policy": FRAME_POLICY,
                        "modalities": dict(sorted(Counter(d["modality"] or "unknown" for d in dicom).items())),
                        "transfer_syntaxes": dict(sorted(Counter(d["transfer_syntax"] for d in dicom).items()))}
    return out


def group_summary(examples: list[Example], classes: list[str], keys: dict, group_by: str) -> dict:
    """Groups per class, images per group, groups spanning classes or splits, and a preview of
    the largest. Groups are named by their salted hash only: a key may identify a patient."""
    members: dict = defaultdict(list)
    for e in examples:
        members[e.group or ("file", e.label, e.sha256)].append(e)
    sizes = [len(m) for m in members.values()]
    leaks = [sorted(e.path for e in m) for m in members.values() if len({e.split for e in m}) > 1]
    sources = Counter(keys[e.path][0] if e.path in keys else "file" for e in examples)
    largest = sorted((m for g, m in members.items() if isinstance(g, str)), key=lambda m: (-len(m), m[0].path))
    return {"by": group_by, "count": len(members), "sources": dict(sorted(sources.items())),
            "per_class": {c: sum(any(e.label == i for e in m) for m in members.values()) for i, c in enumerate(classes)},
            "images_per_group": _stats(sizes),
            "spanning_classes": sum(len({e.label for e in m}) > 1 for m in members.values()),
            "across_splits": leaks[:50], "leaks": len(leaks),
            "preview": [{"group": m[0].group, "images": len(m),
                         "classes": sorted({classes[e.label] for e in m}), "splits": sorted({e.split for e in m}),
                         "examples": sorted(e.path for e in m)[:3]} for m in largest[:12]]}


def text_summary(lengths: list[int], replaced: list[tuple[str, int]]) -> dict:
    return {"files": len(lengths), "undecodable_files": sum(1 for _, n in replaced if n > 0),
            "replaced_chars": sum(n for _, n in replaced), "length": _stats(lengths)}


_SKIP_ADVICE = {
    "zero_byte": ("{n} empty (0-byte) {files} will be left out.",
                  "These are usually failed downloads or copies; copy them again or delete them."),
    "truncated": ("{n} {files} {are} cut off before the end and will be left out.",
                  "Copy them again from the original source; a partial image would teach the model noise."),
    "too_large": ("{n} {files} {are} larger than the decompression-bomb limit and will be left out.",
                  "Such sizes are usually corrupt or malicious files; if they are real, shrink them first."),
    "text_too_large": ("{n} text {files} {are} over 10 MB, far too long to be one example, and will be left out.",
                       "A file that size is usually a log or a data dump; split it into one file per example "
                       "or remove it."),
    "not_image": ("{n} {files} {have} an image extension but no image inside and will be left out.",
                  "Check what these files really are; rename or delete them."),
    "unreadable": ("{n} {files} could not be read and will be left out.",
                   "Open them in an image viewer or text editor; replace or delete the broken ones."),
    "dicom_not_image": ("{n} DICOM {files} {have} no image (a report, a structure set, a presentation state, a "
                        "DICOMDIR...) and will be left out.",
                        "Nothing to do: a PACS export holds such objects beside the images."),
    "dicom_undecodable": ("{n} DICOM {files} could not be decoded and will be left out; each is listed with its "
                          "transfer syntax.",
                          "Export them again uncompressed (or with another compression) from the PACS or viewer."),
    "empty_text": ("{n} {texts} {are} empty and will be left out.",
                   "Delete the empty files (or rows), or fill them with their text."),
    "not_text": ("{n} {files} with a text extension {are} not readable text (mostly undecodable bytes or control "
                 "codes) and will be left out.",
                 "Open them in a text editor: if they hold text, save them as UTF-8; if they are binary files, "
                 "move them out of the data folder."),
    "no_label": ("{n} table {rows} {have} no label and will be left out.",
                 "Fill in the label column for those rows, or delete them."),
    "bad_row": ("{n} {rows} of a JSON Lines file could not be read as JSON objects and will be left out.",
                "Make each line one JSON object holding the text and the label."),
    "wrong_fields": ("{n} table {rows} {have} more or fewer fields than the header and will be left out, "
                     "because which field is the label cannot be known.",
                     "Put quotes around texts that contain the separator (\"like, this\"), or save the "
                     "table as TSV; the listed rows show where."),
}


def _were(n: int) -> str:
    return "was" if n == 1 else "were"


def _plural_fill(template: str, n: int) -> str:
    one = n == 1
    return template.format(n=n, files="file" if one else "files", texts="text" if one else "texts",
                           rows="row" if one else "rows", are="is" if one else "are", have="has" if one else "have")


def _near_findings(rep: HealthReport, near: list[tuple], clusters: list[int] = ()) -> None:
    """Near-identical pairs: across classes a label conflict, across given splits a leak, else info;
    chains of look-alikes too large to be copies of one picture are named, not joined."""
    if clusters:
        rep.add("warning", "look_alike_clusters", f"{_s(sum(clusters), 'image')} form {_s(len(clusters), 'chain')} "
                f"of look-alike pictures (largest {clusters[0]}): too many to be copies of one picture, so they were "
                "not kept together for the split; the near-identical pairs are listed.",
                "Images of one kind can look alike; if they are copies, remove them, and if several come from "
                "one patient, group them by patient (PatientID, a file-name pattern or a CSV).")
    across = [(a, b) for a, b, _ in near if a.class_name != b.class_name]
    leaks = [(a, b) for a, b, _ in near if a.given_split and b.given_split and a.given_split != b.given_split]
    same = [(a, b) for a, b, _ in near if a.class_name == b.class_name]
    if same:
        rep.add("info", "near_duplicates", f"{_s(len(same), 'pair')} of near-identical images (re-saved, resized or "
                "re-exported copies) in the same class; each pair stays on one side of the split.",
                "Look at the pairs; delete the extra copies if they are the same picture.",
                [p for a, b in same for p in (a.path, b.path)])
    if across:
        rep.add("warning", "near_duplicates_across_classes", f"{_s(len(across), 'pair')} of near-identical images "
                "carry different labels (a label conflict): the model is taught two answers for one picture.",
                "Look at each pair and fix the label that is wrong (or delete one copy).",
                [p for a, b in across for p in (a.path, b.path)])
    if leaks:
        rep.add("warning", "near_duplicates_across_splits", f"{_s(len(leaks), 'pair')} of near-identical images sit "
                "in different train/val/test folders, so scores on them will look better than they are.",
                "Move one of each pair so both copies are in the same split folder (or delete one).",
                [p for a, b in leaks for p in (a.path, b.path)])


def _group_findings(rep: HealthReport) -> None:
    g = rep.groups
    if not g:
        return
    named = {k: n for k, n in g["sources"].items() if k != "file"}
    if named:
        by = "; ".join(f"{n} by {SOURCE_WORDS[k]}" for k, n in named.items())
        ipg = g["images_per_group"]
        rep.add("info", "groups", f"{_s(g['count'], 'group')} of examples ({by}); {ipg['min']}-{ipg['max']} images "
                f"per group (median {ipg['median']}). Each group stays on one side of the split.",
                "Check the groups preview: one group should be one patient (or one object).")
    if g["spanning_classes"]:
        rep.add("info", "groups_span_classes", f"{_s(g['spanning_classes'], 'group')} {'has' if g['spanning_classes'] == 1 else 'have'} "
                "examples in more than one class; each stays whole, in the split of the class most of its "
                "examples have.", "Nothing to do when one patient really has images of several classes.")
    if g["leaks"]:
        rep.add("warning", "group_leak_across_splits",
                f"{_s(g['leaks'], 'group')} (the same patient or object) {'appears' if g['leaks'] == 1 else 'appear'} "
                "in more than one of your train/val/test folders, so scores on them will look better than they are.",
                "Move each group's files into one split folder (or remove the split folders and let the app split "
                "by group).", [p for paths in g["across_splits"] for p in paths])


def _label_findings(rep: HealthReport) -> None:
    """What the labels sidecar decided: conflicts with folders, exclusions, unlabeled, changed files."""
    lab = rep.labels
    if not lab:
        return
    paths = lab["paths"]
    rep.add("info", "labels_sidecar", f"Labels from {lab['sidecar']}: {_s(lab['from_sidecar'], 'file')} labeled "
            "there; where it and a folder disagree, its label is used.",
            "Nothing to do; label more files in the app to add them.")
    if lab["overridden"]:
        rep.add("info", "label_conflicts", f"{_s(lab['overridden'], 'file')} {'has' if lab['overridden'] == 1 else 'have'} "
                "a label in the sidecar that differs from the folder it sits in; the sidecar's label is used.",
                "Check the list if that is not what you meant (the files were not moved).",
                [c["path"] for c in lab["conflicts"]])
    if lab["excluded"]:
        rep.add("info", "labels_excluded", f"{_s(lab['excluded'], 'file')} excluded in the labels "
                f"{_were(lab['excluded'])} left out.", "Nothing to do; give one a label to use it again.",
                paths["excluded"])
    if lab["unlabeled"]:
        rep.add("info", "unlabeled_files", f"{_s(lab['unlabeled'], 'file')} without a label {_were(lab['unlabeled'])} "
                "left out.", "Label them (most useful first) to train on more examples.", paths["unlabeled"])
    if lab["stale"]:
        rep.add("warning", "labels_stale", f"{_s(lab['stale'], 'file')} changed since {'it was' if lab['stale'] == 1 else 'they were'} "
                "labeled (the content is not what was labeled); the label is still used.",
                "Look at each again and confirm or change its label.", paths["stale"])
    if lab["missing"]:
        rep.add("info", "labels_missing", f"{_s(lab['missing'], 'labeled file')} {'is' if lab['missing'] == 1 else 'are'} "
                "no longer in the folder.", "Nothing to do if they were removed on purpose.", paths["missing"])


def add_findings(rep: HealthReport, deduped: Deduped, modality: str, undecodable: list[str],
                 cut: list[str] = ()) -> None:
    """Fill rep.findings from the rest of the report (classes, skipped, ignored, duplicates);
    `cut`: texts longer than any model reads."""
    by_code: dict[str, list[str]] = defaultdict(list)
    for s in rep.skipped:
        by_code[s.get("code") or "unreadable"].append(s["path"])
    for code, paths in by_code.items():
        msg, advice = _SKIP_ADVICE[code]
        rep.add("warning", code, _plural_fill(msg, len(paths)), advice, paths)

    ign: dict[str, list[str]] = defaultdict(list)
    for i in rep.ignored:
        ign[i.get("code") or "stray_files"].append(i["path"])
    if ign["hidden_files"]:
        n = len(ign["hidden_files"])
        rep.add("info", "hidden_files", f"{_s(n, 'hidden or system item')} (such as .DS_Store, Thumbs.db or "
                f".ipynb_checkpoints) {_were(n)} ignored.", "Nothing to do; they are not data.", ign["hidden_files"])
    if ign["stray_files"]:
        n = len(ign["stray_files"])
        rep.add("info", "stray_files", f"{_s(n, 'file')} outside the class folders {_were(n)} ignored.",
                "Move them into the folder of their class if they are examples.", ign["stray_files"])
    if ign["folder_links"]:
        n = len(ign["folder_links"])
        rep.add("warning", "folder_links", f"{_s(n, 'link')} to a folder {_were(n)} not followed: a link back into "
                "the data would read every file twice (or forever), and links inside class folders are not read.",
                "Move or copy the files of a linked folder into its class folder if they are examples.",
                ign["folder_links"])
    if ign["unsupported_files"]:
        exts = Counter(os.path.splitext(p)[1].lower() or "no extension" for p in ign["unsupported_files"])
        rep.add("warning", "unsupported_files", f"{_s(len(ign['unsupported_files']), 'file')} of a type this app "
                f"does not read ({', '.join(e for e, _ in exts.most_common(5))}) "
                f"{_were(len(ign['unsupported_files']))} ignored.",
                "Convert them to PNG/JPEG (images) or UTF-8 .txt (text) if they should be used.",
                ign["unsupported_files"])
    if ign["dicomdir"]:
        n = len(ign["dicomdir"])
        reasons = "; ".join(i["reason"] for i in rep.ignored if i.get("code") == "dicomdir")[:600]
        rep.add("info", "dicomdir", f"{_s(n, 'DICOMDIR index file')} {_were(n)} read as the export's index, not as "
                f"an image: {reasons}.", "Nothing to do, unless the index lists files that are missing: then copy "
                "the export again.", ign["dicomdir"])
    if ign["other_modality"]:
        other = "text" if modality == "image" else "image"
        rep.add("warning", "other_modality", f"{_s(len(ign['other_modality']), other + ' file')} in this "
                f"{modality} dataset {_were(len(ign['other_modality']))} ignored.",
                f"One run learns from one kind of data; move the {other} files to their own folder.",
                ign["other_modality"])

    if deduped.within_class:
        total = deduped.dropped_within + sum(c["count"] for c in rep.classes)
        many = deduped.dropped_within > 0.1 * max(total, 1)  # a tenth of the data is copies: worth a look
        rep.add("warning" if many else "info", "duplicates_within_class",
                f"{_s(deduped.dropped_within, 'file')} {'is an exact copy' if deduped.dropped_within == 1 else 'are exact copies'} "
                "of another file in the same class; one copy of each is kept.",
                "Only one copy of each is used; delete the copies to tidy the folder, and if there are many, "
                "check how the folder was put together.",
                [p for g in deduped.within_class for p in g[1:]])
    if deduped.across_classes:
        rep.add("warning", "duplicates_across_classes",
                f"{_s(len(deduped.across_classes), 'file')} appear{'s' if len(deduped.across_classes) == 1 else ''} "
                f"under two or more labels; all {deduped.dropped_conflicts} copies are left out because the right "
                "label is unknown.", "Decide which class each belongs to and delete the other copies.",
                [p for g in deduped.across_classes for p in g])
    if deduped.across_splits:
        rep.add("warning", "duplicates_across_splits",
                f"{_s(len(deduped.across_splits), 'file')} appear{'s' if len(deduped.across_splits) == 1 else ''} in "
                "more than one of your train/val/test folders, so scores on them will look better than they are.",
                "Delete the copies from the val/test folders (or from train) so no example is in two splits.",
                [p for g in deduped.across_splits for p in g])

    dicom = (rep.image or {}).get("dicom") or {}
    if dicom.get("multi_frame_files"):
        rep.add("info", "dicom_multi_frame", f"{_s(dicom['multi_frame_files'], 'DICOM file')} "
                f"{'holds' if dicom['multi_frame_files'] == 1 else 'hold'} several frames: {FRAME_POLICY}.",
                "To learn from every frame, export the frames as separate images (one folder per patient).")
    _group_findings(rep)
    _label_findings(rep)
    _near_findings(rep, deduped.near, deduped.look_alike_clusters)
    counts = {c["name"]: c["count"] for c in rep.classes}
    if rep.imbalance_ratio and rep.imbalance_ratio >= IMBALANCE_WARN:
        big, small = max(counts, key=counts.get), min(counts, key=counts.get)
        rep.add("warning", "imbalance", f"The largest class ({big}, {counts[big]}) has {rep.imbalance_ratio:.1f}x "
                f"the examples of the smallest ({small}, {counts[small]}); the model may favour large classes.",
                "Add examples to the small classes, or turn on class weighting.")
    few = sorted(c for c, n in counts.items() if n < FEW_EXAMPLES)
    if few:
        rep.add("warning", "few_examples", f"{_s(len(few), 'class', 'classes')} ({', '.join(few[:8])}) "
                f"{'has' if len(few) == 1 else 'have'} fewer than {FEW_EXAMPLES} examples, so "
                f"{'its' if len(few) == 1 else 'their'} scores will be noisy.",
                "Add more examples where you can; even 20-50 per class helps a lot.")
    if rep.classes and not any(c["splits"]["val"] for c in rep.classes):
        rep.add("warning", "no_val_split", "There are too few examples (or a validation share of 0) to hold any "
                "out for validation, so training cannot measure how well it generalises.",
                "Add examples until each class has at least 3, or raise the validation fraction.")
    if rep.presplit and not any(c["splits"]["test"] for c in rep.classes):
        rep.add("info", "no_test_split", "Your split folders have no test split, so final scores are measured "
                "on the validation data used to pick the best epoch.",
                "Add a test folder with the same class folders for an unbiased score.")
    if cut:
        noun = "texts" if any("#row=" in p for p in cut) else "files"
        rep.add("info", "long_texts", f"{len(cut)} {noun[:-1] if len(cut) == 1 else noun} longer than the model "
                "reads; only their first part is used.",
                "Nothing to do when the start of each text shows its class; otherwise split long texts into "
                "several shorter ones.", cut)
    if rep.text and rep.text["undecodable_files"]:
        t = rep.text
        rep.add("warning", "undecodable_text", f"{_s(t['undecodable_files'], 'text')} contained bytes that are not "
                f"UTF-8; {t['replaced_chars']} character(s) were replaced with \ufffd.",
                "Save the files as UTF-8 (most editors offer this in 'Save as') for exact text.",
                undecodable)
