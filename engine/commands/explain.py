"""`transfer-studio explain`: what the model looked at, written as files.

Images: `<name>.<class>.png`, the Grad-CAM map over the model's view of the image (and with
--maps the raw map as `.npy`); text: `<name>.<class>.json` with the word scores. Works from any
bundle or run; the maps are also kept in the engine's explanation cache.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path


def add_arguments(p) -> None:
    p.add_argument("--model", required=True, metavar="PATH", help="a saved bundle (.tsbundle) or a run directory")
    p.add_argument("inputs", nargs="+", metavar="FILE", help="files or folders (searched recursively)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the overlays (PNG) and word scores (JSON)")
    p.add_argument("--class", dest="target", metavar="NAME", default=None,
                   help="explain this class (name or index) instead of the one the model decided on")
    p.add_argument("--maps", action="store_true", help="also write each raw map as .npy (images)")
    p.add_argument("--json", action="store_true", help="print one JSON object per input")


def _target(name: str | None, classes: list[str]) -> int | None:
    from ..errors import BundleError

    if name is None:
        return None
    if name in classes:
        return classes.index(name)
    if name.isdigit() and int(name) < len(classes):
        return int(name)
    raise BundleError(f"This model has no class {name!r}; its classes are: {', '.join(classes)}.")


def _unique(out: Path, stem: str, suffix: str, used: set[str]) -> Path:
    name, n = f"{stem}{suffix}", 2
    while name in used:
        name, n = f"{stem}-{n}{suffix}", n + 1
    used.add(name)
    return out / name


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:60] or "class"


def run(args) -> int:
    from ..atomic import write_json
    from ..bundle import preprocessing as pre
    from ..explain import Explainer
    from ..inference import _extensions

    explainer = Explainer.open(args.model)
    target = _target(args.target, explainer.classes)
    files, problems = pre.collect_inputs([str(p) for p in args.inputs], *_extensions(explainer.modality))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    rows = list(problems)
    for path in files:
        try:
            info = explainer.explain(path, target)
        except Exception as exc:  # one unreadable input is reported, not fatal
            rows.append({"path": path, "error": f"could not explain it ({type(exc).__name__}: {exc})"})
            continue
        stem = f"{Path(path.split('#', 1)[0]).stem}.{_safe(info['target_label'])}"
        if info["modality"] == "image":
            dest = _unique(out, stem, ".png", used)
            shutil.copyfile(info["overlay"], dest)
            if args.maps:
                shutil.copyfile(info["map"], dest.with_suffix(".npy"))
        else:
            dest = _unique(out, stem, ".json", used)
            write_json(dest, {k: info[k] for k in ("path", "method", "target_label", "predicted_label",
                                                   "probabilities", "classes", "text", "words")})
        rows.append(dict(info, written=str(dest)))
    for r in rows:
        if args.json:
            print(json.dumps(r))
        elif "error" in r:
            print(f"{r['path']}: {r['error']}", file=sys.stderr)
        else:
            p = r["probabilities"][r["target"]]
            print(f"{r['path']}  ->  {r['written']}  ({r['target_label']} {p:.1%}, predicted {r['predicted_label']})")
    good = sum(1 for r in rows if "written" in r)
    if not args.json:
        print(f"Wrote {good} explanation(s) to {out}", file=sys.stderr)
    return 0 if good else 1
