"""A newcomer's first hour, run as they would: in a fresh home directory, ``station demo
--headless``, then every command the demo prints, verbatim, in a shell given the one line it
prints first. All of them work, the export it suggests verifies, ``pyocd list`` shows the demo's
probes by the ids the README shows, and no second database or station key appears anywhere.
Without that line, a read-only command says where it looked and names the demo, and creates
nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ENVIRONMENT_PREFIXES = ("STATION_", "XDG_")


def fresh_environment(home: Path) -> dict[str, str]:
    """A shell environment as a new user's: their own home and XDG directories, no station
    variables, no display, the project's ``station`` and ``pyocd`` on PATH."""
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(ENVIRONMENT_PREFIXES) and name not in ("DISPLAY", "WAYLAND_DISPLAY")}
    environment.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return environment


def shell(command: str, *, cwd: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip


def databases_and_keys(tree: Path) -> set[Path]:
    """Every database and key file under ``tree``."""
    return {path for path in tree.rglob("*") if path.is_file()
            and (path.suffix == ".db" or (path.suffix == ".pem" and "key" in path.name))}  # fmt: skip


def printed_commands(out: str) -> tuple[str, list[str]]:
    """The demo's shell line and the commands it prints after it, as printed."""
    lines = [line.strip() for line in out.splitlines()]
    exports = [line for line in lines if line.startswith("export ")]
    assert len(exports) == 1, out
    commands = [line for line in lines[lines.index(exports[0]) + 1:] if line.startswith(("station ", "pyocd "))]
    return exports[0], commands


@pytest.mark.slow
def test_every_command_the_demo_prints_works_as_printed_in_a_fresh_home(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    environment = fresh_environment(home)

    demo = shell("station demo --headless --units 2", cwd=work, environment=environment)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    demo_dir = home / ".local" / "share" / "provisioning-station" / "demo"
    assert f"demo directory: {demo_dir}" in demo.stdout
    export, commands = printed_commands(demo.stdout)
    assert export == (f"export STATION_DATA_DIR={demo_dir / 'data'} STATION_SIM_DIR={demo_dir / 'sim'}")
    assert commands == [
        "station units show TST-000001",
        "station report yield",
        "station report export --format csv --out demo.csv",
        "station report verify demo.csv",
        "pyocd list",
    ]
    before = databases_and_keys(tmp_path)
    data = demo_dir / "data"
    assert before == {data / "station.db", data / "station-key.pem", data / "ca" / "ca-key.pem"}

    # Without the line: a clear refusal that names where it looked and the demo; nothing made.
    lost = shell(commands[0], cwd=work, environment=environment)
    assert lost.returncode == 2
    default_database = home / ".local" / "share" / "provisioning-station" / "station.db"
    assert f"no station database at {default_database} (in the default data directory" in lost.stderr
    assert f"the demo's records are in {demo_dir / 'data'}: point this shell at them with: {export}" in lost.stderr
    assert databases_and_keys(tmp_path) == before

    outputs = {}
    for command in commands:
        result = shell(f"{export}\n{command}", cwd=work, environment=environment)
        assert result.returncode == 0, f"{command}:\n{result.stdout}{result.stderr}"
        outputs[command] = result.stdout
    assert "Unit TST-000001" in outputs["station units show TST-000001"]
    assert "first-pass yield" in outputs["station report yield"]
    assert "wrote 2 attempts to demo.csv" in outputs["station report export --format csv --out demo.csv"]
    verified = outputs["station report verify demo.csv"]
    assert "OK: demo.csv is as signed" in verified and "still extends it" in verified
    listing = outputs["pyocd list"]
    assert "sim:unit-0001" in listing and "sim:unit-0002" in listing  # the ids the README shows
    assert databases_and_keys(tmp_path) == before, "a command made a second database or station key"
