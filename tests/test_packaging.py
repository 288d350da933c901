"""Cheap checks on the files that are not Python: packaging/, scripts/, .ci/run.

None of them runs in the normal suite (PyInstaller, udev, a desktop session), so a typo would
otherwise surface only on a line PC.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGING = REPO_ROOT / "packaging"

# One udev key: KEY or KEY{attribute}, an operator, a double-quoted value.
_UDEV_ITEM = re.compile(r'^[A-Z_]+(\{[A-Za-z0-9_]+\})?(==|!=|\+=|-=|:=|=)"[^"]*"$')


def _udev_rules() -> list[str]:
    text = (PACKAGING / "99-provisioning-station.rules").read_text(encoding="utf-8")
    text = text.replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_udev_rules_are_well_formed() -> None:
    labels: set[str] = set()
    gotos: set[str] = set()
    for rule in _udev_rules():
        for item in (part.strip() for part in rule.split(",")):
            assert _UDEV_ITEM.match(item), f"malformed udev item {item!r} in rule: {rule}"
            if item.startswith("LABEL="):
                labels.add(item.split('"')[1])
            if item.startswith("GOTO="):
                gotos.add(item.split('"')[1])
    assert gotos <= labels, f"GOTO without LABEL: {sorted(gotos - labels)}"


def test_udev_rules_cover_the_line_hardware() -> None:
    rules = "\n".join(_udev_rules())
    for vendor, product in [("0d28", "0204"), ("0483", "3748"), ("0483", "374b"), ("0483", "374f")]:
        assert f'ATTRS{{idVendor}}=="{vendor}", ATTRS{{idProduct}}=="{product}"' in rules
    assert 'ATTRS{idVendor}=="1366"' in rules  # every SEGGER J-Link
    assert 'GROUP="plugdev"' in rules
    assert 'KERNEL=="ttyACM[0-9]*"' in rules
    assert rules.count('ENV{ID_MM_DEVICE_IGNORE}="1"') >= 2


def test_desktop_entry_runs_the_installed_command() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(PACKAGING / "provisioning-station.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"]
    assert entry["Terminal"] == "false"
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert entry["Exec"].split()[0] in scripts


def test_pyinstaller_spec_compiles_and_keeps_pyocd_metadata() -> None:
    source = (PACKAGING / "station.spec").read_text(encoding="utf-8")
    compile(source, "station.spec", "exec")
    # pyOCD finds its probe drivers (and our sim probe) through entry-point metadata.
    assert 'copy_metadata("pyocd")' in source
    assert 'copy_metadata("provisioning-station")' in source


@pytest.mark.parametrize("script", ["scripts/test", "scripts/run", "scripts/_env.sh", ".ci/run"])
def test_shell_scripts_parse(script: str) -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    path = REPO_ROOT / script
    result = subprocess.run([bash, "-n", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    if script != "scripts/_env.sh":  # sourced, not executed
        assert os.access(path, os.X_OK), f"{script} is not executable (git update-index --chmod=+x)"
