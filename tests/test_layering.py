"""The layer rules of DESIGN.md, checked by reading the source with ``ast``.

import-linter (pyproject.toml) checks the same rules on its import graph; this test does not
depend on it, and also sees what a graph builder can miss: imports inside functions and
``importlib.import_module("...")`` / ``__import__("...")`` with a literal module name (or the
literal prefix of an f-string, as in ``import_module(f"station.cli.{name}")``).

Rules:
- third-party libraries stay in their layer: pyocd and serial in drivers/sim, sqlalchemy and
  alembic in store, PySide6 in gui;
- domain and flow are pure: no station adapter or front end, none of those libraries, no
  cryptography;
- imports only point down: the composition root (app) > front ends (cli, gui, independent of each
  other) > operations > reports > adapters (drivers, security, store, sim; they may import each
  other, but drivers never sim) > flow and config (independent) > domain.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "station"

# Third-party top-level module -> the station layers allowed to import it.
CONFINED_LIBRARIES: dict[str, frozenset[str]] = {
    "pyocd": frozenset({"drivers", "sim"}),
    "serial": frozenset({"drivers", "sim"}),
    "sqlalchemy": frozenset({"store"}),
    "alembic": frozenset({"store"}),
    "PySide6": frozenset({"gui"}),
    "shiboken6": frozenset({"gui"}),
    "pkcs11": frozenset({"security"}),
    "asn1crypto": frozenset({"security"}),
}

PURE_LAYERS = frozenset({"domain", "flow"})
IMPURE_FOR_PURE_LAYERS_INTERNAL = frozenset(
    {"drivers", "sim", "store", "gui", "security", "reports", "cli", "app", "operations", "config"}
)
IMPURE_FOR_PURE_LAYERS_EXTERNAL = frozenset(
    {"pyocd", "serial", "sqlalchemy", "alembic", "PySide6", "shiboken6", "cryptography"}
)

# Higher rank sits higher; a module may import only packages of its own rank or lower.
LAYER_RANK: dict[str, int] = {
    "domain": 0,
    "flow": 1,
    "config": 1,
    "drivers": 2,
    "security": 2,
    "store": 2,
    "sim": 2,
    "reports": 3,
    "operations": 4,
    "cli": 5,
    "gui": 5,
    "app": 6,
}
# Imports between packages of one rank that are refused: the front ends are independent of
# each other, so are flow and config; the drivers never reach for the simulation.
FORBIDDEN_SIBLING_IMPORTS: frozenset[tuple[str, str]] = frozenset(
    {("cli", "gui"), ("gui", "cli"), ("flow", "config"), ("config", "flow"), ("drivers", "sim")}
)

IMPORT_FUNCTIONS = frozenset({"import_module", "__import__"})


@dataclass(frozen=True)
class ImportSite:
    """One import found in a source file: the absolute module name and where it is."""

    module: str
    path: Path
    line: int


@dataclass(frozen=True)
class Violation:
    site: ImportSite
    rule: str

    def __str__(self) -> str:
        return f"{self.site.path}:{self.site.line}: imports {self.site.module}: {self.rule}"


def _module_name(path: Path, package_root: Path) -> str:
    relative = path.relative_to(package_root.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(module: str | None, level: int, current: str, is_package: bool) -> str:
    """Absolute name of ``from <level dots><module> import ...`` written in module ``current``."""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _literal_module_prefix(node: ast.expr) -> str | None:
    """The module name a string argument names, or the dotted prefix of an f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            prefix = first.value.rsplit(".", 1)[0] if "." in first.value else ""
            return prefix or None
    return None


def _is_import_function(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in IMPORT_FUNCTIONS
    if isinstance(func, ast.Attribute):
        return func.attr in IMPORT_FUNCTIONS
    return False


def iter_imports(path: Path, package_root: Path) -> Iterator[ImportSite]:
    """Every import in one file, at any depth (functions, TYPE_CHECKING blocks, try/except)."""
    current = _module_name(path, package_root)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield ImportSite(alias.name, path, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = _resolve_relative(node.module, node.level, current, is_package)
            yield ImportSite(base, path, node.lineno)
            # `from station import gui` imports station.gui: report the submodule too.
            for alias in node.names:
                if alias.name != "*":
                    yield ImportSite(f"{base}.{alias.name}", path, node.lineno)
        elif isinstance(node, ast.Call) and _is_import_function(node.func) and node.args:
            name = _literal_module_prefix(node.args[0])
            if name is None:
                continue
            if name.startswith("."):
                package_argument = next((k.value for k in node.keywords if k.arg == "package"), None)
                anchor = _literal_module_prefix(package_argument) if package_argument else None
                if anchor is None:
                    anchor = current if is_package else current.rpartition(".")[0]
                level = len(name) - len(name.lstrip("."))
                name = _resolve_relative(name.lstrip(".") or None, level, anchor, is_package=True)
            yield ImportSite(name, path, node.lineno)


def _layer_of_file(path: Path, package_root: Path) -> str | None:
    """``station/flow/steps.py`` -> "flow"; ``station/app.py`` -> "app"; ``station/__init__.py`` -> None."""
    parts = path.relative_to(package_root).parts
    if len(parts) == 1:
        stem = Path(parts[0]).stem
        return None if stem in {"__init__", "__main__"} else stem
    return parts[0]


def _layer_of_module(module: str, package: str) -> str | None:
    parts = module.split(".")
    if parts[0] != package or len(parts) < 2:
        return None
    return parts[1]


def check_tree(package_root: Path) -> list[Violation]:
    """All layer violations under ``package_root`` (a directory such as ``station/``)."""
    package = package_root.name
    violations: list[Violation] = []
    for path in sorted(package_root.rglob("*.py")):
        importer_layer = _layer_of_file(path, package_root)
        shown_path = path.relative_to(package_root.parent)
        for site in iter_imports(path, package_root):
            site = ImportSite(site.module, shown_path, site.line)
            top = site.module.split(".")[0]
            imported_layer = _layer_of_module(site.module, package)

            allowed = CONFINED_LIBRARIES.get(top)
            if allowed is not None and importer_layer not in allowed:
                where = ", ".join(f"{package}/{layer}" for layer in sorted(allowed))
                violations.append(Violation(site, f"{top} may be imported only in {where}"))

            if importer_layer in PURE_LAYERS:
                if top in IMPURE_FOR_PURE_LAYERS_EXTERNAL and allowed is None:
                    violations.append(Violation(site, f"{package}/{importer_layer} must stay pure (no {top})"))
                if imported_layer in IMPURE_FOR_PURE_LAYERS_INTERNAL:
                    violations.append(
                        Violation(
                            site,
                            f"{package}/{importer_layer} must stay pure "
                            f"(no {package}.{imported_layer}); talk to the world through ports",
                        )
                    )

            importer_rank = LAYER_RANK.get(importer_layer or "")
            imported_rank = LAYER_RANK.get(imported_layer or "")
            if (
                importer_rank is not None
                and imported_rank is not None
                and imported_rank > importer_rank
                and not (importer_layer in PURE_LAYERS and imported_layer in IMPURE_FOR_PURE_LAYERS_INTERNAL)
            ):
                violations.append(
                    Violation(
                        site,
                        f"upward import: {package}/{importer_layer} sits below {package}/{imported_layer}",
                    )
                )
            if (importer_layer, imported_layer) in FORBIDDEN_SIBLING_IMPORTS:
                violations.append(
                    Violation(site, f"{package}/{importer_layer} is independent of {package}/{imported_layer}")
                )
    return violations


def _format(violations: list[Violation]) -> str:
    return "layer rules broken (see DESIGN.md, 'Layers'):\n" + "\n".join(f"  {v}" for v in violations)


def test_station_respects_layers() -> None:
    package_root = REPO_ROOT / PACKAGE
    assert package_root.is_dir()
    violations = check_tree(package_root)
    assert not violations, _format(violations)


def test_every_top_level_package_has_a_layer() -> None:
    """A new package under station/ must be placed in LAYER_RANK (and in pyproject's layers contract)."""
    unplaced = sorted(
        child.name
        for child in (REPO_ROOT / PACKAGE).iterdir()
        if child.is_dir() and (child / "__init__.py").is_file() and child.name not in LAYER_RANK
    )
    assert not unplaced, f"packages with no layer: {unplaced}; add them to LAYER_RANK here and to pyproject"


# --- the checker itself must be able to fail ---------------------------------------------------


def _write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    for parent in path.relative_to(root).parents:
        if str(parent) != ".":
            (root / parent / "__init__.py").touch()
    path.write_text(source, encoding="utf-8")


@pytest.fixture
def fake_tree(tmp_path: Path) -> Path:
    """A small station/ package with one violation of each kind and several legal imports."""
    root = tmp_path / "station"
    _write(root, "__init__.py", "")
    _write(root, "drivers/probe.py", "import pyocd\nfrom serial.tools import list_ports\n")
    _write(
        root,
        "sim/probe.py",
        "from pyocd.probe.debug_probe import DebugProbe\nfrom station.domain import errors\n",
    )
    _write(
        root,
        "store/db.py",
        "import sqlalchemy\nfrom alembic import command\nfrom station.flow import journal\n",
    )
    _write(root, "gui/window.py", "from PySide6.QtWidgets import QWidget\nimport station.store\n")
    _write(root, "domain/serial.py", "SERIAL = 1\n")
    _write(root, "domain/ok.py", "from .serial import SERIAL\nfrom . import serial\n")
    _write(root, "app.py", "import station.gui\nimport station.cli\n")
    # violations
    _write(root, "flow/steps.py", "import hashlib\n\n\ndef run():\n    import serial\n    return serial\n")
    _write(
        root,
        "flow/ports.py",
        "import importlib\n\nDRIVER = importlib.import_module('station.drivers.probe')\n",
    )
    _write(root, "domain/keys.py", "from cryptography.hazmat.primitives import hashes\n")
    _write(root, "domain/relative.py", "from ..store import db\n")
    _write(root, "reports/pdf.py", "from PySide6 import QtGui\n")
    _write(root, "reports/stats.py", "import importlib\nq = importlib.import_module(f'sqlalchemy.orm.{1}')\n")
    _write(root, "security/vault.py", "from station import gui\n")
    _write(root, "cli/flash.py", "def main():\n    from pyocd.core.helpers import ConnectHelper\n")
    _write(root, "store/up.py", "mod = __import__('station.reports.pdf')\n")
    _write(root, "cli/window.py", "from station.gui import main\n")
    _write(root, "drivers/fake.py", "import station.sim.units\n")
    return root


def _found(violations: list[Violation]) -> set[tuple[str, int, str]]:
    return {(str(v.site.path), v.site.line, v.site.module) for v in violations}


def test_checker_flags_each_kind_of_violation(fake_tree: Path) -> None:
    found = _found(check_tree(fake_tree))
    expected = {
        ("station/flow/steps.py", 5, "serial"),  # inside a function
        ("station/flow/ports.py", 3, "station.drivers.probe"),  # importlib string literal
        ("station/domain/keys.py", 1, "cryptography.hazmat.primitives"),
        ("station/domain/relative.py", 1, "station.store"),  # relative import resolved
        ("station/reports/pdf.py", 1, "PySide6"),
        ("station/reports/stats.py", 2, "sqlalchemy.orm"),  # f-string prefix
        ("station/security/vault.py", 1, "station.gui"),  # `from station import gui`, upward
        ("station/cli/flash.py", 2, "pyocd.core.helpers"),
        ("station/store/up.py", 1, "station.reports.pdf"),  # __import__, upward
        ("station/cli/window.py", 1, "station.gui"),  # the front ends are independent
        ("station/drivers/fake.py", 1, "station.sim.units"),  # drivers never reach for the simulation
    }
    missing = expected - found
    assert not missing, f"checker missed: {sorted(missing)}"


def test_checker_accepts_legal_imports(fake_tree: Path) -> None:
    flagged_files = {str(v.site.path) for v in check_tree(fake_tree)}
    legal = {
        "station/drivers/probe.py",
        "station/sim/probe.py",
        "station/store/db.py",
        "station/gui/window.py",
        "station/domain/ok.py",  # a domain module named `serial` is not pyserial
        "station/app.py",
    }
    assert not (flagged_files & legal), f"legal imports flagged: {sorted(flagged_files & legal)}"


def test_failure_message_lists_file_and_line(fake_tree: Path) -> None:
    message = _format(check_tree(fake_tree))
    assert "station/flow/steps.py:5: imports serial:" in message
    assert "may be imported only in station/drivers, station/sim" in message


# --- import-linter, the same rules on its import graph ----------------------------------------


def _lint_imports_executable() -> str | None:
    beside_python = Path(sys.executable).parent / "lint-imports"
    if beside_python.is_file():
        return str(beside_python)
    return shutil.which("lint-imports")


@pytest.mark.static
def test_import_linter_contracts_are_kept() -> None:
    executable = _lint_imports_executable()
    if executable is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    result = subprocess.run(
        [executable, "--no-cache"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, f"lint-imports failed:\n{result.stdout}\n{result.stderr}"
