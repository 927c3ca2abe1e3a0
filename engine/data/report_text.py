"""The health report as plain text for a terminal (`transfer-studio inspect`)."""
from __future__ import annotations

SHOW_PATHS = 5
MARK = {"error": "ERROR", "warning": "WARN ", "info": "info "}


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        out.append("  " + "  ".join(cells).rstrip())
    return out


def _range(d: dict | None) -> str:
    d = d or {}
    return f"{d.get('min', 0)}-{d.get('max', 0)} (median {d.get('median', 0)})"


def format_report(report: dict) -> str:
    """A readable summary: sources, class table, file summary, findings with advice."""
    lines: list[str] = []
    roots = report.get("roots") or []
    modality = report.get("modality") or "unknown"
    classes = report.get("classes") or []
    total = sum(int(c.get("count") or 0) for c in classes)
    lines.append(f"Data: {', '.join(roots) or '(none)'}")
    if report.get("fatal"):
        lines.append(f"PROBLEM: {report['fatal']}")
    kind = {"image": "images", "text": "texts"}.get(modality, "examples")
    presplit = " (split by your train/val/test folders)" if report.get("presplit") else ""
    lines.append(f"{total} usable {kind} in {len(classes)} classes{presplit}.")
    if classes:
        rows = [["class", "count", "train", "val", "test"]]
        for c in classes:
            s = c.get("splits") or {}
            rows.append([str(c.get("name")), str(c.get("count", 0)),
                         *(str(s.get(k, 0)) for k in ("train", "val", "test"))])
        rows.append(["total", str(total), *(str(sum((c.get("splits") or {}).get(k, 0) for c in classes))
                                            for k in ("train", "val", "test"))])
        lines.append("")
        lines.extend(_table(rows, right={1, 2, 3, 4}))
        ratio = report.get("imbalance_ratio")
        if ratio:
            lines.append(f"  imbalance (largest / smallest class): {ratio:g}")
    img, txt = report.get("image"), report.get("text")
    if img and img.get("count"):
        modes = ", ".join(f"{m} {n}" for m, n in (img.get("modes") or {}).items())
        lines += ["", f"Images: {img['count']} readable; width {_range(img.get('width'))}, "
                  f"height {_range(img.get('height'))}; modes: {modes}"]
    dicom = (img or {}).get("dicom")
    if dicom:
        syntaxes = ", ".join(f"{s} {n}" for s, n in dicom.get("transfer_syntaxes", {}).items())
        lines.append(f"DICOM: {dicom['files']} files ({', '.join(f'{m} {n}' for m, n in dicom['modalities'].items())}); "
                     f"{dicom['multi_frame_files']} multi-frame ({dicom['frame_policy']}); transfer syntaxes: {syntaxes}")
    groups = report.get("groups")
    if groups and any(k != "file" for k in groups.get("sources", {})):
        by = ", ".join(f"{n} by {k}" for k, n in groups["sources"].items())
        lines.append(f"Groups: {groups['count']} ({by}); images per group {_range(groups.get('images_per_group'))}; "
                     f"per class: {', '.join(f'{c} {n}' for c, n in groups.get('per_class', {}).items())}")
    if txt and txt.get("files"):
        lines += ["", f"Texts: {txt['files']} readable; length {_range(txt.get('length'))} characters; "
                  f"{txt.get('undecodable_files', 0)} with non-UTF-8 bytes ({txt.get('replaced_chars', 0)} replaced)"]
    lab = report.get("labels")
    if lab:
        lines.append(f"Labels: {lab.get('sidecar')}: {lab.get('from_sidecar', 0)} from the sidecar "
                     f"({lab.get('overridden', 0)} differ from their folder); left out: {lab.get('excluded', 0)} "
                     f"excluded, {lab.get('unlabeled', 0)} unlabeled; {lab.get('stale', 0)} changed since labeled.")
    totals = report.get("totals") or {}
    n_skip = totals.get("skipped", len(report.get("skipped") or []))
    n_ign = totals.get("ignored", len(report.get("ignored") or []))
    lines.append(f"Skipped (unusable): {n_skip}; ignored (not data): {n_ign}.")
    findings = [f for f in report.get("findings") or [] if f.get("code") != "fatal"]
    if findings:
        lines += ["", "Findings:"]
        for f in findings:
            lines.append(f"  {MARK.get(f.get('severity'), '     ')} {f.get('message', '')}")
            if f.get("advice"):
                lines.append(f"        -> {f['advice']}")
            paths = f.get("paths") or []
            for p in paths[:SHOW_PATHS]:
                lines.append(f"         {p}")
            more = int(f.get("count") or len(paths)) - min(len(paths), SHOW_PATHS)
            if more > 0:
                lines.append(f"         ... and {more} more (use --json for the full list)")
    elif not report.get("fatal"):
        lines += ["", "No problems found."]
    return "\n".join(lines) + "\n"
