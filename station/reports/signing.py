"""Signed exports: a manifest beside every export file, and a detached signature of it.

For an export ``FILE`` the station writes::

    FILE                  the export (CSV, NDJSON or PDF), unchanged by signing
    FILE.manifest.json    format, filter, row count, size and SHA-256 of FILE, created time
                          (UTC), station, and the station's public key (PEM and fingerprint)
    FILE.sig              the signature of the manifest's exact bytes: raw 64-byte Ed25519 (a key
                          file), or DER ECDSA over SHA-256 (a token key without Ed25519; the
                          manifest's ``signature_algorithm`` says which)

The signature covers the manifest, and the manifest pins the file's hash, so one changed
byte anywhere breaks verification. Anyone can check it without the station:
``openssl pkeyutl -verify -pubin -inkey station.pub -rawin -in FILE.manifest.json -sigfile
FILE.sig``, then ``sha256sum FILE`` against the manifest's ``sha256``.

:func:`verify_export` also recounts the rows (CSV records after the header; NDJSON lines) and,
given a trusted public key, refuses a manifest signed by any other key -- a manifest's own key
proves only that *someone* signed it.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from station.domain.errors import StationKeyError
from station.domain.records import AttemptFilter
from station.reports.errors import ReportError
from station.reports.filters import filter_to_json
from station.security.station_key import StationPublicKey

MANIFEST_SUFFIX = ".manifest.json"
SIGNATURE_SUFFIX = ".sig"
MANIFEST_VERSION = 1
_CHUNK = 1 << 20


class ExportSigner(Protocol):
    """The station key as exports need it (``StationKey`` is one)."""

    @property
    def public_key_fingerprint(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...

    def public_key_pem(self) -> str: ...


class Problem(enum.StrEnum):
    """Why an export failed verification; the value is what people read."""

    MANIFEST_MISSING = "manifest missing"
    SIGNATURE_MISSING = "signature missing"
    MANIFEST_UNREADABLE = "manifest unreadable"
    UNTRUSTED_KEY = "signed by another key"
    SIGNATURE_MISMATCH = "signature does not match"
    FILE_CHANGED = "file changed after signing"
    ROW_COUNT = "row count differs"


@dataclass(frozen=True)
class Finding:
    problem: Problem
    detail: str

    def __str__(self) -> str:
        return f"{self.problem.value}: {self.detail}"


@dataclass(frozen=True)
class ExportVerification:
    """The outcome of :func:`verify_export`: OK, or every problem found."""

    path: Path
    findings: tuple[Finding, ...] = ()
    manifest: dict[str, Any] = field(default_factory=dict)
    key_fingerprint: str | None = None
    trusted_key: bool = False  # checked against a key the caller trusts, not only the manifest's
    rows_recounted: int | None = None

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def problems(self) -> tuple[Problem, ...]:
        return tuple(finding.problem for finding in self.findings)


@dataclass(frozen=True)
class Manifest:
    """A manifest's exact bytes (what is signed) and the file digest they record."""

    data: bytes = field(repr=False)
    sha256: str
    size: int


def manifest_path_for(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def signature_path_for(path: Path) -> Path:
    return path.with_name(path.name + SIGNATURE_SUFFIX)


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 hex and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def build_manifest(
    path: Path,
    *,
    export_format: str,
    wanted: AttemptFilter,
    row_count: int,
    station: str,
    signer: ExportSigner,
    created_at: datetime | None = None,
    extra: dict[str, Any] | None = None,
    name: str | None = None,
) -> Manifest:
    """The manifest for the file at ``path`` (whose final name is ``name``)."""
    sha256, size = file_digest(path)
    document: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "file": name or path.name,
        "format": export_format,
        "sha256": sha256,
        "size": size,
        "row_count": row_count,
        "filter": filter_to_json(wanted),
        "created_at": (created_at or datetime.now(UTC)).astimezone(UTC).isoformat(),
        "station": station,
        "public_key_fingerprint": signer.public_key_fingerprint,
        "public_key_pem": signer.public_key_pem(),
        # ed25519 (a key file), or ecdsa-p256-sha256 for a token without Ed25519: the public key
        # says it too; this tells a person which openssl command checks the signature.
        "signature_algorithm": StationPublicKey.from_pem(signer.public_key_pem()).algorithm.value,
    }
    if extra:
        document.update(extra)
    return Manifest((json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8"), sha256, size)


def write_signature_files(final_path: Path, manifest: Manifest, signer: ExportSigner) -> tuple[Path, Path]:
    """Write FILE.manifest.json and FILE.sig beside ``final_path`` (each atomically)."""
    manifest_path = manifest_path_for(final_path)
    signature_path = signature_path_for(final_path)
    _write_atomically(signature_path, signer.sign(manifest.data))
    _write_atomically(manifest_path, manifest.data)
    return manifest_path, signature_path


def count_rows(path: Path, export_format: str) -> int | None:
    """Records in a CSV (after its header) or lines of an NDJSON file; None for a PDF."""
    if export_format == "csv":
        with path.open(encoding="utf-8", newline="") as source:
            return max(0, sum(1 for _ in csv.reader(source)) - 1)
    if export_format == "json":
        with path.open("rb") as source:
            return sum(1 for line in source if line.strip())
    return None


def verify_export(path: Path, *, trusted_key: StationPublicKey | None = None) -> ExportVerification:
    """Check an export against its manifest and signature; report every problem, not just one."""
    manifest_path = manifest_path_for(path)
    signature_path = signature_path_for(path)
    if not path.is_file():
        raise ReportError(f"{path} does not exist")
    if not manifest_path.is_file():
        return ExportVerification(path, (Finding(Problem.MANIFEST_MISSING, f"{manifest_path.name} is not beside "
                                                 f"{path.name}: this export cannot be verified"),))
    manifest_bytes = manifest_path.read_bytes()
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except (UnicodeDecodeError, ValueError) as error:
        return ExportVerification(path, (Finding(Problem.MANIFEST_UNREADABLE, f"{manifest_path.name}: {error}"),))
    findings: list[Finding] = []

    # The signature is checked with the manifest's own key (it says whether the manifest is intact);
    # a trusted key, when given, must moreover be that key (it says who signed).
    key_fingerprint: str | None = None
    verifier: StationPublicKey | None = trusted_key
    try:
        manifest_key = StationPublicKey.from_pem(str(manifest.get("public_key_pem", "")))
    except StationKeyError as error:
        findings.append(Finding(Problem.MANIFEST_UNREADABLE, f"no usable public key in the manifest ({error})"))
    else:
        key_fingerprint = manifest_key.public_key_fingerprint
        verifier = manifest_key
        named = manifest.get("signature_algorithm", manifest_key.algorithm.value)  # absent before token keys
        if named != manifest_key.algorithm.value:
            findings.append(Finding(Problem.MANIFEST_UNREADABLE,
                                    f"the manifest says {named}, its public key is {manifest_key.algorithm.value}"))
        if manifest.get("public_key_fingerprint") != key_fingerprint:
            findings.append(Finding(Problem.MANIFEST_UNREADABLE,
                                    "the manifest's key fingerprint does not match its public key"))
        if trusted_key is not None and trusted_key.public_key_fingerprint != key_fingerprint:
            findings.append(Finding(
                Problem.UNTRUSTED_KEY,
                f"the manifest names key {key_fingerprint[:16]}…, the trusted key is "
                f"{trusted_key.public_key_fingerprint[:16]}…",
            ))

    if not signature_path.is_file():
        findings.append(Finding(Problem.SIGNATURE_MISSING, f"{signature_path.name} is not beside {path.name}"))
    elif verifier is not None and not verifier.verify(manifest_bytes, signature_path.read_bytes()):
        findings.append(Finding(
            Problem.SIGNATURE_MISMATCH,
            f"{signature_path.name} is not the station key's signature of {manifest_path.name}",
        ))

    sha256, size = file_digest(path)
    if sha256 != manifest.get("sha256"):
        findings.append(Finding(
            Problem.FILE_CHANGED,
            f"SHA-256 of {path.name} is {sha256[:16]}…, the manifest says {str(manifest.get('sha256'))[:16]}…"
            + (f" (size {size} bytes, was {manifest.get('size')})" if size != manifest.get("size") else ""),
        ))
    export_format = str(manifest.get("format", ""))
    recounted: int | None = None
    try:
        recounted = count_rows(path, export_format)
    except (UnicodeDecodeError, csv.Error) as error:
        findings.append(Finding(Problem.FILE_CHANGED, f"{path.name} is no longer a readable {export_format}: {error}"))
    if recounted is not None and recounted != manifest.get("row_count"):
        findings.append(Finding(
            Problem.ROW_COUNT, f"{path.name} has {recounted} rows, the manifest says {manifest.get('row_count')}"
        ))
    return ExportVerification(
        path=path,
        findings=tuple(findings),
        manifest=manifest,
        key_fingerprint=key_fingerprint,
        trusted_key=trusted_key is not None,
        rows_recounted=recounted,
    )


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)
