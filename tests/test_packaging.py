"""Fast static checks of the PyInstaller packaging (packaging/); the build itself is `make package`.

They read the spec, entry scripts, desktop file and icons, and check that what the bundle
must carry (command modules, subprocess modules, starter weights, transformers families)
is derived from the project, so a new command or backbone cannot silently go missing.
Nothing here imports torch or Qt.
"""
from __future__ import annotations

import ast
import configparser
import importlib.util
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
SPEC = PACKAGING / "transfer_studio.spec"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"ts_packaging_{name}", PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bc = _load("bundle_contents")
engine_main = _load("engine_main")


def _calls(tree: ast.AST, func: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == func]


def _kw(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return ast.literal_eval(kw.value)
    raise KeyError(name)


def _imports(package: str) -> set[str]:
    """Absolute module names imported anywhere in one of our packages."""
    names = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return names


def test_spec_parses_and_names_both_executables():
    tree = ast.parse(SPEC.read_text(encoding="utf-8"))
    exes = {_kw(c, "name"): _kw(c, "console") for c in _calls(tree, "EXE")}
    assert exes == {bc.GUI_NAME: False, bc.ENGINE_NAME: True}  # windowed GUI, console engine
    (collect,) = _calls(tree, "COLLECT")
    assert _kw(collect, "name") == bc.GUI_NAME
    collected = {a.id for a in collect.args if isinstance(a, ast.Name)}
    assert {"gui_exe", "engine_exe"} <= collected
    entry = [PACKAGING / "gui_main.py", PACKAGING / "engine_main.py"]
    assert all(p.is_file() for p in entry)
    assert all(p.name in SPEC.read_text(encoding="utf-8") for p in entry)


def test_engine_executable_name_matches_what_the_gui_looks_for():
    tree = ast.parse((ROOT / "gui" / "engine_client.py").read_text(encoding="utf-8"))
    values = [ast.literal_eval(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
              and any(isinstance(t, ast.Name) and t.id == "ENGINE_EXECUTABLE" for t in n.targets)]
    assert values == [bc.ENGINE_NAME]


def test_every_module_the_engine_starts_with_dash_m_is_runnable_when_frozen():
    started = set()
    for path in (ROOT / "engine").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.List):
                items = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
                started |= {items[i + 1] for i, v in enumerate(items[:-1]) if v == "-m" and items[i + 1]}
    assert started, "expected at least the weights converter to be started as a subprocess"
    assert started <= set(engine_main.RUNNABLE_MODULES)
    assert set(engine_main.RUNNABLE_MODULES) <= set(bc.source_modules("engine"))


@pytest.mark.parametrize("argv, expected", [
    ([], ("engine", "engine", [])),
    (["--self-test", "--data", "x"], ("engine", "engine", ["--self-test", "--data", "x"])),
    (["-m", "engine", "--self-test"], ("engine", "engine", ["--self-test"])),
    (["-m", "engine.library.convert", "a", "b"], ("module", "engine.library.convert", ["a", "b"])),
    (["train", "--data", "d"], ("cli", "engine.cli", ["train", "--data", "d"])),
])
def test_engine_entry_routes_command_lines(argv, expected):
    assert engine_main.route(argv) == expected


@pytest.mark.parametrize("argv", [["-m"], ["-m", "os"], ["-m", "engine.server"]])
def test_engine_entry_refuses_other_modules(argv):
    kind, _target, args = engine_main.route(argv)
    assert kind == "error" and args[0]
    assert engine_main.main(argv) == 2


def test_hidden_imports_cover_every_cli_command():
    sys.path.insert(0, str(ROOT))
    from engine.cli import COMMANDS, command_module  # standard library only

    modules = set(bc.source_modules("engine"))
    assert {command_module(name) for name in COMMANDS} <= modules
    assert "engine.__main__" in modules and "engine" in modules
    assert not any("__pycache__" in m or m.endswith("__init__") for m in modules)


def test_transformers_families_follow_the_registry():
    sys.path.insert(0, str(ROOT))
    from engine.backbones import all_specs

    families = bc.transformers_families()
    for spec in all_specs(include_hidden=True):
        if spec.source == "transformers":
            fam = spec.hf_config["model_type"]
            assert bc.keep_transformers_module(f"transformers.models.{fam}.modeling_{fam}", families)
    assert bc.keep_transformers_module("transformers.models.auto.modeling_auto", families)
    assert bc.keep_transformers_module("transformers.modeling_utils", families)
    assert not bc.keep_transformers_module("transformers.models.llama.modeling_llama", families)
    assert not bc.keep_transformers_module("torch.nn", families)


def test_starter_weight_packages_are_bundled():
    sys.path.insert(0, str(ROOT))
    from engine.backbones import get_spec
    from engine.backbones.registry import DEFAULT_BY_MODALITY

    modules = {module for _dist, module in bc.starter_packages()}
    for backbone_id in DEFAULT_BY_MODALITY.values():
        assert get_spec(backbone_id).weights.module in modules


def test_excludes_never_drop_a_module_our_code_imports():
    def dropped(imported: set[str], excludes) -> set[str]:
        return {m for m in imported for x in excludes if m == x or m.startswith(x + ".")}

    assert dropped(_imports("engine"), bc.ENGINE_EXCLUDES) == set()
    assert dropped(_imports("gui"), bc.GUI_EXCLUDES) == set()
    assert "triton" in bc.ENGINE_EXCLUDES and "PySide6" in bc.ENGINE_EXCLUDES
    assert {"torch", "transformers", "torchvision"} <= set(bc.GUI_EXCLUDES)  # the window never loads torch


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is None, reason="torchvision not installed")
def test_torchvision_operator_libraries_are_found():
    libs = bc.torchvision_operator_libraries()
    names = [Path(src).name for src, _dest in libs]
    assert any(n.startswith("_C") for n in names), names
    assert all(dest == "torchvision" and Path(src).is_file() for src, dest in libs)


def test_resources_go_to_resources_folder():
    datas = bc.resources_datas()
    dests = {dest for _src, dest in datas}
    assert all(d == "resources" or d.startswith("resources/") or d.startswith("resources\\") for d in dests)
    names = {Path(src).name for src, _ in datas}
    assert "app.png" in names
    assert any(d.startswith("resources/demo") for d in dests)


@pytest.mark.parametrize("text, expected", [
    ("__version__ = '2.14.1+cu130'\ncuda: Optional[str] = '13.0'\nhip: Optional[str] = None\n", "cuda 13.0"),
    ("__version__ = '2.13.0+cpu'\ncuda: Optional[str] = None\nhip: Optional[str] = None\n", "cpu"),
    ("__version__ = '2.9.0+rocm6.4'\ncuda = None\nhip = '6.4.1'\n", "rocm 6.4.1"),
])
def test_torch_variant_reads_version_file(tmp_path, text, expected):
    (tmp_path / "version.py").write_text(text)
    assert bc.torch_variant(tmp_path / "version.py") == expected


def test_source_modules_lists_packages_and_modules(tmp_path):
    (tmp_path / "pkg" / "sub" / "__pycache__").mkdir(parents=True)
    for rel in ("pkg/__init__.py", "pkg/a.py", "pkg/sub/__init__.py", "pkg/sub/b.py", "pkg/sub/__pycache__/c.py"):
        (tmp_path / rel).write_text("")
    assert bc.source_modules("pkg", tmp_path) == ["pkg", "pkg.a", "pkg.sub", "pkg.sub.b"]


def test_icons_exist_and_png_is_256_square():
    from PIL import Image

    icons = ROOT / "resources" / "icons"
    with Image.open(icons / "app.png") as im:
        assert im.size == (256, 256) and im.mode == "RGBA"
        assert im.getpixel((0, 0))[3] == 0 and im.getpixel((128, 128))[3] == 255  # rounded corners, solid body
    assert ET.parse(icons / "app.svg").getroot().tag.endswith("svg")
    assert (icons / "app.ico").stat().st_size > 0


def test_desktop_entry_launches_the_gui_with_the_installed_icon():
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read(PACKAGING / "linux" / "transfer-studio.desktop", encoding="utf-8")
    entry = cp["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert entry["Exec"].split()[0] == bc.GUI_NAME
    assert entry["Categories"].endswith(";")
    script = (PACKAGING / "linux" / "install-desktop-entry.sh").read_text(encoding="utf-8")
    assert f"apps/{entry['Icon']}.png" in script and "^Exec=transfer-studio" in script


def test_build_copies_files_that_exist(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))  # build.py puts packaging/ on sys.path
    build = _load("build")
    assert all(p.is_file() for p in build.LINUX_EXTRAS)
    assert build.SPEC == SPEC


def test_build_measures_folder_and_cuda_share(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    build = _load("build")
    internal = tmp_path / "_internal"
    (internal / "nvidia" / "cu13" / "lib").mkdir(parents=True)
    (internal / "torch" / "lib").mkdir(parents=True)
    (internal / "nvidia" / "cu13" / "lib" / "libcublas.so.13").write_bytes(b"x" * 10)
    (internal / "torch" / "lib" / "libtorch_cuda.so").write_bytes(b"x" * 5)
    (internal / "torch" / "lib" / "libtorch_cpu.so").write_bytes(b"x" * 7)
    (internal / "libcublas.so.13").symlink_to("nvidia/cu13/lib/libcublas.so.13")  # counted once
    assert build.folder_size(tmp_path) == 22
    assert build.cuda_size(tmp_path) == 15


def test_sources_the_bundle_writer_pastes_into_predict_py_ship_as_files():
    tree = ast.parse((ROOT / "engine" / "bundle" / "writer.py").read_text(encoding="utf-8"))
    sources = [ast.literal_eval(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
               and any(isinstance(t, ast.Name) and t.id == "PREDICT_SOURCES" for t in n.targets)]
    assert sources and all((ROOT / "engine" / rel).is_file() for rel in sources[0])
    assert "engine" in bc.SOURCE_PACKAGES  # collected as .py files too, at engine/<rel> in the bundle
