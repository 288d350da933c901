"""SQLAlchemy tables of the traceability store.

These classes never leave ``station.store``: repositories turn rows into the domain's
records. The schema in a database comes only from the migrations in ``migrations/``; the
test suite checks that the migrations and these models agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A moment in UTC: timezone-aware in and out, whatever the database keeps.

    SQLite has no time zones, so it stores naive UTC; PostgreSQL stores ``timestamptz``.
    A naive datetime is refused rather than guessed at.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("the store takes timezone-aware datetimes only")
        moment = value.astimezone(UTC)
        return moment if dialect.name == "postgresql" else moment.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # combine() rather than replace(tzinfo=...): same value, several times faster, and
            # exports read millions of these.
            return datetime.combine(value.date(), value.time(), UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(50))
    pin_hash: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failed_pins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WorkOrder(Base):
    __tablename__ = "work_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(200), unique=True)
    product: Mapped[str | None] = mapped_column(String(200))
    quantity: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Recipe(Base):
    __tablename__ = "recipes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    product: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PersonKey(Base):
    """A person's signing key (public half only; migration 0009). Revoked keys stay, so that the
    recipes they signed can still be told apart from recipes signed by no one."""

    __tablename__ = "person_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    algorithm: Mapped[str] = mapped_column(String(40))
    public_key: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(String(500))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RecipeSignature(Base):
    """A recipe's signature document as a station loaded it (migration 0009): who signed and
    approved the recipe every attempt under it ran (attempts name the recipe by its hash)."""

    __tablename__ = "recipe_signatures"
    __table_args__ = (Index("ix_recipe_signatures_recipe_document", "recipe_id", "document_sha256", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipe_id: Mapped[int] = mapped_column(ForeignKey("recipes.id"))
    document_sha256: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(Text)
    signer: Mapped[str] = mapped_column(String(200))
    signer_role: Mapped[str] = mapped_column(String(50))
    signer_key: Mapped[str] = mapped_column(String(64))
    approver: Mapped[str | None] = mapped_column(String(200))
    approver_role: Mapped[str | None] = mapped_column(String(50))
    approver_key: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(200), unique=True)
    device_id: Mapped[str | None] = mapped_column(String(200))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    is_golden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_development: Mapped[bool] = mapped_column(Boolean, default=False)


# The claims the database itself enforces (migration 0004): one open attempt per unit and per
# device, one passed attempt per unit and per device. A second claimant's INSERT or UPDATE fails
# in the database, whichever process or station it comes from.
_OPEN = "result = 'IN_PROGRESS'"
_PASSED = "result = 'PASSED'"
_OPEN_DEVICE = "result = 'IN_PROGRESS' AND device_id IS NOT NULL"
_PASSED_DEVICE = "result = 'PASSED' AND device_id IS NOT NULL"


def _partial_unique(name: str, column: str, where: str) -> Index:
    return Index(name, column, unique=True, sqlite_where=text(where), postgresql_where=text(where))


class Attempt(Base):
    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_unit_id_id", "unit_id", "id"),
        Index("ix_attempts_started_at", "started_at"),
        Index("ix_attempts_result", "result"),
        Index("ix_attempts_device_id", "device_id"),
        _partial_unique("ux_attempts_open_unit", "unit_id", _OPEN),
        _partial_unique("ux_attempts_passed_unit", "unit_id", _PASSED),
        _partial_unique("ux_attempts_open_device", "device_id", _OPEN_DEVICE),
        _partial_unique("ux_attempts_passed_device", "device_id", _PASSED_DEVICE),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"), index=True)
    recipe_hash: Mapped[str] = mapped_column(ForeignKey("recipes.sha256"))
    product: Mapped[str] = mapped_column(String(200))
    device_id: Mapped[str | None] = mapped_column(String(200))
    probe_id: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(40))
    result: Mapped[str] = mapped_column(String(40))
    failure_step: Mapped[str | None] = mapped_column(String(200))
    failure_code: Mapped[str | None] = mapped_column(String(100))
    failure_message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    previous_attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id"))
    is_rework: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    image_hashes: Mapped[str] = mapped_column(Text, default="[]")  # JSON array of hex SHA-256
    certificate_fingerprint: Mapped[str | None] = mapped_column(String(64))
    token_fingerprint: Mapped[str | None] = mapped_column(String(64))
    console_transcript: Mapped[str] = mapped_column(Text, default="")
    owner_host: Mapped[str | None] = mapped_column(String(200))
    owner_pid: Mapped[int | None] = mapped_column(Integer)
    owner_process_start: Mapped[str | None] = mapped_column(String(100))
    owner_slot: Mapped[str | None] = mapped_column(String(100))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Step(Base):
    __tablename__ = "steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
    failure_code: Mapped[str | None] = mapped_column(String(100))


class Inspection(Base):
    """A supervisor's finding on an attempt recovery could not settle (MAY_BE_LOCKED)."""

    __tablename__ = "inspections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), unique=True)
    supervisor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GoldenReference(Base):
    """What a golden unit was when a supervisor marked it (migration 0007): the self-test compares
    the unit with it. Never changed: a new marking adds a reference, unmarking keeps them all."""

    __tablename__ = "golden_references"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(200))
    image_hashes: Mapped[str] = mapped_column(Text)  # JSON array of "name:sha256"
    locked: Mapped[bool] = mapped_column(Boolean)
    console_identity: Mapped[str] = mapped_column(Text)  # JSON object
    source: Mapped[str] = mapped_column(String(200))  # "probe <id>" or "attempt <n>"
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SelfTest(Base):
    """A station self-test on a golden unit (migration 0007): each check's outcome and why."""

    __tablename__ = "selftests"
    __table_args__ = (Index("ix_selftests_station_id_ended_at", "station_id", "ended_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    reference_id: Mapped[int] = mapped_column(ForeignKey("golden_references.id"))
    recipe_hash: Mapped[str] = mapped_column(ForeignKey("recipes.sha256"))
    probe_id: Mapped[str] = mapped_column(String(200))
    device_id: Mapped[str | None] = mapped_column(String(200))
    result: Mapped[str] = mapped_column(String(40))
    checks: Mapped[str] = mapped_column(Text)  # JSON array of {"check", "outcome", "detail"}
    reason: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Credential(Base):
    """A production credential issued to a unit: its certificate only, never its key."""

    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    certificate_serial: Mapped[str] = mapped_column(String(64), unique=True)
    certificate_fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    serial: Mapped[str] = mapped_column(String(200), index=True)
    device_id: Mapped[str] = mapped_column(String(200))
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    certificate_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VaultParameter(Base):
    """The token vault's key-derivation parameters: one row, written once."""

    __tablename__ = "vault_parameters"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    scrypt_n: Mapped[int] = mapped_column(Integer)
    scrypt_r: Mapped[int] = mapped_column(Integer)
    scrypt_p: Mapped[int] = mapped_column(Integer)
    check_nonce: Mapped[bytes] = mapped_column(LargeBinary)
    check_value: Mapped[bytes] = mapped_column(LargeBinary)


class SealedTokenRow(Base):
    """An activation token as AES-GCM ciphertext with its keyed fingerprint."""

    __tablename__ = "sealed_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    product: Mapped[str] = mapped_column(String(200), index=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    use_limit: Mapped[int | None] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TokenUse(Base):
    __tablename__ = "token_uses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(ForeignKey("sealed_tokens.fingerprint"), index=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # reserved: taken before the activation command was sent (counts toward the limit);
    # used: the unit accepted it (NULL in rows from before migration 0006 means used);
    # released: the unit refused it, or was found not activated: the use is given back.
    state: Mapped[str | None] = mapped_column(String(20))


class SerialRuleRow(Base):
    """A work order's serial rule (migration 0011; ``station.domain.serial_numbers``).
    ``next_seq`` is the first running number no block has leased yet: the counter that
    ``station.store.serial_allocation`` advances under this row's lock."""

    __tablename__ = "serial_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), unique=True)
    template: Mapped[str] = mapped_column(String(200))
    first_seq: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer)
    check_digit: Mapped[str] = mapped_column(String(20))
    next_seq: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SerialBlock(Base):
    """A station's lease of running numbers ``first_seq..last_seq``; those from ``next_seq`` on
    are still free in it. Blocks of one work order never overlap."""

    __tablename__ = "serial_blocks"
    __table_args__ = (Index("ix_serial_blocks_work_order_id_station_id", "work_order_id", "station_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    first_seq: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer)
    next_seq: Mapped[int] = mapped_column(Integer)
    leased_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AllocatedSerial(Base):
    """One running number handed out: allocated, bound (to a device), used (its unit passed),
    returned (to its station's pool, reusable) or scrapped (a supervisor's decision, for good)."""

    __tablename__ = "serials"
    __table_args__ = (
        Index("ix_serials_work_order_id_seq", "work_order_id", "seq", unique=True),
        Index("ix_serials_work_order_id_station_id_state", "work_order_id", "station_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"))
    block_id: Mapped[int] = mapped_column(ForeignKey("serial_blocks.id"))
    seq: Mapped[int] = mapped_column(Integer)
    serial: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(20))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    attempt_id: Mapped[int | None] = mapped_column(Integer)  # the station's own attempt; no foreign key
    device_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    times_returned: Mapped[int] = mapped_column(Integer, default=0)
    allocated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    scrapped_by: Mapped[str | None] = mapped_column(String(200))
    scrap_reason: Mapped[str | None] = mapped_column(Text)


class LabelJob(Base):
    """A label printed (or to print) for a passed attempt (migration 0010; ``station.store.labels``).
    One per attempt unless it is a reprint, which names the job it repeats and its supervisor."""

    __tablename__ = "label_jobs"
    __table_args__ = (
        Index("ux_label_jobs_first_label", "attempt_id", unique=True,
              sqlite_where=text("reprint_of IS NULL"), postgresql_where=text("reprint_of IS NULL")),
        Index("ix_label_jobs_state", "state"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    serial: Mapped[str] = mapped_column(String(200))
    printer: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(20))
    tries: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    zpl_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    printed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When a process took the job to send it (state printing): no other sends it meanwhile.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reprint_of: Mapped[int | None] = mapped_column(ForeignKey("label_jobs.id"))
    supervisor: Mapped[str | None] = mapped_column(String(200))


class AuditLogRow(Base):
    """Append-only: the database's own triggers refuse UPDATE and DELETE (migration 0002)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_record", "record_table", "record_id", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, unique=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)
    previous_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary)  # empty: covered by the next signed entry
    # Set when the entry records a change to a row (migration 0005): which row, and its digest.
    record_table: Mapped[str | None] = mapped_column(String(40))
    record_id: Mapped[int | None] = mapped_column(Integer)
    record_digest: Mapped[str | None] = mapped_column(String(64))


class OutboxRecordRow(Base):
    """The row a chain entry recorded, as it was committed (its canonical JSON, whose SHA-256 is
    the entry's ``record_digest``): written in the same transaction as the entry, so that the
    station can forward to the line database what it recorded, even after the row changed
    again or while the line was out of reach (migration 0012). Not itself in the chain: the
    entry's digest checks it."""

    __tablename__ = "outbox_records"

    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)  # the audit_log entry's
    row_json: Mapped[str] = mapped_column(Text)


def utc_now() -> datetime:
    return datetime.now(UTC)
