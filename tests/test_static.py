"""The static checks are part of the suite, so a plain `pytest` enforces them too.

Deselect them while iterating with ``pytest -m "not static"``; ``./scripts/test`` and CI run them.
Each checker runs from the repository root and reads its configuration from pyproject.toml.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
LINT_PATHS = ("station", "tests", "benchmarks")

pytestmark = pytest.mark.static


def _run_module(module: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')")
    return subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_ruff_check_is_clean() -> None:
    paths = [path for path in LINT_PATHS if (REPO_ROOT / path).exists()]
    result = _run_module("ruff", "check", "--no-cache", "--output-format=concise", *paths)
    assert result.returncode == 0, f"ruff check {' '.join(paths)} failed:\n{result.stdout}{result.stderr}"


def test_mypy_is_clean() -> None:
    result = _run_module("mypy")
    assert result.returncode == 0, f"mypy failed:\n{result.stdout}{result.stderr}"
