"""Fixtures for the store tests: the same database-backed tests run on every backend.

SQLite always; PostgreSQL too: the session's own throwaway server (the ``postgres_url`` fixture
in tests/conftest.py), or, when ``STATION_TEST_POSTGRES_URL`` is set, the database it names, which
the tests may wipe (its ``public`` schema is dropped and re-created before each test), e.g.
``postgresql+psycopg://station:station@127.0.0.1/station_test``. Without PostgreSQL binaries the
PostgreSQL variants skip, saying why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text

from station.store import Database, open_database
from station.store.line import LineDatabase

RECIPE_TEXT = '[product]\ncode = "ACME-TOASTER"\n'


class TestSigner:
    """A tiny Ed25519 AuditSigner, standing in for the station key of station/security."""

    __test__ = False

    def __init__(self) -> None:
        self.private_key = Ed25519PrivateKey.generate()
        self.public_key = self.private_key.public_key()

    @property
    def public_key_fingerprint(self) -> str:
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)

    def verify(self, data: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def write_private_pem(self, path: Path) -> None:
        path.write_bytes(self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ))
        path.chmod(0o600)

    def write_public_pem(self, path: Path) -> None:
        path.write_bytes(self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ))


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql")])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each backend. PostgreSQL is asked for only here, at run time, so
    that a session selecting no PostgreSQL test starts no server (and one without it skips)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'station.db'}"
    url: str = request.getfixturevalue("postgres_url")
    _reset_postgres(url)
    return url


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "station.db"


@pytest.fixture
def sqlite_url(sqlite_path: Path) -> str:
    return f"sqlite:///{sqlite_path}"


@pytest.fixture
def database(db_url: str, tmp_path: Path) -> Iterator[Database]:
    """A database of each backend, upgraded to the current schema, keeping its chain head
    where a station would."""
    opened = open_database(db_url)
    opened.upgrade()
    opened.keep_head_in(tmp_path / "data")
    yield opened
    opened.dispose()


@pytest.fixture
def sqlite_database(sqlite_url: str, tmp_path: Path) -> Iterator[Database]:
    opened = open_database(sqlite_url)
    opened.upgrade()
    opened.keep_head_in(tmp_path / "data")
    yield opened
    opened.dispose()


@pytest.fixture
def signer() -> TestSigner:
    return TestSigner()


@pytest.fixture
def recipe_hash(database: Database) -> str:
    return database.registry.record_recipe(RECIPE_TEXT, "ACME-TOASTER").sha256


@pytest.fixture(params=["sqlite", "postgresql"])
def line(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LineDatabase]:
    """An empty line database of each backend, its tables made."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'line.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        _reset_postgres(url)
    opened = LineDatabase(url)
    opened.ensure_schema()
    yield opened
    opened.dispose()
