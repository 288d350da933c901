"""The station's operations, its composition root and its command line load and run without Qt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_operations_and_the_command_line_import_no_qt() -> None:
    code = (
        "import sys\n"
        "import station.operations.station, station.operations.units, station.app.root, station.cli\n"
        "from station.cli import build_parser\n"
        "build_parser()\n"
        "loaded = sorted(name for name in sys.modules if name.split('.')[0] in ('PySide6', 'shiboken6'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr


def test_the_operations_tests_pass_without_pytest_qt() -> None:
    tests = [str(HERE / "test_people.py"), str(HERE / "test_slots.py")]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:pytestqt", "-p", "no:cacheprovider", *tests],
        capture_output=True, text=True, timeout=300, check=False, cwd=HERE.parent.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
