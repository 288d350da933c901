"""A hand-written in-memory TokenRepository, for testing the vault without a database."""

from __future__ import annotations

from collections.abc import Sequence

from station.domain.errors import StationError
from station.domain.records import SealedToken, TokenStatus
from station.domain.vault_and_signing import VaultParameters


class InMemoryTokenRepository:
    def __init__(self) -> None:
        self.parameters: VaultParameters | None = None
        self.tokens: list[SealedToken] = []
        self.uses: list[tuple[str, int]] = []

    def vault_parameters(self) -> VaultParameters | None:
        return self.parameters

    def set_vault_parameters(self, parameters: VaultParameters) -> None:
        if self.parameters is not None:
            raise StationError("vault parameters are already set")
        self.parameters = parameters

    def add_sealed_tokens(self, tokens: Sequence[SealedToken]) -> int:
        known = {token.fingerprint for token in self.tokens}
        added = 0
        for token in tokens:
            if token.fingerprint not in known:
                self.tokens.append(token)
                known.add(token.fingerprint)
                added += 1
        return added

    def sealed_tokens(self, product: str) -> list[SealedToken]:
        return [token for token in self.tokens if token.product == product]

    def token_statuses(self, product: str | None = None) -> list[TokenStatus]:
        return [
            TokenStatus(
                fingerprint=token.fingerprint,
                product=token.product,
                uses=sum(1 for fingerprint, _ in self.uses if fingerprint == token.fingerprint),
                use_limit=token.use_limit,
                imported_at=token.imported_at,
            )
            for token in self.tokens
            if product is None or token.product == product
        ]

    def next_usable_token(self, product: str) -> SealedToken | None:
        exhausted = {status.fingerprint for status in self.token_statuses(product) if status.exhausted}
        usable = [token for token in self.sealed_tokens(product) if token.fingerprint not in exhausted]
        return min(usable, key=lambda token: token.imported_at) if usable else None

    def token_count(self, product: str) -> int:
        return len(self.sealed_tokens(product))

    def record_token_use(self, fingerprint: str, attempt_id: int) -> None:
        status = next(item for item in self.token_statuses() if item.fingerprint == fingerprint)
        if status.exhausted:
            raise StationError(f"token {fingerprint} is at its use limit")
        self.uses.append((fingerprint, attempt_id))

    def reserve_token_use(self, fingerprint: str, attempt_id: int) -> None:
        self.record_token_use(fingerprint, attempt_id)

    def confirm_token_use(self, fingerprint: str, attempt_id: int) -> None:
        if (fingerprint, attempt_id) not in self.uses:
            raise StationError(f"attempt {attempt_id} holds no reserved use of token {fingerprint}")

    def release_token_use(self, fingerprint: str, attempt_id: int) -> None:
        self.confirm_token_use(fingerprint, attempt_id)
        self.uses.remove((fingerprint, attempt_id))

    def settle_reserved_uses(self, serial: str, *, activated: bool, except_attempt: int | None = None) -> int:
        return 0  # this memory has no attempts: nothing of a unit's is ever reserved here

    def state(self) -> tuple[object, ...]:
        """Everything stored, to show that a refused operation changed nothing."""
        return (self.parameters, tuple(self.tokens), tuple(self.uses))
