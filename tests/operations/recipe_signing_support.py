"""What the signed-recipe tests share: people and their secrets, recipe copies, one-byte changes,
and signature documents made by hand (as someone who goes around ``station recipe sign`` would)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from station.domain.recipe_loader import load_recipe
from station.domain.recipe_signature import (
    SignatureDocument,
    SignatureEntry,
    Signer,
    approval_payload,
    signature_path,
    signature_payload,
    signed_content,
)
from station.operations.recipe_signing import RecipeSigner

# Distinctive, so that a test can look for them in every output, log, file and message.
PASSPHRASE = "signing-passphrase-8f3e1c77"
PINS = {"eve": "480913772", "dan": "660318154", "sam": "551207396"}  # two engineers and a supervisor
ROLES = {"eve": "engineer", "dan": "engineer", "sam": "supervisor"}
APPROVAL_TWO_PEOPLE = "\n[approval]\nrequired = 2\n"


def recipe_copy(source: Path, destination: Path, *, two_people: bool = False) -> Path:
    """A copy of a recipe's folder (recipe and images), so that a test may change any of its files."""
    shutil.copytree(source.parent, destination)
    path = destination / source.name
    signature_path(path).unlink(missing_ok=True)
    if two_people:
        path.write_text(path.read_text(encoding="utf-8") + APPROVAL_TWO_PEOPLE, encoding="utf-8")
    return path


def change_one_byte(path: Path, marker: bytes = b'description = "') -> None:
    """Flip the case of one letter after ``marker`` (a recipe's description), or one bit in the
    middle of a binary file when ``marker`` is empty: a change of one byte."""
    data = bytearray(path.read_bytes())
    if marker:
        position = data.index(marker) + len(marker)
        assert chr(data[position]).isalpha()
        data[position] ^= 0x20
    else:
        data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def forge(
    recipe_path: Path,
    key: RecipeSigner,
    person: str,
    role: str,
    *,
    approval: tuple[RecipeSigner, str, str] | None = None,
) -> Path:
    """A signature document written without the station's checks: ``person`` claims ``role``,
    and ``approval`` (key, person, role) approves it."""
    recipe = load_recipe(recipe_path)
    content = signed_content(recipe)
    now = datetime.now(UTC)
    signer = Signer(person, role, key.algorithm.value, key.public_key_fingerprint, now)
    entry = SignatureEntry(signer, key.public_key_pem(), key.sign(signature_payload(content, signer)))
    document = SignatureDocument(content, entry)
    if approval is not None:
        approval_key, approver, approver_role = approval
        fields = Signer(approver, approver_role, approval_key.algorithm.value, approval_key.public_key_fingerprint, now)
        value = approval_key.sign(approval_payload(content, entry, fields))
        document = document.with_approval(SignatureEntry(fields, approval_key.public_key_pem(), value))
    path = signature_path(recipe_path)
    path.write_text(document.render(), encoding="ascii")
    return path
