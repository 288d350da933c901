"""A line database's roles (station/store/line_roles.py, packaging/line-*.sql), on a real server.

The module starts its own throwaway PostgreSQL (tests/postgres_server.py), whose superuser it may
use: roles belong to a whole cluster, and these tests create them, revoke PUBLIC's rights on the
database, and must leave the session's shared server as they found it. The shipped scripts run
exactly as docs/line-database.md says, with psql; the migration owner upgrades the schema; a
station's login role then runs a whole attempt, and may not change history or the schema.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import postgres_server
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from station.domain.errors import StoreError
from station.domain.records import AttemptOwner, AttemptResult, CredentialState, JournalState, SealedToken, StepOutcome
from station.domain.serial_numbers import parse_numbering
from station.domain.vault_and_signing import VaultParameters
from station.store import open_database
from station.store.backup import copy_database
from station.store.forwarding import forward
from station.store.line import LineDatabase
from station.store.line_roles import (
    DATABASE_FILE,
    GRANTS_FILE,
    LineNames,
    database_script,
    grants_script,
    line_tables,
    station_role,
    station_statements,
    writer_tables,
)
from station.store.line_serials import LineSerials

from .conftest import RECIPE_TEXT, TestSigner

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
NAMES = LineNames()
STATION = "line1-st1"
T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
INSUFFICIENT_PRIVILEGE = "42501"


@dataclass(frozen=True)
class Line:
    """The line database as the tests see it: a URL per role."""

    superuser: str
    owner: str
    station: str
    auditor: str


def _url(superuser_url: str, user: str, password: str, database: str) -> str:
    url = make_url(superuser_url).set(username=user, password=password, database=database)
    return url.render_as_string(hide_password=False)


def _psql(server: postgres_server.RunningServer, url: str, script: Path) -> None:
    """Run a shipped script with psql as the documented commands do; the password comes in the
    environment, as a .pgpass file would give it (never on the command line)."""
    parsed = make_url(url)
    binaries = server.binaries or postgres_server.find_binaries()
    assert binaries is not None
    beside_server = (binaries / "pg_ctl").resolve().parent / "psql"  # Debian's bin/, behind PATH's links
    psql = str(beside_server) if beside_server.is_file() else shutil.which("psql")
    assert psql is not None, "psql (the Debian package postgresql-client) is not installed"
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    environment["PGPASSWORD"] = str(parsed.password)
    completed = subprocess.run(
        [psql, "--no-psqlrc", "--quiet", "-h", str(parsed.host), "-p", str(parsed.port),
         "-U", str(parsed.username), "-d", str(parsed.database), "-f", str(script)],
        env=environment, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 0, completed.stderr


def _run_as(url: str, statements: list[str]) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def line_server() -> Iterator[postgres_server.RunningServer]:
    reason = postgres_server.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with postgres_server.throwaway_server() as server:
        yield server


@pytest.fixture(scope="module")
def line(line_server: postgres_server.RunningServer) -> Line:
    """The line set up as docs/line-database.md says: the superuser's script, passwords set out
    of band, a station's role, ``station db upgrade`` as the owner, then the grants (twice: run
    again after an upgrade, they give the same rights)."""
    assert line_server.superuser_url is not None
    superuser = line_server.superuser_url
    _psql(line_server, superuser, PACKAGING / DATABASE_FILE)
    passwords = {role: secrets.token_hex(12) for role in (NAMES.owner, station_role(STATION), "auditor_ann")}
    _run_as(superuser, [
        *station_statements(STATION, NAMES),
        f"CREATE ROLE auditor_ann LOGIN IN ROLE {NAMES.auditor}",
        *(f"ALTER ROLE {role} PASSWORD '{password}'" for role, password in passwords.items()),
    ])
    made = Line(
        superuser=_url(superuser, "postgres", str(make_url(superuser).password), NAMES.database),
        owner=_url(superuser, NAMES.owner, passwords[NAMES.owner], NAMES.database),
        station=_url(superuser, station_role(STATION), passwords[station_role(STATION)], NAMES.database),
        auditor=_url(superuser, "auditor_ann", passwords["auditor_ann"], NAMES.database),
    )
    owner_database = open_database(made.owner)
    try:
        owner_database.upgrade()
    finally:
        owner_database.dispose()
    for _ in range(2):
        _psql(line_server, made.owner, PACKAGING / GRANTS_FILE)
    return made


@pytest.fixture(scope="module")
def station_signer() -> TestSigner:
    """The station key of ``line1-st1``, whose public half the auditor verifies with."""
    return TestSigner()


def _refused(url: str, statement: str) -> DBAPIError:
    engine = create_engine(url)
    try:
        with pytest.raises(DBAPIError) as raised, engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()
    return raised.value


# -- the scripts ------------------------------------------------------------------------------


def test_the_shipped_scripts_are_the_rendering_of_the_models() -> None:
    """A table added by a migration changes the grants: regenerate with
    ``python -m station.store.line_roles packaging``."""
    assert (PACKAGING / DATABASE_FILE).read_text(encoding="utf-8") == database_script()
    assert (PACKAGING / GRANTS_FILE).read_text(encoding="utf-8") == grants_script()
    assert "PASSWORD" not in database_script() + grants_script()


def test_station_roles_are_named_after_the_station_and_bad_names_are_refused() -> None:
    assert station_role("line1-st1") == "station_line1_st1"
    assert station_role("Line2_ST3") == "station_line2_st3"
    for bad in ("", "st1; DROP ROLE postgres", "st 1", "-st1", "x" * 60, "st1'"):
        with pytest.raises(StoreError, match=r"station name|PostgreSQL name"):
            station_role(bad)
    with pytest.raises(StoreError, match="not a usable PostgreSQL name"):
        LineNames(owner="owner; DROP DATABASE station")


def test_every_table_the_migrations_make_has_its_rights(line: Line) -> None:
    engine = create_engine(line.owner)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            assert tables == {*writer_tables(), *line_tables(), "alembic_version"}

            def may(role: str, table: str, privilege: str) -> bool:
                return bool(connection.execute(text("SELECT has_table_privilege(:role, :table, :privilege)"),
                                               {"role": role, "table": table, "privilege": privilege}).scalar())

            for table, rights in line_tables().items():  # the line's own tables: what their statements need
                granted = {privilege for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
                           if may(NAMES.writer, table, privilege)}  # fmt: skip
                assert granted == set(rights.split(", ")), table
                assert may(NAMES.auditor, table, "SELECT") and not may(NAMES.auditor, table, "INSERT"), table
            for table in sorted(tables - set(line_tables())):
                assert may(NAMES.writer, table, "SELECT") and may(NAMES.auditor, table, "SELECT")
                assert not may(NAMES.writer, table, "DELETE"), table
                for privilege in ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"):
                    assert not may(NAMES.auditor, table, privilege), (table, privilege)
                writes = table not in ("alembic_version", "audit_log")
                assert may(NAMES.writer, table, "UPDATE") is writes, table
                assert may(NAMES.writer, table, "INSERT") is (table != "alembic_version"), table
                assert may(NAMES.writer, table, "TRUNCATE") is (table == "audit_log"), table
                assert not may(NAMES.writer, table, "REFERENCES") and not may(NAMES.writer, table, "TRIGGER")
            owner_of_schema = connection.execute(text(
                "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'")).scalar()
            assert owner_of_schema == NAMES.owner
    finally:
        engine.dispose()


# -- a station's role -------------------------------------------------------------------------


def test_a_station_role_runs_a_whole_attempt_and_the_chain_verifies(line: Line, station_signer: TestSigner,
                                                                     tmp_path: Path) -> None:
    signer = station_signer
    database = open_database(line.station)
    try:
        database.check_schema()
        database.keep_head_in(tmp_path / "data")
        database.seal_with(signer, actor=f"station:{STATION}")
        registry = database.registry
        registry.upsert_station(STATION, "line 1, station 1")
        registry.upsert_operator("ann")
        registry.upsert_work_order("WO-1", product="ACME-TOASTER", quantity=5)
        recipe = registry.record_recipe(RECIPE_TEXT, "ACME-TOASTER")
        tokens = database.tokens
        tokens.set_vault_parameters(VaultParameters(salt=b"s" * 16, scrypt_n=2**14, scrypt_r=8, scrypt_p=1,
                                                    check_nonce=b"n" * 12, check_value=b"v" * 32))
        tokens.add_sealed_tokens([SealedToken(fingerprint="f1", product="ACME-TOASTER", nonce=b"n" * 12,
                                              ciphertext=b"c" * 40, use_limit=2, imported_at=T0)])
        owner = AttemptOwner(station=STATION, host="pc1", pid=4242, process_start="boot:1", slot="1")
        attempt = database.attempts.create_attempt(
            serial="SN-0001", station=STATION, operator="ann", recipe_hash=recipe.sha256, product="ACME-TOASTER",
            work_order="WO-1", owner=owner, at=T0)
        assert database.attempts.heartbeat(owner, at=T0 + timedelta(seconds=1)) == 1
        connect = database.attempts.start_step(attempt.id, "connect", at=T0 + timedelta(seconds=1))
        assert connect.id is not None
        database.attempts.finish_step(connect.id, StepOutcome.PASSED, detail="device id D1",
                                      advance_to=JournalState.CONNECTED, at=T0 + timedelta(seconds=2))
        credential = database.credentials.reserve_credential(
            certificate_serial="0a1b", certificate_fingerprint="ab" * 32, serial="SN-0001", device_id="D1",
            attempt_id=attempt.id, certificate_pem="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        assert database.credentials.mark_injected(credential.certificate_serial).state is CredentialState.INJECTED
        tokens.reserve_token_use("f1", attempt.id)
        tokens.confirm_token_use("f1", attempt.id)
        database.audit_log(signer).append_audit("operator:ann", "unit.note", "rescanned once")
        done = database.attempts.finish_attempt(attempt.id, AttemptResult.PASSED, at=T0 + timedelta(seconds=9))
        assert done.result is AttemptResult.PASSED
        report = database.verify_chain(signer)
        assert report.ok and report.chain.entries_checked > 0 and report.records_checked > 0
        # `station backup` as the station's own role: pg_dump reads every table and sequence.
        copy = copy_database(line.station, tmp_path)
        assert copy.path.stat().st_size > 0 and copy.head is not None
    finally:
        database.dispose()


@pytest.mark.parametrize("statement", [
    "DELETE FROM audit_log",
    "UPDATE audit_log SET detail = 'changed'",
    "DELETE FROM attempts",
    "TRUNCATE attempts",
    "TRUNCATE units CASCADE",
    "DROP TABLE attempts",
    "DROP TABLE audit_log",
    "CREATE TABLE shadow (id integer)",
    "ALTER TABLE audit_log DISABLE TRIGGER USER",
    "CREATE INDEX ix_shadow ON attempts (serial)",
    "UPDATE alembic_version SET version_num = '0001'",
    "SET session_replication_role = replica",  # would skip the append-only triggers
    "CREATE SCHEMA shadow",
])
def test_a_station_role_may_not_change_history_or_the_schema(line: Line, statement: str) -> None:
    error = _refused(line.station, statement)
    assert getattr(error.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE, error


def test_truncating_the_audit_log_is_refused_by_its_trigger(line: Line) -> None:
    """The one right beyond the statements: TRUNCATE on audit_log (PostgreSQL < 17), which the
    sealing's table lock needs; the append-only trigger refuses TRUNCATE itself."""
    error = _refused(line.station, "TRUNCATE audit_log")
    assert "audit log is append-only" in str(error.orig)


def test_the_right_on_audit_log_is_what_lets_the_sealing_lock_it(line: Line) -> None:
    """chain.Sealer's ``LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE`` needs UPDATE, DELETE or
    TRUNCATE (MAINTAIN from 17): the station's role takes it, the auditor's (SELECT only) cannot."""
    _run_as(line.station, ["LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"])
    error = _refused(line.auditor, "LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")
    assert getattr(error.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE, error


# -- the auditor ------------------------------------------------------------------------------


def test_a_station_role_works_the_line_database_with_the_rights_it_has(
    line: Line, station_signer: TestSigner, tmp_path: Path
) -> None:
    """Store and forward as a station's role: its chain forwarded, a serial claimed and released,
    a block of serials leased, conflicts looked for; every lock taken is advisory (no right beyond
    the statements'). The tables are the owner's (the grants script made them): none is made here."""
    journal = open_database(f"sqlite:///{tmp_path / 'station.db'}")
    journal.upgrade()
    journal.seal_with(station_signer, actor="station:line1-st1")
    journal.audit_log(station_signer).append_audit("station:line1-st1", "test.start", "a station's first entry")
    as_station = LineDatabase(line.station)
    try:
        as_station.ensure_schema()  # the tables are there: nothing to make
        assert forward(journal, as_station, "line1-st1").pending == 0
        held = [entry.sequence for entry in as_station.entries("line1-st1")]
        assert held == list(range(1, journal.last_sequence() + 1)) and held
        as_station.claim("TST-000001", "line1-st1", "WO-1", 10)
        as_station.release("TST-000001", "line1-st1", passed=False)
        serials = LineSerials(as_station)
        serials.set_rule("WO-1", parse_numbering("TST-{seq:06d}", 1, 100, "none"), "sue")
        assert (serials.lease_block("WO-1", "line1-st1", 10).first, serials.counts("WO-1").totals.leased) == (1, 10)
        assert as_station.find_conflicts() == []
    finally:
        as_station.dispose()
        journal.dispose()
    for statement in ("DELETE FROM line_entries", "UPDATE line_entries SET detail = 'x'", "TRUNCATE line_heads",
                      "UPDATE line_serial_blocks SET station = 'other'", "DELETE FROM line_conflicts",
                      "DROP TABLE line_claims", "CREATE TABLE line_shadow (id integer)"):  # fmt: skip
        error = _refused(line.station, statement)
        assert getattr(error.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE, (statement, error)


def test_the_auditor_reads_everything_and_writes_nothing(line: Line, station_signer: TestSigner) -> None:
    auditor = open_database(line.auditor)
    try:
        auditor.check_schema()
        report = auditor.verify_chain(station_signer)  # the chain and every record: reading only
        assert report.ok, (report.findings, report.head_note)
    finally:
        auditor.dispose()
    engine = create_engine(line.auditor)
    try:
        with engine.connect() as connection:
            for table in sorted({*writer_tables(), "alembic_version"}):
                connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()
    for statement in ("INSERT INTO stations (name, description, created_at) VALUES ('x', '', now())",
                      "UPDATE attempts SET result = 'PASSED'", "DELETE FROM units",
                      "INSERT INTO audit_log (sequence) VALUES (999999)"):
        error = _refused(line.auditor, statement)
        assert getattr(error.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE, error


# -- TLS (last: it turns on TLS for this module's own server) ---------------------------------------


def _certificates(directory: Path, ca_name: str = "Line 1 CA") -> tuple[Path, Path, Path]:
    """A line CA, and a server certificate for 127.0.0.1 signed by it: (ca, certificate, key)."""
    directory.mkdir(exist_ok=True)
    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    now = datetime.now(UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name(ca_name)).issuer_name(name(ca_name))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder().subject_name(name("dbhost")).issuer_name(ca.subject)
              .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
    paths = directory / "line-ca.pem", directory / "server.crt", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return paths


def _connects(url: str) -> bool | str:
    """Whether the connection at ``url`` is encrypted, or why it failed."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return bool(connection.execute(text(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).scalar())
    except DBAPIError as error:
        return str(error.orig)
    finally:
        engine.dispose()


def test_stations_reach_the_line_only_over_verified_tls(line_server: postgres_server.RunningServer, line: Line,
                                                       tmp_path: Path) -> None:
    """``ssl = on``, the ``hostssl ... scram-sha-256`` and ``hostnossl ... reject`` lines of
    docs/line-database.md, and a station URL with ``sslmode=verify-full``."""
    data = line_server.directory / "data"
    ca, certificate, key = _certificates(tmp_path)
    for source in (certificate, key):
        target = data / source.name
        shutil.copyfile(source, target)
        target.chmod(0o600)
        if line_server.user is not None and line_server.user.uid is not None:
            os.chown(target, line_server.user.uid, line_server.user.gid or 0)
    hba = data / "pg_hba.conf"
    hba.write_text(f"hostssl {NAMES.database} all 127.0.0.1/32 scram-sha-256\n"
                   f"hostnossl {NAMES.database} all all reject\n" + hba.read_text())
    engine = create_engine(line.superuser, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for setting in ("ssl = 'on'", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'"):
                connection.execute(text(f"ALTER SYSTEM SET {setting}"))
            assert connection.execute(text("SELECT pg_reload_conf()")).scalar() is True
    finally:
        engine.dispose()
    verified = f"{line.station}?sslmode=verify-full&sslrootcert={ca}"
    for _ in range(200):  # the postmaster rereads its files when the signal arrives: wait for it
        if _connects(verified) is True:
            break
        time.sleep(0.05)
    assert _connects(verified) is True
    assert "no encryption" in str(_connects(f"{line.station}?sslmode=disable"))
    other_ca, _, _ = _certificates(tmp_path / "other", "Someone else's CA")
    assert "certificate verify failed" in str(_connects(f"{line.station}?sslmode=verify-full&sslrootcert={other_ca}"))
    database = open_database(verified)
    try:
        database.check_schema()
        assert database.registry.upsert_station("line1-st2").name == "line1-st2"
    finally:
        database.dispose()
