"""Turn an untrusted weights file into a checked safetensors file, in a short-lived process.

Run as `python -m engine.library.convert IN OUT_DIR [--expect-json SPEC.json]
[--out-name model.safetensors]`. It imports only torch, safetensors and the pure
`engine.library.fit`; pickles are read with `torch.load(weights_only=True)` (whose
unpickler refuses every global outside plain tensors and containers, so a payload such
as `__reduce__ -> os.system` never runs). TorchScript archives, pickled modules and
non-dict contents are refused; `{"state_dict": ...}`-style wrappers are unwrapped;
every floating tensor must be finite. With `--expect-json` the tensors are also matched
onto the architecture (see fit.py) and saved under the model's names. The last stdout
line is a JSON report: `{"ok": true, ...}` (exit 0) or `{"ok": false, "reason"}` (exit 3).
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import sys
import zipfile
from pathlib import Path

WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network",
                "weights", "params", "model_ema", "state_dict_ema", "ema")


class Refused(Exception):
    """The file cannot be used; the message is one sentence."""


def _is_safetensors(path: Path) -> bool:
    if path.suffix == ".safetensors":
        return True
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < (100 << 20)


def _check_archive(path: Path, label: str) -> None:
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        raise Refused(f"{label} is a TorchScript archive (a compiled program, not plain weights); "
                      "in the original environment save model.state_dict() with torch.save and import that file.")
    if not any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        raise Refused(f"{label} is a zip archive but not a PyTorch weights file; import a .pth/.pt/.bin "
                      "state dict, a .safetensors file or a Hugging Face folder.")


def _explain_unpickling(exc: Exception, label: str) -> str:
    text = str(exc)
    m = re.search(r"GLOBAL ([\w\.]+)", text) or re.search(r"Unsupported global: ([\w\.]+)", text)
    culprit = m.group(1) if m else ""
    module_like = re.match(r"(torch\.nn\.|torchvision\.models\.|timm\.models\.|transformers\.models\.|__main__\.)", culprit)
    if module_like or re.search(r"\.(models?|modules?|nets?)\.", culprit):
        return (f"{label} holds a whole pickled model object ({culprit}), not a state dict, and loading it would "
                "run code; in the original environment save model.state_dict() with torch.save and import that file.")
    if culprit:
        return (f"{label} asks to run code ({culprit}) when loaded, which Transfer Studio never allows; "
                "it is not a plain weights file — import a state dict or a .safetensors file instead.")
    m = re.search(r"Unsupported [^\n]*", text)
    detail = f" ({m.group(0).strip()[:120]})" if m else ""
    return (f"{label} could not be read safely as plain weights{detail}; in the original environment save it "
            "again with torch.save(model.state_dict()) or as .safetensors.")


def load_untrusted(path: Path, label: str):
    """Load tensors without running code. Returns (object, source_format)."""
    if _is_safetensors(path):
        from safetensors.torch import load_file
        try:
            return load_file(str(path)), "safetensors"
        except Exception as exc:
            raise Refused(f"{label} is not a readable safetensors file ({exc}); copy it again.") from None
    zipped = zipfile.is_zipfile(path)
    if zipped:
        _check_archive(path, label)
    import torch  # after the cheap refusals

    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True, mmap=zipped)
    except pickle.UnpicklingError as exc:
        raise Refused(_explain_unpickling(exc, label)) from None
    except Exception as exc:  # wrong magic number, truncated file, ...
        if "GLOBAL" in str(exc) or "weights_only" in str(exc):
            raise Refused(_explain_unpickling(exc, label)) from None
        raise Refused(f"{label} is damaged or not a PyTorch weights file Transfer Studio can read "
                      f"({type(exc).__name__}: {str(exc)[:200]}).") from None
    return obj, "pickle-zip" if zipped else "pickle-legacy"


def _flatten(obj, prefix: str, out: dict) -> None:
    import torch

    for k, v in obj.items():
        name = f"{prefix}{k}"
        if isinstance(v, torch.Tensor):
            out[name] = v
        elif isinstance(v, dict):
            _flatten(v, name + ".", out)


def to_state_dict(obj, label: str):
    """Find the state dict inside a loaded object. Returns (ordered dict of tensors, wrapper key)."""
    import torch

    if not isinstance(obj, dict):
        raise Refused(f"{label} holds a {type(obj).__name__}, not a state dict of named tensors; "
                      "in the original environment save model.state_dict() with torch.save.")
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return dict(obj), None
    for key in WRAPPER_KEYS:
        inner = obj.get(key)
        if isinstance(inner, dict) and inner:
            if all(isinstance(v, torch.Tensor) for v in inner.values()):
                return dict(inner), key
            if any(isinstance(v, dict) for v in inner.values()):
                try:
                    found, _ = to_state_dict(inner, label)
                    return found, key
                except Refused:
                    pass
    flat: dict = {}
    _flatten(obj, "", flat)
    if not flat:
        keys = ", ".join(map(str, list(obj)[:6]))
        raise Refused(f"{label} holds no tensors (top-level keys: {keys}); it is not a weights file.")
    return flat, "nested"


def check_tensors(sd: dict, label: str) -> None:
    import torch

    for name, t in sd.items():
        if not isinstance(name, str):
            raise Refused(f"{label} has a tensor named {name!r}; tensor names must be text.")
        if t.is_sparse or t.is_quantized or t.layout != torch.strided:
            raise Refused(f"{label} has a sparse or quantized tensor ({name}); only plain dense weights can be imported.")
        if t.is_floating_point() or t.is_complex():
            if not bool(torch.isfinite(t).all()):
                raise Refused(f"{label} has NaN or infinite values in {name}; the file is damaged or came from "
                              "a training run that diverged — use another copy.")


def _describe(sd: dict) -> list:
    return [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in sd.items()]


def convert(src: Path, out_dir: Path, out_name: str = "model.safetensors", expect: dict | None = None,
            check_only: bool = False) -> dict:
    from safetensors.torch import save_file

    from engine.library.fit import FitError, check_fit

    label = src.name
    obj, fmt = load_untrusted(src, label)
    sd, wrapper = to_state_dict(obj, label)
    check_tensors(sd, label)
    report = {"ok": True, "source_format": fmt, "wrapper": wrapper, "tensors": _describe(sd)}
    if expect is not None:
        try:
            fit = check_fit(report["tensors"], expect["tensors"], expect.get("head", []), label=label,
                            arch=expect.get("arch", "this backbone"), allow_order=expect.get("allow_order", True))
        except FitError as exc:
            raise Refused(str(exc)) from None
        sd = {fit.mapping[k]: v for k, v in sd.items() if k in fit.mapping}
        report["fit"] = fit.to_dict()
    if check_only:
        return report
    seen: set = set()
    clean = {}
    for k, v in sd.items():
        v = v.detach().contiguous()
        key = v.untyped_storage().data_ptr() if v.numel() else None
        if key is not None and key in seen:  # safetensors refuses tensors that share memory
            v = v.clone()
        if key is not None:
            seen.add(key)
        clean[k] = v
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / out_name
    save_file(clean, str(out), metadata={"format": "pt", "converted_from": label[:200]})
    report["file"] = str(out)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m engine.library.convert")
    p.add_argument("src")
    p.add_argument("out_dir")
    p.add_argument("--out-name", default="model.safetensors")
    p.add_argument("--expect-json", default=None, help="JSON file: {tensors, head, arch, allow_order}")
    p.add_argument("--check-only", action="store_true", help="check and report; write nothing")
    a = p.parse_args(argv)
    try:
        expect = None
        if a.expect_json:
            with open(a.expect_json, encoding="utf-8") as f:
                expect = json.load(f)
        report = convert(Path(a.src), Path(a.out_dir), a.out_name, expect, a.check_only)
        code = 0
    except Refused as exc:
        report, code = {"ok": False, "reason": str(exc)}, 3
    except MemoryError:
        report, code = {"ok": False, "reason": f"{Path(a.src).name} is too large to convert in the memory available."}, 3
    sys.stdout.write("\n" + json.dumps(report) + "\n")
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
