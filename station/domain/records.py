"""Value types for what the station records: units, attempts, steps, credentials, tokens, audit.

These are what the store's repositories return (never ORM rows) and what the flow, the
reports and the GUI consume. Times are timezone-aware UTC. No type here holds a secret:
tokens appear as keyed fingerprints, credentials as certificate serials and fingerprints.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class JournalState(enum.StrEnum):
    """Where an attempt stands; committed before each irreversible act (see DESIGN.md)."""

    SCANNED = "SCANNED"
    CONNECTED = "CONNECTED"
    FLASHED = "FLASHED"
    VERIFIED = "VERIFIED"
    CREDENTIALS_RESERVED = "CREDENTIALS_RESERVED"
    INJECTED = "INJECTED"
    LOCK_PENDING = "LOCK_PENDING"
    LOCKED = "LOCKED"
    ACTIVATED = "ACTIVATED"
    PASSED = "PASSED"
    FAILED = "FAILED"
    NEEDS_INSPECTION = "NEEDS_INSPECTION"


class AttemptResult(enum.StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    PASSED = "PASSED"
    FAILED = "FAILED"
    NEEDS_INSPECTION = "NEEDS_INSPECTION"


class StepOutcome(enum.StrEnum):
    RUNNING = "RUNNING"
    PASSED = "PASSED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class CredentialState(enum.StrEnum):
    RESERVED = "RESERVED"  # committed before the credential leaves the station
    INJECTED = "INJECTED"  # written to the unit and read back
    VOID = "VOID"  # never to be used again (unit scrapped, rework, failed injection)


@dataclass(frozen=True)
class StepRecord:
    attempt_id: int
    name: str
    started_at: datetime
    outcome: StepOutcome
    ended_at: datetime | None = None
    detail: str = ""
    failure_code: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class StepEnd:
    """How a running step ends: its outcome, detail and failure code, and the journal state its
    attempt reaches with it (committed together: the two are never seen apart)."""

    outcome: StepOutcome
    detail: str = ""
    failure_code: str | None = None
    advance_to: JournalState | None = None


@dataclass(frozen=True)
class AttemptOwner:
    """Who works on an open attempt: the station, the host and process, and the slot.

    ``process_start`` names the process beyond its pid (the boot and the process's start
    time): a pid reused later by another process is not the owner.
    """

    station: str
    host: str
    pid: int
    process_start: str
    slot: str

    def describe(self) -> str:
        return f"{self.station}/{self.slot}"


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt at one unit: one row, updated as the journal moves."""

    id: int
    serial: str
    station: str
    operator: str
    work_order: str | None
    recipe_hash: str
    product: str
    state: JournalState
    result: AttemptResult
    started_at: datetime
    ended_at: datetime | None = None
    device_id: str | None = None
    probe_id: str | None = None
    failure_step: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    previous_attempt_id: int | None = None
    is_rework: bool = False
    image_hashes: tuple[str, ...] = ()
    certificate_fingerprint: str | None = None
    token_fingerprint: str | None = None
    console_transcript: str = ""
    steps: tuple[StepRecord, ...] = field(default=())
    owner: AttemptOwner | None = None  # None: recorded before attempts had owners
    heartbeat_at: datetime | None = None  # the owner's last sign of life while the attempt was open


@dataclass(frozen=True)
class UnitRecord:
    serial: str
    device_id: str | None
    first_seen_at: datetime
    is_golden: bool = False
    is_development: bool = False  # ever erased: never to ship


@dataclass(frozen=True)
class CredentialRecord:
    certificate_serial: str  # hex
    certificate_fingerprint: str  # SHA-256 hex of the DER certificate
    serial: str
    device_id: str
    attempt_id: int
    state: CredentialState
    certificate_pem: str
    created_at: datetime


@dataclass(frozen=True)
class SealedToken:
    """An activation token as the store keeps it: AES-GCM ciphertext and a keyed fingerprint."""

    fingerprint: str
    product: str
    nonce: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)
    use_limit: int | None
    imported_at: datetime


@dataclass(frozen=True)
class TokenStatus:
    fingerprint: str
    product: str
    uses: int
    use_limit: int | None
    imported_at: datetime

    @property
    def exhausted(self) -> bool:
        return self.use_limit is not None and self.uses >= self.use_limit


@dataclass(frozen=True)
class AuditEntry:
    """One append-only audit log entry; ``entry_hash`` chains to the previous one."""

    sequence: int
    recorded_at: datetime
    actor: str
    action: str
    detail: str
    previous_hash: str
    entry_hash: str
    signature: bytes = field(repr=False)  # empty: covered by the next signed entry's chain
    record: RecordRef | None = None  # set when the entry records a change to a row


@dataclass(frozen=True)
class MalformedEntry:
    """A stored chain entry whose fields cannot be read: where it is, and what is wrong."""

    where: str  # "entry 17", or "audit_log row 5" when even its sequence is unreadable
    explanation: str  # "recorded_at is not a time"


@dataclass(frozen=True)
class RecordRef:
    """The row a chain entry records: its table, its id, and the digest of its content then
    (None when the change deleted it)."""

    table: str
    row_id: int
    digest: str | None


@dataclass(frozen=True)
class StationRecord:
    name: str
    description: str
    created_at: datetime


@dataclass(frozen=True)
class OperatorRecord:
    """A person of the station; ``pin_hash`` is a slow hash of the PIN, never the PIN.

    ``failed_pins`` counts wrong PINs since the last right one; ``locked_until`` is set when
    too many came in a row (no PIN of theirs is accepted before then).
    """

    name: str
    role: str
    pin_hash: str | None = field(default=None, repr=False)
    failed_pins: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True)
class InspectionRecord:
    """A supervisor's finding on an attempt that recovery left for inspection."""

    attempt_id: int
    supervisor: str
    note: str
    recorded_at: datetime


@dataclass(frozen=True)
class WorkOrderRecord:
    code: str
    product: str | None
    quantity: int | None
    created_at: datetime


@dataclass(frozen=True)
class PersonKeyRecord:
    """A person's registered signing key (public half only): recipes they sign or approve are
    checked against it. ``location`` says where the private half lives (a file, a token URI)."""

    person: str
    fingerprint: str  # SHA-256 of the SubjectPublicKeyInfo DER
    algorithm: str
    public_key_pem: str = field(repr=False)
    location: str
    registered_at: datetime
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class RecipeSignatureRecord:
    """Who signed (and approved) a recipe, recorded with it: the detached signature document
    (``station.domain.recipe_signature``) as it was, and its facts for reading without parsing."""

    recipe_sha256: str
    signer: str
    signer_role: str
    signer_key: str  # the signer's public-key fingerprint
    approver: str | None
    approver_role: str | None
    approver_key: str | None
    document: str = field(repr=False)
    recorded_at: datetime | None = None  # None until the store holds it


@dataclass(frozen=True)
class RecipeRecord:
    """A recipe exactly as used: its TOML text and the SHA-256 of that text, and every signature
    document recorded with it (oldest first; none for an unsigned recipe)."""

    sha256: str
    product: str
    content: str = field(repr=False)
    recorded_at: datetime
    signatures: tuple[RecipeSignatureRecord, ...] = ()


@dataclass(frozen=True)
class AttemptFilter:
    """Which attempts an export or a query wants; every field left None matches all.

    ``since`` is inclusive and ``until`` exclusive, both on the attempt's start time (UTC).
    """

    work_order: str | None = None
    product: str | None = None
    station: str | None = None
    operator: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    result: AttemptResult | None = None
    serials: tuple[str, ...] | None = None
    recipe_hash: str | None = None  # the SHA-256 of the recipe text, lower-case hex


class AuditProblem(enum.StrEnum):
    """Why an audit entry failed verification."""

    HASH_MISMATCH = "hash mismatch"  # the entry's fields no longer give its stored hash
    BAD_SIGNATURE = "bad signature"  # the stored hash is not signed by the station's key
    BROKEN_LINK = "broken link"  # previous_hash names no entry of the log
    SEQUENCE_GAP = "sequence gap"  # a sequence number is missing (entry deleted)
    REORDERED = "reordered"  # previous_hash names an entry other than the one before it
    UNSIGNED = "unsigned"  # the newest entries are covered by no signature
    MALFORMED = "malformed"  # a stored field cannot be read (not a number, not a time)
    RECORD_CHANGED = "record changed"  # a row no longer has the content its newest entry recorded
    RECORD_DELETED = "record deleted"  # a row an entry recorded is gone
    RECORD_UNRECORDED = "record not in the chain"  # a row no entry records (written around the station)
    TRUNCATED = "truncated"  # entries the head file (or an export) saw are gone
    HEAD_MISMATCH = "head mismatch"  # the entry at the head's sequence is not the one it recorded


@dataclass(frozen=True)
class AuditVerification:
    """Outcome of walking the audit chain: OK with a count, or the first bad entry."""

    entries_checked: int
    last_hash: str | None = None  # head of the chain when OK: compare with an earlier copy
    bad_sequence: int | None = None
    problem: AuditProblem | None = None
    explanation: str = ""

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class ChainFinding:
    """One thing ``db verify`` found wrong: the entry it concerns (None: no entry) and why."""

    sequence: int | None
    problem: AuditProblem
    explanation: str


@dataclass(frozen=True)
class ChainReport:
    """Everything ``db verify`` checked: the chain's entries and signatures, every record
    against its newest entry, and the head kept outside the database."""

    chain: AuditVerification
    records_checked: int
    findings: tuple[ChainFinding, ...]  # the first few, in entry order; see ``finding_count``
    finding_count: int
    head_note: str  # what the head file says about the database, for the operator

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.finding_count == 0
