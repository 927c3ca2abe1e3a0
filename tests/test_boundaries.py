"""The two rooms meet only through light engine modules: engine/ never imports Qt, and every engine
module the GUI imports (and everything those import) needs nothing beyond the standard library and
numpy (which the GUI has anyway, for pyqtgraph): the clinical figures recomputed when the threshold
moves (engine.evaluate.operating, engine.bundle.decision) are numpy only. Read from the code's
syntax trees, imports inside functions included; a fresh process checks what importing them loads."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "qasync")


def _imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved against its package)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(ROOT).parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}  # `from engine import protocol` names a module
    return out


def _file(module: str) -> Path | None:
    p = ROOT.joinpath(*module.split("."))
    return p.with_suffix(".py") if p.with_suffix(".py").is_file() else (p / "__init__.py" if p.is_dir() else None)


def test_engine_never_imports_qt():
    found = [f"{p.relative_to(ROOT)} imports {m}" for p in sorted((ROOT / "engine").rglob("*.py"))
             for m in _imports(p) if m.split(".")[0] in QT]
    assert not found, found


def test_what_the_gui_imports_from_the_engine_is_standard_library_only():
    todo = {m for p in (ROOT / "gui").rglob("*.py") for m in _imports(p) if m.split(".")[0] == "engine"}
    seen, heavy = set(), []
    while todo:
        module = todo.pop()
        path = _file(module)
        if path is None or module in seen:
            continue
        seen.add(module)
        for m in _imports(path):
            top = m.split(".")[0]
            if top == "engine":
                todo.add(m)
            elif top and top not in sys.stdlib_module_names and top not in ("__future__", "numpy"):
                heavy.append(f"{path.relative_to(ROOT)} imports {m}")
    assert {"engine.protocol", "engine.config", "engine.recipe"} <= seen  # the walk follows the GUI's imports
    assert not heavy, heavy


def test_the_numpy_only_engine_modules_load_nothing_heavy():
    """Package __init__ files run on import too: importing what the GUI uses loads no torch or scikit-learn."""
    import subprocess

    code = ("import sys, engine.evaluate.operating, engine.bundle.decision\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'sklearn', 'scipy', 'transformers', "
            "'PIL', 'onnxruntime'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_embedded_decoders_list_the_same_file_kinds_as_the_app():
    """images.py, text.py and dicom.py travel into predict.py verbatim, so they keep their own extension
    lists; engine/file_kinds.py is the one the app goes by, and the copies must not drift."""
    from engine import file_kinds
    from engine.data import dicom, images, text

    assert images.IMAGE_EXTS == file_kinds.IMAGE_EXTS
    assert text.TEXT_EXTS == file_kinds.TEXT_EXTS
    assert dicom.DICOM_EXTS == file_kinds.DICOM_EXTS


def test_the_embedded_dicom_sniff_and_the_apps_agree(tmp_path):
    """dicom.sniff_dicom (embedded in predict.py) and file_kinds.has_dicom_marker (the app's file lists, the
    Label mode) are one rule in two copies: a file with the marker, one without, one too short, none at all."""
    from engine import file_kinds
    from engine.data import dicom

    files = {"marked": b"\0" * 128 + b"DICM" + b"\x02\x00", "unmarked": b"\0" * 128 + b"DICX",
             "short": b"\0" * 100 + b"DICM"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    for path in [tmp_path / n for n in files] + [tmp_path / "missing"]:
        assert dicom.sniff_dicom(path) == file_kinds.has_dicom_marker(path), path.name
    assert file_kinds.kind_of_file(tmp_path / "marked") == "image" and file_kinds.kind_of_file(tmp_path / "short") is None
