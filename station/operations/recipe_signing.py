"""Signed, approved recipes: the one place that decides whether a recipe's signature holds.

``station recipe check``, ``station recipe sign|approve``, the window's recipe check and every
place a station loads a recipe to provision with (``Production.load_recipe``: the settings'
recipe at start, an engineer's choice, ``station provision --recipe``) ask :class:`RecipeTrust`.

A signature holds when its document (``station.domain.recipe_signature``) verifies with the
public key it names, the recipe and every file it makes the station use are byte for byte what
was signed, and -- against this station's people -- the signer is an engineer whose registered,
unrevoked key signed it. An approval must verify too, be by another person (with another key),
a supervisor or an engineer of this station. Anything else is refused with a
``RecipeSignatureError`` of the domain's tree, in every mode: a signature that is there must
hold. What a mode changes is only whether an unsigned recipe, or one still waiting for its
approval (``[approval] required = 2``), may run: a station in production
(``[custody] mode = "production"``) refuses both; the demo and development stations run them
and say so.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from station.domain.errors import (
    RecipeApprovalMissingError,
    RecipeSelfApprovalError,
    RecipeSignatureError,
    RecipeSignatureInvalidError,
    RecipeSignerError,
    RecipeUnsignedError,
    SigningKeyError,
)
from station.domain.recipe import Recipe
from station.domain.recipe_signature import (
    TWO_PEOPLE,
    SignatureDocument,
    SignatureEntry,
    Signer,
    approval_payload,
    check_unchanged,
    read_signature_document,
    signature_path,
    signature_payload,
    signed_content,
)
from station.domain.records import RecipeSignatureRecord
from station.domain.text import escape_text
from station.operations.people import ENGINEER, SUPERVISOR
from station.operations.recipes import CheckedRecipe, check_recipe
from station.security.keys import SigningAlgorithm, write_public_file
from station.security.signing_keys import read_public_key, verify_with_public_key
from station.store import Database

SIGNER_ROLES: Final = frozenset({ENGINEER})
APPROVER_ROLES: Final = frozenset({SUPERVISOR, ENGINEER})


class RecipeSigner(Protocol):
    """A person's signing key: a key file (``FileSigningKey``) or a token key (``TokenSigningKey``)."""

    @property
    def algorithm(self) -> SigningAlgorithm: ...

    @property
    def public_key_fingerprint(self) -> str: ...

    def public_key_pem(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


class SignatureStatus(enum.StrEnum):
    UNSIGNED = "unsigned"
    AWAITING_APPROVAL = "awaiting-approval"  # signed; the recipe asks for a second person, none yet
    SIGNED = "signed"
    APPROVED = "approved"


@dataclass(frozen=True)
class SignatureState:
    """Where a recipe's signature stands, after every check that could be made."""

    recipe: Recipe
    status: SignatureStatus
    document: SignatureDocument | None = None
    text: str | None = field(default=None, repr=False)
    # Why the signers could not be checked against a station's people (no database); None: they were.
    unchecked: str | None = None

    @property
    def file_name(self) -> str:
        return signature_path(self.recipe.path).name

    def require_production(self) -> None:
        """Refuse what a station in production does not run: unsigned, awaiting approval, unchecked."""
        name = self.recipe.path.name
        if self.status is SignatureStatus.UNSIGNED:
            raise RecipeUnsignedError(
                f"{name} is not signed ({self.file_name} is missing): a station in production runs only recipes "
                "signed by one of its engineers (station recipe sign)"
            )
        if self.status is SignatureStatus.AWAITING_APPROVAL:
            raise RecipeApprovalMissingError(
                f"{name} asks for two people ([approval] required = 2) and no second person approved it "
                "(station recipe approve)"
            )
        if self.unchecked is not None:
            raise RecipeSignerError(f"{name}: its signers cannot be checked against this station's people: "
                                    f"{self.unchecked}")  # fmt: skip

    def record(self) -> RecipeSignatureRecord | None:
        """What the store keeps with the recipe (None when it is unsigned)."""
        if self.document is None or self.text is None:
            return None
        signer, approval = self.document.signature.signer, self.document.approval
        return RecipeSignatureRecord(
            recipe_sha256=self.recipe.content_hash, signer=signer.person, signer_role=signer.role,
            signer_key=signer.key_fingerprint, approver=None if approval is None else approval.signer.person,
            approver_role=None if approval is None else approval.signer.role,
            approver_key=None if approval is None else approval.signer.key_fingerprint, document=self.text,
        )  # fmt: skip

    def lines(self) -> list[str]:
        """What ``station recipe check`` and the window's check print about the signature."""
        if self.document is None:
            return ["signature   none: the recipe is not signed (a station in production refuses it; "
                    "station recipe sign)"]  # fmt: skip
        lines = [f"signature   {_described(self.document.signature)}"]
        approval = self.document.approval
        if approval is not None:
            lines.append(f"approval    {_described(approval)}")
        elif self.status is SignatureStatus.AWAITING_APPROVAL:
            lines.append("approval    required ([approval] required = 2) and missing: a second person approves it "
                         "with station recipe approve; a station in production refuses it until then")  # fmt: skip
        else:
            lines.append("approval    not required ([approval] required = 1)")
        if self.unchecked is not None:
            lines.append(f"            the signers are not checked against a station's people: {self.unchecked}")
        return lines

    def to_json(self) -> dict[str, Any]:
        def entry(signature: SignatureEntry | None) -> dict[str, str] | None:
            return None if signature is None else {key: value for key, value in signature.to_json().items()
                                                   if key not in ("value", "public_key")}  # fmt: skip

        document = self.document
        return {"status": self.status.value, "required": self.recipe.signatures_required,
                "file": self.file_name, "people_checked": self.unchecked is None,
                "signature": entry(None if document is None else document.signature),
                "approval": entry(None if document is None else document.approval)}  # fmt: skip


def _described(entry: SignatureEntry) -> str:
    signer = entry.signer
    return (f"{escape_text(signer.person)} ({escape_text(signer.role)}) at {signer.to_json()['signed_at']}, "
            f"{signer.algorithm} key {signer.key_fingerprint}")  # fmt: skip


def with_signature(checked: CheckedRecipe, state: SignatureState) -> str:
    """The recipe's description with its signature lines before the verdict (the last line)."""
    lines = checked.description.splitlines()
    return "\n".join([*lines[:-1], *state.lines(), *lines[-1:]])


class RecipeTrust:
    """Verifies, signs and approves recipes against a station's people and their keys.

    ``database`` None: no station to check people against (``station recipe check`` on a
    computer without one): signatures and content are still checked, people are not, and a
    production station's rule refuses such a recipe (``unchecked`` says why).
    """

    def __init__(self, database: Database | None, *, unchecked: str = "no station database") -> None:
        self._database = database
        self._unchecked = unchecked

    # ---- verifying ----------------------------------------------------------------------------------

    def state(self, recipe: Recipe) -> SignatureState:
        """The recipe's signature state; a RecipeSignatureError when a signature is there and does not hold."""
        path = signature_path(recipe.path)
        found = read_signature_document(path)
        unchecked = None if self._database is not None else self._unchecked
        if found is None:
            return SignatureState(recipe, SignatureStatus.UNSIGNED, unchecked=unchecked)
        document, text = found
        self._verify(recipe, document, path.name)
        if document.approval is not None:
            status = SignatureStatus.APPROVED
        elif recipe.signatures_required == TWO_PEOPLE:
            status = SignatureStatus.AWAITING_APPROVAL
        else:
            status = SignatureStatus.SIGNED
        return SignatureState(recipe, status, document, text, unchecked)

    def admit(self, recipe: Recipe, *, production: bool) -> SignatureState:
        """The state of a recipe a station is about to run; refused as a station in production refuses."""
        state = self.state(recipe)
        if production:
            state.require_production()
        return state

    def _verify(self, recipe: Recipe, document: SignatureDocument, where: str) -> None:
        content, signature, approval = document.content, document.signature, document.approval
        _check_value(signature, signature_payload(content, signature.signer), where, "signature")
        if approval is not None:
            _check_value(approval, approval_payload(content, signature, approval.signer), where, "approval")
        check_unchanged(content, signed_content(recipe), where)
        self._check_person(signature.signer, SIGNER_ROLES, where, "signed")
        if approval is not None:
            if _same_person(approval.signer, signature.signer):
                raise RecipeSelfApprovalError(
                    f"{where}: approved by {escape_text(approval.signer.person)}, who signed it (or with the "
                    "signer's key): a second person approves a recipe"
                )
            self._check_person(approval.signer, APPROVER_ROLES, where, "approved")

    def _check_person(self, signer: Signer, roles: frozenset[str], where: str, did: str) -> None:
        person = escape_text(signer.person)
        if signer.role not in roles:
            raise RecipeSignerError(f"{where}: {did} by {person} as {escape_text(signer.role)}: {_wanted(roles)}")
        if self._database is not None:
            self._trusted(signer.person, signer.key_fingerprint, roles, f"{where}: {did} by {person}, who")

    def _trusted(self, name: str, fingerprint: str, roles: frozenset[str], who: str) -> str:
        """The role of ``name`` at this station, if it is one of ``roles`` and ``fingerprint`` is
        their registered, unrevoked key; RecipeSignerError (``who`` starts its message) otherwise."""
        if self._database is None:
            raise RecipeSignerError(f"{who} cannot be checked against this station's people: {self._unchecked}")
        person = self._database.registry.get_operator(name)
        if person is None:
            raise RecipeSignerError(f"{who} is not a person of this station")
        if person.role not in roles:
            raise RecipeSignerError(f"{who} has the role {person.role} at this station: {_wanted(roles)}")
        key = self._database.recipe_trust.person_key(fingerprint)
        if key is None or key.person != person.name:
            raise RecipeSignerError(f"{who} has no registered key {fingerprint} at this station "
                                    "(station people key add)")  # fmt: skip
        if key.revoked_at is not None:
            revoked = f"{key.revoked_at:%Y-%m-%d %H:%M} UTC"
            raise RecipeSignerError(f"{who} used key {fingerprint}, revoked at {revoked}")
        return person.role

    # ---- signing and approving ----------------------------------------------------------------------

    def sign(self, recipe_path: Path, person: str, signer: RecipeSigner, *,
             now: datetime | None = None) -> SignatureState:  # fmt: skip
        """Sign a recipe as ``person`` (an engineer of this station, with their registered key):
        every check of ``station recipe check`` first; writes ``<recipe>.sig``, never over one."""
        recipe = check_recipe(recipe_path).recipe
        path = signature_path(recipe.path)
        if path.exists() or path.is_symlink():
            raise RecipeSignatureError(f"{path} exists: the recipe is signed already (remove it to sign again)")
        role = self._trusted(person, signer.public_key_fingerprint, SIGNER_ROLES, f"{escape_text(person)}")
        content = signed_content(recipe)
        fields = _signer_fields(person, role, signer, now)
        entry = SignatureEntry(fields, signer.public_key_pem(), signer.sign(signature_payload(content, fields)))
        document = SignatureDocument(content, entry)
        self._verify(recipe, document, path.name)  # what was made holds (a token that signs wrongly is caught)
        _write_new(path, document.render())
        return self.state(recipe)

    def approve(self, recipe_path: Path, person: str, signer: RecipeSigner, *,
                now: datetime | None = None) -> SignatureState:  # fmt: skip
        """Approve a signed recipe as ``person`` (a supervisor or engineer of this station, not the
        signer): the signature must hold first; the approval is added to ``<recipe>.sig``."""
        recipe = check_recipe(recipe_path).recipe
        path = signature_path(recipe.path)
        found = read_signature_document(path)
        if found is None:
            raise RecipeUnsignedError(f"{recipe.path.name} is not signed ({path.name} is missing): an engineer "
                                      "signs it before anyone approves it (station recipe sign)")  # fmt: skip
        document, _ = found
        if document.approval is not None:
            approver = escape_text(document.approval.signer.person)
            raise RecipeSignatureError(f"{path.name} is approved already, by {approver}")
        self._verify(recipe, document, path.name)
        signed_by = document.signature.signer
        same_key = signer.public_key_fingerprint == signed_by.key_fingerprint
        if person.casefold() == signed_by.person.casefold() or same_key:
            raise RecipeSelfApprovalError(f"{escape_text(person)} signed {recipe.path.name} (or holds the signer's "
                                          "key): a second person approves it")  # fmt: skip
        role = self._trusted(person, signer.public_key_fingerprint, APPROVER_ROLES, f"{escape_text(person)}")
        fields = _signer_fields(person, role, signer, now)
        payload = approval_payload(document.content, document.signature, fields)
        approved = document.with_approval(SignatureEntry(fields, signer.public_key_pem(), signer.sign(payload)))
        self._verify(recipe, approved, path.name)
        write_public_file(path, approved.render().encode("ascii"))
        return self.state(recipe)


def _check_value(entry: SignatureEntry, payload: bytes, where: str, what: str) -> None:
    """RecipeSignatureInvalidError unless ``entry``'s value is its public key's signature of ``payload``."""
    signer = entry.signer
    try:
        key = read_public_key(entry.public_key_pem, f"{where}: the {what}'s public_key")
    except SigningKeyError as error:
        raise RecipeSignatureInvalidError(str(error)) from None
    if key.fingerprint != signer.key_fingerprint or key.algorithm.value != signer.algorithm:
        raise RecipeSignatureInvalidError(
            f"{where}: the {what}'s public key is not the {signer.algorithm} key {signer.key_fingerprint} it names"
        )
    if not verify_with_public_key(key.pem, payload, entry.value):
        raise RecipeSignatureInvalidError(
            f"{where}: the {what} of {escape_text(signer.person)} does not verify with key {signer.key_fingerprint}: "
            "the document was changed after it was signed"
        )


def _same_person(one: Signer, other: Signer) -> bool:
    return one.person.casefold() == other.person.casefold() or one.key_fingerprint == other.key_fingerprint


def _wanted(roles: frozenset[str]) -> str:
    if roles == SIGNER_ROLES:
        return "a recipe is signed by an engineer"
    return "a recipe is approved by a supervisor or an engineer"


def _signer_fields(person: str, role: str, signer: RecipeSigner, now: datetime | None) -> Signer:
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return Signer(person, role, signer.algorithm.value, signer.public_key_fingerprint, moment)


def _write_new(path: Path, text: str) -> None:
    """Create the signature file (readable by all: it holds no secret); never over an existing one."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise RecipeSignatureError(f"{path} exists: the recipe is signed already (remove it to sign again)") from None
    except OSError as error:
        raise RecipeSignatureError(f"cannot write {path}: {error.strerror or error}") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(text)
