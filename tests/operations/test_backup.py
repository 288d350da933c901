"""Backup and restore of a whole station: backup -> wipe -> restore gives the same attempts and the
same chain head, and the chain verifies; an older backup is refused, or flagged when accepted; a
damaged archive, a wrong passphrase and a target that is not empty are refused with nothing written."""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from station.config.paths import StationPaths
from station.config.settings import load_settings
from station.domain.chain import ChainHead
from station.domain.errors import BackupError
from station.domain.recipe_loader import load_recipe
from station.domain.records import AttemptRecord, AttemptResult, JournalState, StepOutcome
from station.operations.backup import make_backup
from station.operations.restore import (
    RecordedHead,
    RestoreResult,
    archive_header,
    read_recorded_head,
    recorded_heads,
    restore_station,
    unlock_archive,
)
from station.security.backup_crypto import MAGIC
from station.security.ca import init_ca
from station.security.station_key import StationKey, load_or_create_station_key, load_station_key
from station.sim.demo_recipe import write_demo_recipe_folder
from station.store import open_database
from station.store.database import head_file_path

PASSPHRASE = "backup passphrase of line 3, 0917"
CA_PASSPHRASE = "factory CA passphrase 5521"


@dataclass
class Line:
    """A station's data directory with a file CA, a station key, a recipe and some attempts."""

    paths: StationPaths
    key: StationKey
    recipe: Path

    @property
    def settings_path(self) -> Path:
        return self.paths.data_dir / "station.toml"

    def record(self, prefix: str, count: int) -> None:
        """``count`` attempts, each sealed into the chain; the head file written when done."""
        database = open_database(self.paths.db_url)
        try:
            database.seal_with(self.key, actor="station:line-3")
            database.keep_head_in(self.paths.data_dir)
            recipe_text = self.recipe.read_text(encoding="utf-8")
            recipe_hash = database.registry.record_recipe(recipe_text, "ACME-TOASTER").sha256
            for number in range(count):
                attempt = database.attempts.create_attempt(serial=f"{prefix}-{number:03d}", station="line-3",
                                                           operator="ann", recipe_hash=recipe_hash,
                                                           product="ACME-TOASTER")  # fmt: skip
                step = database.attempts.start_step(attempt.id, "connect")
                assert step.id is not None
                database.attempts.finish_step(step.id, StepOutcome.PASSED, advance_to=JournalState.CONNECTED)
                database.attempts.finish_attempt(attempt.id, AttemptResult.PASSED)
        finally:
            database.dispose()

    def attempts(self) -> list[AttemptRecord]:
        database = open_database(self.paths.db_url, create_dirs=False)
        try:
            return list(database.attempts.iter_attempts())
        finally:
            database.dispose()

    def head(self) -> ChainHead | None:
        database = open_database(self.paths.db_url, create_dirs=False)
        try:
            return database.chain_head()
        finally:
            database.dispose()

    def wipe(self) -> None:
        shutil.rmtree(self.paths.data_dir)
        if not self.paths.db_url.startswith("sqlite"):
            _reset_postgres(self.paths.db_url)


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def build_line(tmp_path: Path, db_url: str | None = None) -> Line:
    data_dir = tmp_path / "station"
    paths = StationPaths(data_dir, db_url or f"sqlite:///{data_dir / 'station.db'}")
    data_dir.mkdir()
    key = load_or_create_station_key(paths.station_key_path)
    init_ca(paths.ca_dir, CA_PASSPHRASE, "Backup Test CA", validity_days=365)
    recipe = write_demo_recipe_folder(tmp_path / "recipes" / "line-a")[0]
    (data_dir / "station.toml").write_text(
        f'schema = 1\nrecipe = "{recipe}"\n\n[[slots]]\nname = "A"\nprobe = "sim:1"\nconsole = "/dev/null"\n'
        f'recipe = "{recipe}"\n', encoding="utf-8")  # fmt: skip
    database = open_database(paths.db_url)
    database.upgrade()
    database.dispose()
    line = Line(paths, key, recipe)
    line.record("TST", 3)
    return line


@pytest.fixture(params=["sqlite", "postgresql"])
def line(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Line]:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        _reset_postgres(url)
    yield build_line(tmp_path, url)


@pytest.fixture
def sqlite_line(tmp_path: Path) -> Line:
    return build_line(tmp_path)


def backup(line: Line, out: Path) -> Path:
    make_backup(line.paths, line.settings_path, out, station="line-3", passphrase=PASSPHRASE)
    return out


def restore(
    archive: Path, paths: StationPaths, passphrase: str = PASSPHRASE, *, recorded: Sequence[RecordedHead] = (),
    accept_older: bool = False,
) -> RestoreResult:
    header = archive_header(archive)
    return restore_station(archive, header, unlock_archive(header, passphrase=passphrase), paths,
                           recorded=recorded, accept_older=accept_older)  # fmt: skip


def test_backup_wipe_restore_gives_the_same_station(line: Line, tmp_path: Path) -> None:
    attempts, head = line.attempts(), line.head()
    signature = line.recipe.with_name(line.recipe.name + ".sig")  # a signed recipe's detached signature
    signature.write_text('{"format": "station-recipe-signature/1"}\n', encoding="utf-8")
    archive = backup(line, tmp_path / "line-3.backup")
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert archive.read_bytes().startswith(MAGIC)
    line.wipe()

    result = restore(archive, line.paths)
    assert line.attempts() == attempts and line.head() == head and head is not None
    database = open_database(line.paths.db_url, create_dirs=False)
    try:
        database.keep_head_in(line.paths.data_dir)
        report = database.verify_chain(load_station_key(line.paths.station_key_path).public_key)
    finally:
        database.dispose()
    assert report.ok and "the head file" in report.head_note and "agrees" in report.head_note, report
    # The keys and the CA as they were, the key files private; the recipe beside the data, named there.
    data_dir = line.paths.data_dir
    assert load_station_key(line.paths.station_key_path).public_key_fingerprint == line.key.public_key_fingerprint
    for private in (line.paths.station_key_path, line.paths.ca_dir / "ca-key.pem"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700 and stat.S_IMODE(line.paths.ca_dir.stat().st_mode) == 0o700
    settings = load_settings(line.settings_path)
    assert settings.recipe is not None and settings.recipe.is_relative_to(data_dir / "recipes")
    assert settings.slots[0].recipe == settings.recipe
    assert load_recipe(settings.recipe).content_hash == load_recipe(line.recipe).content_hash
    assert settings.recipe.with_name(signature.name).read_bytes() == signature.read_bytes()
    assert [str(was) for was, _ in result.recipes] == [str(line.recipe)] * 2


def test_an_older_backup_is_refused_then_flagged_when_accepted(sqlite_line: Line, tmp_path: Path) -> None:
    line = sqlite_line
    old = backup(line, tmp_path / "monday.backup")
    line.record("TUE", 2)  # the station goes on after the backup
    recorded_copy = tmp_path / "head-kept-off-the-station.json"
    shutil.copy(head_file_path(line.paths.db_url, line.paths.data_dir), recorded_copy)
    newest = read_recorded_head(recorded_copy)
    elsewhere = StationPaths(tmp_path / "rebuilt", f"sqlite:///{tmp_path / 'rebuilt' / 'station.db'}")

    with pytest.raises(BackupError, match="this backup is OLDER than the chain head") as refused:
        restore(old, elsewhere, recorded=recorded_heads(elsewhere, [recorded_copy]))
    assert f"records entry {newest.head.sequence}" in str(refused.value) and "--accept-older" in str(refused.value)
    assert not elsewhere.data_dir.exists()

    result = restore(old, elsewhere, recorded=[newest], accept_older=True)
    assert result.older
    [comparison] = result.comparisons
    assert comparison.recorded == newest.head.sequence and comparison.archived < comparison.recorded
    assert comparison.problem is not None and "OLDER" in comparison.problem
    # An export's manifest carries the head too.
    manifest = tmp_path / "export.csv.manifest.json"
    manifest.write_text(json.dumps({"format": "csv", "chain_head": newest.head.to_document()}), encoding="utf-8")
    assert read_recorded_head(manifest).head == newest.head


def test_a_backup_newer_than_the_recorded_head_extends_it(sqlite_line: Line, tmp_path: Path) -> None:
    line = sqlite_line
    recorded_copy = tmp_path / "head.json"
    shutil.copy(head_file_path(line.paths.db_url, line.paths.data_dir), recorded_copy)
    line.record("LATER", 2)
    archive = backup(line, tmp_path / "later.backup")
    line.wipe()
    result = restore(archive, line.paths, recorded=[read_recorded_head(recorded_copy)])
    assert not result.older and [item.problem for item in result.comparisons] == [None]


def _damaged(archive: Path, how: str) -> Path:
    data = bytearray(archive.read_bytes())
    if how == "a byte flipped in the middle":
        data[len(data) // 2] ^= 0x04
    elif how == "the last byte flipped":
        data[-1] ^= 0x80
    elif how == "a byte of the header flipped":
        data[30] ^= 0x01
    elif how == "cut short":
        del data[len(data) * 2 // 3:]
    elif how == "a byte added":
        data.append(0)
    damaged = archive.with_name(f"damaged-{how.replace(' ', '-')}")
    damaged.write_bytes(bytes(data))
    return damaged


@pytest.mark.parametrize("how", ["a byte flipped in the middle", "the last byte flipped",
                                 "a byte of the header flipped", "cut short", "a byte added"])  # fmt: skip
def test_a_damaged_archive_is_refused_and_nothing_written(sqlite_line: Line, tmp_path: Path, how: str) -> None:
    archive = backup(sqlite_line, tmp_path / "line.backup")
    target = StationPaths(tmp_path / "target", f"sqlite:///{tmp_path / 'target' / 'station.db'}")
    with pytest.raises(BackupError, match=r"damaged|cut short") as refused:
        restore(_damaged(archive, how), target)
    assert "nothing was written" in str(refused.value)
    assert not target.data_dir.exists()


def test_a_wrong_passphrase_is_refused_and_nothing_written(sqlite_line: Line, tmp_path: Path) -> None:
    archive = backup(sqlite_line, tmp_path / "line.backup")
    target = StationPaths(tmp_path / "target", f"sqlite:///{tmp_path / 'target' / 'station.db'}")
    with pytest.raises(BackupError, match="wrong backup passphrase") as refused:
        restore(archive, target, passphrase="not the passphrase")
    assert "not the passphrase" not in str(refused.value) and PASSPHRASE not in str(refused.value)
    assert not target.data_dir.exists()


def test_a_target_that_is_not_empty_is_refused(sqlite_line: Line, tmp_path: Path) -> None:
    archive = backup(sqlite_line, tmp_path / "line.backup")
    target = StationPaths(tmp_path / "target", f"sqlite:///{tmp_path / 'target' / 'station.db'}")
    target.data_dir.mkdir()
    (target.data_dir / "notes.txt").write_text("an engineer's notes", encoding="utf-8")
    with pytest.raises(BackupError, match=r"is not empty \(notes.txt\).*nothing was written"):
        restore(archive, target)
    assert [entry.name for entry in target.data_dir.iterdir()] == ["notes.txt"]
    # The station's own database is not a target either, wherever it lives.
    with pytest.raises(BackupError, match="exists already"):
        restore(archive, StationPaths(tmp_path / "empty", sqlite_line.paths.db_url))
    assert not (tmp_path / "empty").exists()


def test_a_backup_never_replaces_a_file(sqlite_line: Line, tmp_path: Path) -> None:
    out = tmp_path / "existing"
    out.write_bytes(b"keep me")
    with pytest.raises(BackupError, match="never replaces a file"):
        backup(sqlite_line, out)
    assert out.read_bytes() == b"keep me"


def test_the_archive_holds_no_secret_in_clear_and_no_token_key(sqlite_line: Line, tmp_path: Path) -> None:
    line = sqlite_line
    station_pem = line.paths.station_key_path.read_bytes()
    archive = backup(line, tmp_path / "line.backup").read_bytes()
    assert PASSPHRASE.encode() not in archive and station_pem not in archive and b"ACME-TOASTER" not in archive
    # A station whose keys live in a token: their URIs in the manifest, no key file of theirs archived.
    token = "pkcs11:token=line-hsm;object=station-signing"
    with line.settings_path.open("a", encoding="utf-8") as settings:
        settings.write(f'\n[custody]\nstation_key = "{token}"\nca_key = "pkcs11:token=line-hsm;object=factory-ca"\n')
    summary = make_backup(line.paths, line.settings_path, tmp_path / "token.backup", station="line-3",
                          passphrase=PASSPHRASE)  # fmt: skip
    names = [member.name for member in summary.manifest.members]
    assert "data/station-key.pem" not in names and "data/ca/ca-key.pem" not in names
    assert "data/ca/ca-cert.pem" in names and "chain-head.json" in names and "database/station.sqlite" in names
    assert summary.manifest.keys["station_key"] == f"token {token}"
    assert "token pkcs11:token=line-hsm;object=factory-ca" == summary.manifest.keys["ca_key"]
    manifest_text = summary.manifest.to_bytes().decode()
    assert PASSPHRASE not in manifest_text and "PRIVATE KEY" not in manifest_text
