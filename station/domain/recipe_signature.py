"""Signed, approved recipes: what a signature covers, and the detached document that holds it.

An engineer of the station signs a recipe; when the recipe asks for two people
(``[approval] required = 2``) a second person (a supervisor or another engineer) approves it.
Both signatures live beside the recipe, in ``<recipe file>.sig``, a small JSON document::

    {"format": "station-recipe-signature/1",
     "recipe": {"sha256": "...", "product": "ACME-TOASTER"},
     "files": [{"name": "images.application", "sha256": "..."}, ...],
     "signature": {"person": "eve", "role": "engineer", "algorithm": "ed25519",
                   "key_fingerprint": "...", "signed_at": "2026-03-01T09:30:00Z",
                   "public_key": "-----BEGIN PUBLIC KEY-----...", "value": "<base64>"},
     "approval": null or the same fields for the approver}

**What is signed** is a canonical byte string (JSON, keys sorted, no spaces, ASCII) of the
recipe's SHA-256 (of the file's bytes) and product, the SHA-256 of every file the recipe makes
the station use -- each image's content (the hash it pins), the CMSIS pack, the firmware-update
certificate, the instructions' pictures -- and the signer's name, role, algorithm, public-key
fingerprint and time. The approval signs the same, plus the whole first signature (its value
included), plus the approver's fields: it approves exactly that signed recipe. Changing one
byte of the recipe or of any of those files makes the document no longer match.

This module is pure: the cryptography is ``station.security.signing_keys``, and who may sign
(engineers registered at this station, their keys) is decided in
``station.operations.recipe_signing``, the one place both front ends verify through.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from station.domain.errors import RecipeChangedError, RecipeSignatureError
from station.domain.recipe import Recipe
from station.domain.strict_toml import StrictTable

FORMAT: Final = "station-recipe-signature/1"
SIGNATURE_SUFFIX: Final = ".sig"
MAXIMUM_DOCUMENT_BYTES: Final = 256 * 1024
ONE_PERSON, TWO_PEOPLE = 1, 2
_HEX64: Final = re.compile(r"^[0-9a-f]{64}$")
_WORD: Final = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_SIGNER_KEYS: Final = ("person", "role", "algorithm", "key_fingerprint", "signed_at")
_ENTRY_KEYS: Final = (*_SIGNER_KEYS, "public_key", "value")


def read_approval(top: StrictTable) -> int:
    """The recipe's ``[approval]`` table: ``required``, how many people's signatures a station in
    production needs (1: the engineer's; 2: the engineer's and a second person's approval)."""
    table = top.table("approval", ["required"], required=False)
    if table is None:
        return ONE_PERSON
    required = table.integer("required")
    if required not in (ONE_PERSON, TWO_PEOPLE):
        raise table.error("required", "must be 1 (an engineer signs) or 2 (an engineer signs, a second person "
                          f"approves), not {required}")  # fmt: skip
    return required


def signature_path(recipe_path: Path) -> Path:
    """Where a recipe's signature document lives: beside it, ``recipe.toml.sig``."""
    return recipe_path.with_name(recipe_path.name + SIGNATURE_SUFFIX)


# --------------------------------------------------------------------------- what is signed


@dataclass(frozen=True)
class SignedFile:
    name: str  # "images.application", "pack", "credentials.update_auth_certificate", "instructions.flash.picture"
    sha256: str


@dataclass(frozen=True)
class SignedContent:
    """The recipe and every file it makes the station use, by SHA-256."""

    recipe_sha256: str
    product: str
    files: tuple[SignedFile, ...]

    def to_json(self) -> dict[str, Any]:
        return {"recipe": {"sha256": self.recipe_sha256, "product": self.product},
                "files": [{"name": item.name, "sha256": item.sha256} for item in self.files]}  # fmt: skip


def signed_content(recipe: Recipe) -> SignedContent:
    """What a signature of ``recipe`` covers, from the loaded recipe (the bytes the station uses)."""
    files = [SignedFile(f"images.{image.name}", image.sha256) for image in recipe.images]
    if recipe.pack is not None:
        files.append(SignedFile("pack", recipe.pack.sha256))
    certificate = recipe.credentials.update_auth_certificate
    if certificate is not None:
        files.append(SignedFile("credentials.update_auth_certificate", hashlib.sha256(certificate).hexdigest()))
    for instruction in recipe.instructions:
        if instruction.picture_path is not None:
            picture = hashlib.sha256(instruction.picture).hexdigest()
            files.append(SignedFile(f"instructions.{instruction.step.value}.picture", picture))
    return SignedContent(recipe.content_hash, recipe.product, tuple(files))


def check_unchanged(signed: SignedContent, current: SignedContent, where: str) -> None:
    """RecipeChangedError naming the first thing that differs from what was signed."""
    if signed.recipe_sha256 != current.recipe_sha256:
        raise RecipeChangedError(
            f"{where}: the recipe changed after it was signed (its SHA-256 is {current.recipe_sha256}, the "
            f"signature is for {signed.recipe_sha256}): sign the changed recipe again"
        )
    if signed.product != current.product:
        raise RecipeChangedError(f"{where}: signed for product {signed.product}, the recipe is for {current.product}")
    signed_files = {item.name: item.sha256 for item in signed.files}
    current_files = {item.name: item.sha256 for item in current.files}
    for name, sha256 in current_files.items():
        if name not in signed_files:
            raise RecipeChangedError(f"{where}: {name} was not part of the signed recipe")
        if signed_files[name] != sha256:
            raise RecipeChangedError(f"{where}: {name} changed after the recipe was signed (SHA-256 now {sha256}, "
                                     f"signed {signed_files[name]})")  # fmt: skip
    for name in signed_files.keys() - current_files.keys():
        raise RecipeChangedError(f"{where}: {name} was signed but the recipe no longer uses it")


# --------------------------------------------------------------------------- the signatures


@dataclass(frozen=True)
class Signer:
    """Who signs, as the signature states it (and signs it)."""

    person: str
    role: str
    algorithm: str
    key_fingerprint: str
    signed_at: datetime

    def to_json(self) -> dict[str, str]:
        moment = self.signed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"person": self.person, "role": self.role, "algorithm": self.algorithm,
                "key_fingerprint": self.key_fingerprint, "signed_at": moment}  # fmt: skip


@dataclass(frozen=True)
class SignatureEntry:
    signer: Signer
    public_key_pem: str = field(repr=False)
    value: bytes = field(repr=False)

    def to_json(self) -> dict[str, str]:
        return {**self.signer.to_json(), "public_key": self.public_key_pem,
                "value": base64.b64encode(self.value).decode("ascii")}  # fmt: skip


@dataclass(frozen=True)
class SignatureDocument:
    content: SignedContent
    signature: SignatureEntry
    approval: SignatureEntry | None = None

    def with_approval(self, approval: SignatureEntry) -> SignatureDocument:
        return replace(self, approval=approval)

    def render(self) -> str:
        """The document as the ``.sig`` file holds it (readable JSON, one trailing newline)."""
        document = {"format": FORMAT, **self.content.to_json(), "signature": self.signature.to_json(),
                    "approval": None if self.approval is None else self.approval.to_json()}  # fmt: skip
        return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


def signature_payload(content: SignedContent, signer: Signer) -> bytes:
    """The bytes the signer signs."""
    return _canonical({"purpose": "station recipe signature", "format": FORMAT, **content.to_json(),
                       "signer": signer.to_json()})  # fmt: skip


def approval_payload(content: SignedContent, signature: SignatureEntry, approver: Signer) -> bytes:
    """The bytes the approver signs: the signed recipe, its signature, and the approver."""
    return _canonical({"purpose": "station recipe approval", "format": FORMAT, **content.to_json(),
                       "signature": signature.to_json(), "approver": approver.to_json()})  # fmt: skip


def _canonical(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


# --------------------------------------------------------------------------- reading a document


def read_signature_document(path: Path) -> tuple[SignatureDocument, str] | None:
    """The document at ``path`` and its text; None when there is none (the recipe is unsigned)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAXIMUM_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise RecipeSignatureError(f"cannot read the signature {path}: {error.strerror or error}") from None
    if len(raw) > MAXIMUM_DOCUMENT_BYTES:
        raise RecipeSignatureError(f"{path} is larger than a recipe signature can be ({MAXIMUM_DOCUMENT_BYTES} bytes)")
    try:
        text = raw.decode("utf-8")
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RecipeSignatureError(f"{path} is not a recipe signature (not JSON text)") from None
    return parse_signature_document(data, path.name), text


def parse_signature_document(data: object, where: str) -> SignatureDocument:
    """A document from its JSON data, strictly: every key known and present, every value checked."""
    top = _object(data, where, ("format", "recipe", "files", "signature", "approval"))
    if top["format"] != FORMAT:
        raise RecipeSignatureError(f"{where}: format must be {FORMAT!r}, not {_shown(top['format'])}")
    recipe = _object(top["recipe"], f"{where}: recipe", ("sha256", "product"))
    files_data = top["files"]
    if not isinstance(files_data, list):
        raise RecipeSignatureError(f"{where}: files must be a list")
    files: list[SignedFile] = []
    for index, item in enumerate(files_data, 1):
        entry = _object(item, f"{where}: files[{index}]", ("name", "sha256"))
        name = _text(entry, "name", f"{where}: files[{index}]", 200)
        if any(existing.name == name for existing in files):
            raise RecipeSignatureError(f"{where}: files name {_shown(name)} twice")
        files.append(SignedFile(name, _hex64(entry, "sha256", f"{where}: files[{index}]")))
    content = SignedContent(_hex64(recipe, "sha256", f"{where}: recipe"),
                            _text(recipe, "product", f"{where}: recipe", 64), tuple(files))  # fmt: skip
    approval = None if top["approval"] is None else _entry(top["approval"], f"{where}: approval")
    return SignatureDocument(content, _entry(top["signature"], f"{where}: signature"), approval)


def _entry(data: object, where: str) -> SignatureEntry:
    entry = _object(data, where, _ENTRY_KEYS)
    for key in ("role", "algorithm"):
        if not isinstance(entry[key], str) or not _WORD.match(entry[key]):
            raise RecipeSignatureError(f"{where}: {key} must be a word such as 'engineer' or 'ed25519'")
    signed_at_text = _text(entry, "signed_at", where, 40)
    try:
        signed_at = datetime.fromisoformat(signed_at_text)
    except ValueError:
        raise RecipeSignatureError(f"{where}: signed_at is not an ISO 8601 time") from None
    if signed_at.tzinfo is None:
        raise RecipeSignatureError(f"{where}: signed_at must say its time zone (UTC: a trailing Z)")
    public_key = _text(entry, "public_key", where, 4096, lines=True)
    if not public_key.startswith("-----BEGIN PUBLIC KEY-----"):
        raise RecipeSignatureError(f"{where}: public_key must be a PEM public key")
    try:
        value = base64.b64decode(_text(entry, "value", where, 1024), validate=True)
    except (binascii.Error, ValueError):
        raise RecipeSignatureError(f"{where}: value is not base64") from None
    signer = Signer(_text(entry, "person", where, 64), entry["role"], entry["algorithm"],
                    _hex64(entry, "key_fingerprint", where), signed_at.astimezone(UTC))  # fmt: skip
    return SignatureEntry(signer, public_key, value)


def _object(data: object, where: str, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise RecipeSignatureError(f"{where} must be a JSON object")
    unknown = sorted(set(data) - set(keys))
    if unknown:
        raise RecipeSignatureError(f"{where}: unknown key {_shown(unknown[0])}")
    missing = [key for key in keys if key not in data]
    if missing:
        raise RecipeSignatureError(f"{where}: {missing[0]} is missing")
    return data


def _text(data: dict[str, Any], key: str, where: str, limit: int, *, lines: bool = False) -> str:
    value = data[key]
    if not isinstance(value, str) or not value or len(value) > limit:
        raise RecipeSignatureError(f"{where}: {key} must be text of 1 to {limit} characters")
    if any(not character.isprintable() for character in (value.replace("\n", "") if lines else value)):
        raise RecipeSignatureError(f"{where}: {key} holds control characters")
    return value


def _hex64(data: dict[str, Any], key: str, where: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not _HEX64.match(value):
        raise RecipeSignatureError(f"{where}: {key} must be a SHA-256 (64 lowercase hex digits)")
    return value


def _shown(value: object) -> str:
    """A value from the document, short and escaped, for a message."""
    text = value if isinstance(value, str) else json.dumps(value)
    return repr(text[:40] + ("…" if len(text) > 40 else "")).encode("ascii", "backslashreplace").decode("ascii")
