"""The lock, the exported requirement files and the declared dependencies agree with
the code: a fresh machine installs what CI installed, and nothing the code imports is
left undeclared."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

import anxin

ROOT = Path(__file__).resolve().parents[1]
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_lock_matches_pyproject() -> None:
    assert UV, "uv is a test dependency"
    done = subprocess.run([UV, "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, f"run `make lock`: {done.stderr[-1500:]}"


def test_the_requirement_files_are_exported_from_the_lock(tmp_path: Path) -> None:
    subprocess.run(["sh", str(ROOT / "requirements" / "export.sh"), UV, str(tmp_path)], check=True)
    for name in ("base.txt", "server.txt", "dev.txt"):
        assert (tmp_path / name).read_text() == (ROOT / "requirements" / name).read_text(), f"run `make lock` ({name})"


def test_the_version_has_one_source() -> None:
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert metadata.version("anxin") == anxin.__version__


def _imports(path: Path) -> set[str]:
    """Top-level modules imported by a file, except optional ones (inside ``try`` with an
    ``except ImportError``: the code works without them)."""
    tree = ast.parse(path.read_text(), str(path))
    optional = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError") for h in node.handlers
        ):
            optional.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found = set()
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _declared(requirements: list[str]) -> set[str]:
    names = set()
    for req in requirements:
        name = req.split(";")[0].split("[")[0]
        for op in ("<", ">", "=", "!", "~", " "):
            name = name.split(op)[0]
        names.add(name.strip().lower().replace("_", "-"))
    return names


@pytest.mark.parametrize(
    ("where", "allowed"),
    [
        # the minimal install: these packages may import only the base dependencies
        (["contract", "crypto", "engine", "verification", "check", "sim", "edge", "sdk"], ("dependencies",)),
        # everything else may also use the server and sm2 extras, and the optional [otel]
        # (anxin.observe.tracing imports it only when tracing is turned on)
        (["."], ("dependencies", "server", "sm2", "otel")),
    ],
)
def test_every_third_party_import_is_declared(where: list[str], allowed: tuple[str, ...]) -> None:
    project = PYPROJECT["project"]
    declared = set()
    for group in allowed:
        declared |= _declared(
            project["dependencies"] if group == "dependencies" else project["optional-dependencies"][group]
        )
    dists = metadata.packages_distributions()
    undeclared = {}
    for sub in where:
        for path in (ROOT / "src" / "anxin" / sub).rglob("*.py"):
            for module in _imports(path) - set(sys.stdlib_module_names) - {"anxin", "__future__"}:
                names = {d.lower().replace("_", "-") for d in dists.get(module, [module])}
                if not names & declared:
                    undeclared.setdefault(module, path.relative_to(ROOT).as_posix())
    assert not undeclared, f"imported but not declared in {allowed}: {undeclared}"
