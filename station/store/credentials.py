"""Production credentials: reserved before they leave the station, never offered twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from station.domain.errors import StoreError
from station.domain.records import CredentialRecord, CredentialState
from station.store.attempt_queries import open_attempt
from station.store.models import Credential
from station.store.repository_helpers import PRIVATE_KEY_MARKER, moment
from station.store.session import Sessions


class CredentialRepository:
    """Certificates issued to units. A credential, once reserved, is never offered again."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def reserve_credential(
        self,
        *,
        certificate_serial: str,
        certificate_fingerprint: str,
        serial: str,
        device_id: str,
        attempt_id: int,
        certificate_pem: str,
        at: datetime | None = None,
    ) -> CredentialRecord:
        """Commit the credential as RESERVED for this attempt before it leaves the station.

        Refuses (StoreError) a certificate serial or fingerprint already recorded, in any
        state, and anything that looks like a private key. Also sets the attempt's
        certificate fingerprint.
        """
        if PRIVATE_KEY_MARKER in certificate_pem:
            raise StoreError("refusing to store a private key: pass the certificate only")
        created = moment(at)
        certificate_serial = certificate_serial.lower()
        certificate_fingerprint = certificate_fingerprint.lower()
        with self._sessions.writing() as session:
            attempt = open_attempt(session, attempt_id)
            taken = session.scalars(
                select(Credential).where(
                    (Credential.certificate_serial == certificate_serial)
                    | (Credential.certificate_fingerprint == certificate_fingerprint)
                )
            ).first()
            if taken is not None:
                raise StoreError(
                    f"credential {certificate_serial} was already reserved (attempt {taken.attempt_id}, "
                    f"{taken.state}); a credential is never offered twice"
                )
            row = Credential(
                certificate_serial=certificate_serial, certificate_fingerprint=certificate_fingerprint,
                serial=serial, device_id=device_id, attempt_id=attempt_id,
                state=CredentialState.RESERVED.value, certificate_pem=certificate_pem, created_at=created,
            )
            try:
                with session.begin_nested():
                    session.add(row)
            except IntegrityError as error:
                raise StoreError(
                    f"credential {certificate_serial} was already reserved; a credential is never offered twice"
                ) from error
            attempt.certificate_fingerprint = certificate_fingerprint
            return _credential(row)

    def mark_injected(self, certificate_serial: str) -> CredentialRecord:
        """RESERVED -> INJECTED, once the unit holds it and it read back correctly."""
        with self._sessions.writing() as session:
            row = self._locked(session, certificate_serial)
            if row.state != CredentialState.RESERVED:
                raise StoreError(f"credential {row.certificate_serial} is {row.state}, not RESERVED")
            row.state = CredentialState.INJECTED.value
            return _credential(row)

    def void_credential(self, certificate_serial: str) -> CredentialRecord:
        """Retire a credential for good (failed injection, scrapped unit, rework)."""
        with self._sessions.writing() as session:
            row = self._locked(session, certificate_serial)
            row.state = CredentialState.VOID.value
            return _credential(row)

    def get_credential(self, certificate_serial: str) -> CredentialRecord | None:
        with self._sessions.reading() as session:
            row = session.scalars(
                select(Credential).where(Credential.certificate_serial == certificate_serial.lower())
            ).first()
            return None if row is None else _credential(row)

    def credentials_for_attempt(self, attempt_id: int) -> list[CredentialRecord]:
        with self._sessions.reading() as session:
            query = select(Credential).where(Credential.attempt_id == attempt_id).order_by(Credential.id)
            return [_credential(row) for row in session.scalars(query)]

    def credentials_for_serial(self, serial: str) -> list[CredentialRecord]:
        with self._sessions.reading() as session:
            query = select(Credential).where(Credential.serial == serial).order_by(Credential.id)
            return [_credential(row) for row in session.scalars(query)]

    @staticmethod
    def _locked(session: Session, certificate_serial: str) -> Credential:
        row = session.scalars(
            select(Credential)
            .where(Credential.certificate_serial == certificate_serial.lower())
            .with_for_update()
        ).first()
        if row is None:
            raise StoreError(f"no credential with certificate serial {certificate_serial}")
        return row


def _credential(row: Credential) -> CredentialRecord:
    return CredentialRecord(
        certificate_serial=row.certificate_serial, certificate_fingerprint=row.certificate_fingerprint,
        serial=row.serial, device_id=row.device_id, attempt_id=row.attempt_id,
        state=CredentialState(row.state), certificate_pem=row.certificate_pem, created_at=row.created_at,
    )
