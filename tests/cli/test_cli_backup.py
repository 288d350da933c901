"""``station backup`` and ``station restore`` on a station that provisioned a unit (the headless
demo): backup -> wipe -> restore -> ``db verify`` clean, the same attempts and chain head; an
older backup refused, then flagged when accepted; a damaged archive or a wrong passphrase refused
with nothing written; the passphrase in no output, log or archive."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.app import main
from station.config import DATA_DIR_ENVIRONMENT_VARIABLE
from station.config.paths import BACKUP_PASSPHRASE_ENVIRONMENT_VARIABLE
from station.security.station_key import load_station_key
from station.sim.demo import prepare_demo
from station.store import open_database

PASSPHRASE = "line 3 backup passphrase 6620"


@pytest.fixture(scope="module")
def demo_station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A demo directory whose station provisioned TST-000001 (made once for the module)."""
    root = tmp_path_factory.mktemp("backup-demo") / "demo"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STATION_SIM_DIR", str(root / "sim"))
        environment = prepare_demo(root)
        assert main(["demo", "--headless", "--units", "1", "--demo-dir", str(root)]) == 0
        yield environment.paths.data_dir


@pytest.fixture
def data_dir(demo_station: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the demo's data directory for this test, with settings naming the demo's recipe."""
    directory = tmp_path / "line-3"
    shutil.copytree(demo_station, directory)
    recipe = next(demo_station.parent.glob("firmware-*/recipe.toml"))
    (directory / "station.toml").write_text(f'schema = 1\nrecipe = "{recipe}"\n', encoding="utf-8")
    monkeypatch.setenv(DATA_DIR_ENVIRONMENT_VARIABLE, str(directory))
    monkeypatch.setenv(BACKUP_PASSPHRASE_ENVIRONMENT_VARIABLE, PASSPHRASE)
    return directory


def run(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> tuple[str, str]:
    assert main(list(argv)) == code, capsys.readouterr()
    captured = capsys.readouterr()
    return captured.out, captured.err


def document(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> Any:
    out, _ = run(capsys, *argv, "--json", code=code)
    return json.loads(out)


def record_more(data_dir: Path) -> None:
    """The station goes on after the backup: an engineer's audit entry, sealed into the chain."""
    database = open_database(f"sqlite:///{data_dir / 'station.db'}", create_dirs=False)
    try:
        database.keep_head_in(data_dir)
        database.audit_log(load_station_key(data_dir / "station-key.pem")).append_audit(
            "engineer:eve", "test.note", "after the backup")
    finally:
        database.dispose()


def test_backup_wipe_restore_gives_the_same_records_and_head(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    unit = document(capsys, "units", "show", "TST-000001")
    verified = document(capsys, "db", "verify")
    archive = tmp_path / "line-3.backup"
    made = run(capsys, "-v", "backup", "--out", str(archive))
    assert "backup written:" in made[0] and "its key protected by a passphrase" in made[0]

    shutil.rmtree(data_dir)
    restored = run(capsys, "-v", "restore", str(archive))
    assert "restored" in restored[0] and "db verify: chain OK:" in restored[0]
    assert "recipes/" in (data_dir / "station.toml").read_text(encoding="utf-8")
    assert document(capsys, "units", "show", "TST-000001") == unit
    again = document(capsys, "db", "verify")
    assert again["ok"] and again["head"] == verified["head"] and again["entries_checked"] == verified["entries_checked"]
    run(capsys, "recipe", "check", str(next((data_dir / "recipes").glob("*/recipe.toml"))))

    everything = "".join(made + restored) + caplog.text
    assert PASSPHRASE not in everything and PASSPHRASE.encode() not in archive.read_bytes()


def test_restore_json_and_an_older_backup_refused_then_flagged(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "monday.backup"
    made = document(capsys, "backup", "--out", str(archive))
    record_more(data_dir)
    kept = tmp_path / "head-kept-elsewhere.json"
    shutil.copy(data_dir / "station.db.head.json", kept)
    newest = json.loads(kept.read_text(encoding="utf-8"))["sequence"]
    assert newest > made["chain_head"]["sequence"]
    shutil.rmtree(data_dir)

    refused = document(capsys, "restore", str(archive), "--head", str(kept), code=2)
    message = refused["error"]["message"]
    assert refused["error"]["code"] == "BACKUP" and "this backup is OLDER" in message
    assert f"ends at chain entry {made['chain_head']['sequence']}" in message and f"records entry {newest}" in message
    assert not data_dir.exists()

    out, err = run(capsys, "restore", str(archive), "--head", str(kept), "--accept-older", code=1)
    assert "WARNING: this backup is OLDER than the chain head" in err and "db verify: chain OK" in out
    shutil.rmtree(data_dir)
    flagged = document(capsys, "restore", str(archive), "--head", str(kept), "--accept-older", code=1)
    assert flagged["older"] and flagged["verify"]["ok"]
    assert flagged["head_comparisons"][0]["recorded"] == newest
    assert flagged["chain_head"] == made["chain_head"]


def test_a_damaged_archive_and_a_wrong_passphrase_write_nothing(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "line.backup"
    run(capsys, "backup", "--out", str(archive))
    shutil.rmtree(data_dir)
    damaged = tmp_path / "damaged.backup"
    data = bytearray(archive.read_bytes())
    data[len(data) // 3] ^= 0x10
    damaged.write_bytes(bytes(data))
    _, err = run(capsys, "restore", str(damaged), code=2)
    assert "station: error [BACKUP]:" in err and "does not authenticate; nothing was written" in err
    cut = tmp_path / "cut.backup"
    cut.write_bytes(archive.read_bytes()[:-100])
    _, err = run(capsys, "restore", str(cut), code=2)
    assert "cut short" in err
    assert not data_dir.exists()

    monkeypatch.delenv(BACKUP_PASSPHRASE_ENVIRONMENT_VARIABLE)
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text("not the line's passphrase\n", encoding="utf-8")
    passphrase_file.chmod(0o600)
    _, err = run(capsys, "restore", str(archive), "--passphrase-file", str(passphrase_file), code=2)
    assert "wrong backup passphrase" in err and "not the line's passphrase" not in err
    assert not data_dir.exists()
    passphrase_file.write_text(PASSPHRASE + "\n", encoding="utf-8")
    out, _ = run(capsys, "restore", str(archive), "--passphrase-file", str(passphrase_file))
    assert "db verify: chain OK" in out


def test_a_data_directory_that_is_not_empty_is_refused(data_dir: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "line.backup"
    run(capsys, "backup", "--out", str(archive))
    before = sorted(path.name for path in data_dir.iterdir())
    _, err = run(capsys, "restore", str(archive), code=2)
    assert f"the data directory {data_dir} is not empty" in err and "nothing was written" in err
    assert sorted(path.name for path in data_dir.iterdir()) == before
