"""The traceability store: SQLAlchemy models, Alembic migrations, repositories.

SQLAlchemy and Alembic are imported only inside this package; everything it hands out is a
domain record from ``station.domain.records``.

Typical use::

    database = open_database(StationPaths.from_environment().db_url)
    database.check_schema()              # refuses an unknown or old schema
    attempt = database.attempts.create_attempt(serial=..., station=..., ...)
    database.audit_log(signer).append_audit("operator:ann", "tokens.import", "12 tokens")
"""

from station.store.attempts import AttemptRepository
from station.store.audit import AuditRepository
from station.store.credentials import CredentialRepository
from station.store.database import Database, head_revision, migration_config, open_database, sqlite_file
from station.store.registry import RegistryRepository
from station.store.repository_helpers import UNSET
from station.store.selftests import SelfTestRepository
from station.store.tokens import SqlTokenRepository
from station.store.units import UnitRepository

__all__ = [
    "UNSET",
    "AttemptRepository",
    "AuditRepository",
    "CredentialRepository",
    "Database",
    "RegistryRepository",
    "SelfTestRepository",
    "SqlTokenRepository",
    "UnitRepository",
    "head_revision",
    "migration_config",
    "open_database",
    "sqlite_file",
]
