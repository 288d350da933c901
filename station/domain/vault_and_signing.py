"""Protocols between layers that must not import each other.

The store implements these with SQLAlchemy; security, the flow and the reports depend only
on the Protocol, so they stay free of the database library and can be tested against any
implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from station.domain.records import SealedToken, TokenStatus


@dataclass(frozen=True)
class VaultParameters:
    """How the vault key is derived from its passphrase (scrypt), and a value to check it.

    ``check_value`` is an AES-GCM encryption of a fixed text under the vault key: it tells a
    wrong passphrase from a right one without storing anything derived only from the key.
    """

    salt: bytes
    scrypt_n: int
    scrypt_r: int
    scrypt_p: int
    check_nonce: bytes
    check_value: bytes


class TokenRepository(Protocol):
    """Persistence of sealed activation tokens and their uses."""

    def vault_parameters(self) -> VaultParameters | None:
        """The vault's key-derivation parameters, or None before the first import."""
        ...

    def set_vault_parameters(self, parameters: VaultParameters) -> None:
        """Record the parameters once; refuse (StationError) to replace existing ones."""
        ...

    def add_sealed_tokens(self, tokens: Sequence[SealedToken]) -> int:
        """Store tokens not already present (by fingerprint); return how many were new."""
        ...

    def sealed_tokens(self, product: str) -> list[SealedToken]:
        """All tokens of a product, oldest first."""
        ...

    def token_statuses(self, product: str | None = None) -> list[TokenStatus]:
        """Fingerprint, product, uses and limit of every token (of one product if given)."""
        ...

    def next_usable_token(self, product: str) -> SealedToken | None:
        """The oldest token of a product below its use limit (one row: asked once per unit)."""
        ...

    def token_count(self, product: str) -> int:
        """How many tokens a product has, used up or not."""
        ...

    def record_token_use(self, fingerprint: str, attempt_id: int) -> None:
        """Count one use against an attempt, atomically refusing a token at its limit."""
        ...

    def reserve_token_use(self, fingerprint: str, attempt_id: int) -> None:
        """Take one use for an activation about to be sent (counted until settled)."""
        ...

    def confirm_token_use(self, fingerprint: str, attempt_id: int) -> None:
        """The attempt's reserved use: the unit accepted it."""
        ...

    def release_token_use(self, fingerprint: str, attempt_id: int) -> None:
        """The attempt's reserved use: given back (the unit refused or was not activated)."""
        ...

    def settle_reserved_uses(self, serial: str, *, activated: bool, except_attempt: int | None = None) -> int:
        """Reserved uses of a unit's earlier attempts: used if it is activated, else released."""
        ...


class AuditSigner(Protocol):
    """Signs audit entries and exports with the station's key (Ed25519)."""

    @property
    def public_key_fingerprint(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...

    def verify(self, data: bytes, signature: bytes) -> bool: ...


class AuditVerifier(Protocol):
    """Checks audit signatures; needs only the station's public key (AuditSigner is one)."""

    def verify(self, data: bytes, signature: bytes) -> bool: ...
