"""The activation-token vault's rows (implements ``station.domain.vault_and_signing.TokenRepository``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select

from station.domain.errors import StoreError, TokenLimitError
from station.domain.records import SealedToken, TokenStatus
from station.domain.vault_and_signing import VaultParameters
from station.store.models import Attempt, SealedTokenRow, TokenUse, Unit, VaultParameter, utc_now
from station.store.repository_helpers import moment
from station.store.session import Sessions

RESERVED = "reserved"
USED = "used"
RELEASED = "released"
# The uses that count toward a token's limit: all but those given back.
COUNTED = or_(TokenUse.state.is_(None), TokenUse.state != RELEASED)


class SqlTokenRepository:
    """Sealed activation tokens (ciphertext and keyed fingerprint only) and their uses."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def vault_parameters(self) -> VaultParameters | None:
        with self._sessions.reading() as session:
            row = session.get(VaultParameter, 1)
            if row is None:
                return None
            return VaultParameters(salt=row.salt, scrypt_n=row.scrypt_n, scrypt_r=row.scrypt_r,
                                   scrypt_p=row.scrypt_p, check_nonce=row.check_nonce,
                                   check_value=row.check_value)

    def set_vault_parameters(self, parameters: VaultParameters) -> None:
        with self._sessions.writing() as session:
            if session.get(VaultParameter, 1) is not None:
                raise StoreError("the token vault's parameters are already set; they are never replaced")
            session.add(VaultParameter(
                id=1, salt=parameters.salt, scrypt_n=parameters.scrypt_n, scrypt_r=parameters.scrypt_r,
                scrypt_p=parameters.scrypt_p, check_nonce=parameters.check_nonce,
                check_value=parameters.check_value,
            ))

    def add_sealed_tokens(self, tokens: Sequence[SealedToken]) -> int:
        """Store the tokens not already present (by fingerprint), all in one transaction."""
        with self._sessions.writing() as session:
            wanted = {token.fingerprint: token for token in tokens}
            present: set[str] = set()
            fingerprints = list(wanted)
            for start in range(0, len(fingerprints), 500):
                chunk = fingerprints[start:start + 500]
                present.update(session.scalars(
                    select(SealedTokenRow.fingerprint).where(SealedTokenRow.fingerprint.in_(chunk))
                ))
            new = [token for fingerprint, token in wanted.items() if fingerprint not in present]
            for token in new:
                session.add(SealedTokenRow(
                    fingerprint=token.fingerprint, product=token.product, nonce=token.nonce,
                    ciphertext=token.ciphertext, use_limit=token.use_limit,
                    imported_at=moment(token.imported_at),
                ))
            return len(new)

    def sealed_tokens(self, product: str) -> list[SealedToken]:
        with self._sessions.reading() as session:
            query = (
                select(SealedTokenRow)
                .where(SealedTokenRow.product == product)
                .order_by(SealedTokenRow.imported_at, SealedTokenRow.id)
            )
            return [
                SealedToken(fingerprint=row.fingerprint, product=row.product, nonce=row.nonce,
                            ciphertext=row.ciphertext, use_limit=row.use_limit, imported_at=row.imported_at)
                for row in session.scalars(query)
            ]

    def token_statuses(self, product: str | None = None) -> list[TokenStatus]:
        uses = (
            select(TokenUse.fingerprint, func.count(TokenUse.id).label("uses"))
            .where(COUNTED)
            .group_by(TokenUse.fingerprint)
            .subquery()
        )
        query = (
            select(SealedTokenRow.fingerprint, SealedTokenRow.product, SealedTokenRow.use_limit,
                   SealedTokenRow.imported_at, func.coalesce(uses.c.uses, 0).label("uses"))
            .outerjoin(uses, uses.c.fingerprint == SealedTokenRow.fingerprint)
            .order_by(SealedTokenRow.product, SealedTokenRow.imported_at, SealedTokenRow.id)
        )
        if product is not None:
            query = query.where(SealedTokenRow.product == product)
        with self._sessions.reading() as session:
            return [
                TokenStatus(fingerprint=row.fingerprint, product=row.product, uses=int(row.uses),
                            use_limit=row.use_limit, imported_at=row.imported_at)
                for row in session.execute(query)
            ]

    def next_usable_token(self, product: str) -> SealedToken | None:
        uses = (
            select(func.count(TokenUse.id))
            .where(TokenUse.fingerprint == SealedTokenRow.fingerprint, COUNTED)
            .scalar_subquery()
        )
        query = (
            select(SealedTokenRow)
            .where(SealedTokenRow.product == product)
            .where(or_(SealedTokenRow.use_limit.is_(None), SealedTokenRow.use_limit > uses))
            .order_by(SealedTokenRow.imported_at, SealedTokenRow.id)
            .limit(1)
        )
        with self._sessions.reading() as session:
            row = session.scalars(query).first()
            if row is None:
                return None
            return SealedToken(fingerprint=row.fingerprint, product=row.product, nonce=row.nonce,
                               ciphertext=row.ciphertext, use_limit=row.use_limit, imported_at=row.imported_at)

    def token_count(self, product: str) -> int:
        with self._sessions.reading() as session:
            return int(session.scalar(select(func.count(SealedTokenRow.id)).where(SealedTokenRow.product == product))
                       or 0)

    def record_token_use(self, fingerprint: str, attempt_id: int) -> None:
        """Count one use the unit accepted (``reserve_token_use`` then ``confirm_token_use``)."""
        self._take_use(fingerprint, attempt_id, USED)

    def reserve_token_use(self, fingerprint: str, attempt_id: int) -> None:
        """Take one use for an activation about to be sent, or refuse (TokenLimitError) a token
        at its limit. A reserved use counts toward the limit until it is confirmed or released.

        The check and the insert are one transaction holding the write lock (SQLite) or the
        token's row lock (PostgreSQL), so two stations cannot both take the last use. The
        attempt's token fingerprint is set too.
        """
        self._take_use(fingerprint, attempt_id, RESERVED)

    def confirm_token_use(self, fingerprint: str, attempt_id: int) -> None:
        """The unit accepted the activation: the attempt's reserved use becomes a use."""
        self._settle(fingerprint, attempt_id, USED)

    def release_token_use(self, fingerprint: str, attempt_id: int) -> None:
        """The unit refused the token (or was found not activated): the reserved use is given
        back and the attempt no longer names the token."""
        self._settle(fingerprint, attempt_id, RELEASED)

    def settle_reserved_uses(self, serial: str, *, activated: bool, except_attempt: int | None = None) -> int:
        """Reserved uses of earlier attempts at this unit, whose activation nobody saw answered
        (the station stopped while it was sent): used when the unit now reports itself
        activated, released when it does not. Returns how many were settled."""
        earlier_reserved = (
            select(TokenUse)
            .join(Attempt, TokenUse.attempt_id == Attempt.id)
            .join(Unit, Attempt.unit_id == Unit.id)
            .where(Unit.serial == serial, TokenUse.state == RESERVED)
            .where(TokenUse.attempt_id != (except_attempt or -1))
        )
        with self._sessions.reading() as session:
            # Nearly always none: a read spares every unit a write transaction on the line.
            if session.scalars(earlier_reserved.limit(1)).first() is None:
                return 0
        with self._sessions.writing() as session:
            rows = session.scalars(earlier_reserved.with_for_update()).all()
            for row in rows:
                row.state = USED if activated else RELEASED
            return len(rows)

    def _take_use(self, fingerprint: str, attempt_id: int, state: str) -> None:
        with self._sessions.writing() as session:
            token = session.scalars(
                select(SealedTokenRow).where(SealedTokenRow.fingerprint == fingerprint).with_for_update()
            ).first()
            if token is None:
                raise StoreError(f"no activation token with fingerprint {fingerprint}")
            attempt = session.get(Attempt, attempt_id)
            if attempt is None:
                raise StoreError(f"no attempt {attempt_id}")
            if token.use_limit is not None:
                used = session.scalar(
                    select(func.count(TokenUse.id)).where(TokenUse.fingerprint == fingerprint, COUNTED)
                )
                if (used or 0) >= token.use_limit:
                    raise TokenLimitError(
                        f"activation token {fingerprint} has reached its use limit ({token.use_limit})"
                    )
            session.add(TokenUse(fingerprint=fingerprint, attempt_id=attempt_id, used_at=utc_now(), state=state))
            attempt.token_fingerprint = fingerprint

    def _settle(self, fingerprint: str, attempt_id: int, state: str) -> None:
        with self._sessions.writing() as session:
            row = session.scalars(
                select(TokenUse)
                .where(TokenUse.fingerprint == fingerprint, TokenUse.attempt_id == attempt_id,
                       TokenUse.state == RESERVED)
                .with_for_update()
            ).first()
            if row is None:
                raise StoreError(f"attempt {attempt_id} holds no reserved use of token {fingerprint}")
            row.state = state
            if state == RELEASED:
                attempt = session.get(Attempt, attempt_id)
                if attempt is not None and attempt.token_fingerprint == fingerprint and attempt.ended_at is None:
                    attempt.token_fingerprint = None
