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
import sys
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


def _fake_venv(tmp_path: Path) -> tuple[Path, Path]:
    """A virtual environment whose pip only notes what it was asked (in the returned log) and whose
    ``station`` prints its arguments: the scripts' own logic runs, nothing is installed."""
    venv, log = tmp_path / "venv", tmp_path / "pip.log"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(
        "#!/usr/bin/env bash\n"
        f'if [[ "$1" == "-m" && "$2" == "pip" ]]; then printf \'%s\\n\' "$*" >>"{log}"; exit 0; fi\n'
        'if [[ "$1" == "-I" ]]; then exit 0; fi\n'
        f'exec "{sys.executable}" "$@"\n',
        encoding="utf-8",
    )
    station = venv / "bin" / "station"
    station.write_text('#!/usr/bin/env bash\nprintf \'station %s\\n\' "$*"\n', encoding="utf-8")
    for path in (python, station):
        path.chmod(0o755)
    return venv, log


def _bash(script: str, venv: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    clean = {name: value for name, value in os.environ.items()
             if name not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "STATION_REINSTALL")}
    return subprocess.run([bash, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                          check=False, env={**clean, "STATION_VENV": str(venv), **environment})  # fmt: skip


def _installs(log: Path) -> list[str]:
    return [line.split(" -e ")[1] for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def test_run_and_test_share_one_install_stamp(tmp_path: Path) -> None:
    venv, log = _fake_venv(tmp_path)
    steps = 'source scripts/_env.sh; ensure_installed test; ensure_installed ""; ensure_installed test'
    result = _bash(steps, venv)
    assert result.returncode == 0, result.stderr
    assert _installs(log) == [".[test]"]  # ./scripts/run after ./scripts/test installs nothing
    assert not list(venv.glob(".station-installed-*"))

    venv, log = _fake_venv(tmp_path / "second")
    result = _bash('source scripts/_env.sh; ensure_installed ""; ensure_installed test; ensure_installed ""', venv)
    assert result.returncode == 0, result.stderr
    assert _installs(log) == [".", ".[test]"]  # the test extras added once, then kept
    assert (venv / ".station-installed").read_text(encoding="utf-8").splitlines()[1] == "test"
    result = _bash('source scripts/_env.sh; ensure_installed ""', venv, STATION_REINSTALL="1")
    assert result.returncode == 0, result.stderr
    assert _installs(log)[-1] == ".[test]"  # a forced reinstall keeps what was installed


@pytest.mark.parametrize(
    ("environment", "headless", "said"),
    [
        ({}, True, "no display (neither DISPLAY nor WAYLAND_DISPLAY is set): running the demo headless"),
        ({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, True,
         "QT_QPA_PLATFORM=offscreen draws windows nowhere a person can see them: running the demo headless"),
        ({"DISPLAY": ":0"}, False, ""),
        ({"WAYLAND_DISPLAY": "wayland-0"}, False, ""),
    ],
)
def test_run_says_when_it_runs_the_demo_headless(
    tmp_path: Path, environment: dict[str, str], headless: bool, said: str
) -> None:
    venv, _ = _fake_venv(tmp_path)
    result = _bash("exec scripts/run --units 2", venv, STATION_NO_APT="1", **environment)
    assert result.returncode == 0, result.stderr
    expected = "station demo --headless --units 2" if headless else "station demo --units 2"
    assert result.stdout.splitlines()[-1] == expected
    if said:
        assert said in result.stderr and "For the window, run ./scripts/run in a desktop session" in result.stderr
    else:
        assert "headless" not in result.stderr
