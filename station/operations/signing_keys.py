"""People's signing keys: what an engineer signs recipes with, and a supervisor approves them with.

A supervisor or engineer registers the public half of their key with the station, proving who
they are with their PIN (``People.sign_in``: a wrong PIN counts toward their lock-out). The
key pair can be made for them: a passphrase-encrypted key file (``station.security.signing_keys``)
or a key generated inside a PKCS#11 token, never extractable (``station.security.pkcs11.keys``).
A key is revoked by its owner or by an engineer, never deleted; a recipe signed with a revoked
key is refused (``station.operations.recipe_signing``). Every change is audited, and the
store's rows are in the chain. No private key, passphrase or PIN is kept or shown.
"""

from __future__ import annotations

from pathlib import Path

from station.domain.errors import AccessError, KeyStoreUriError, SigningKeyError, StoreError
from station.domain.records import PersonKeyRecord
from station.flow.ports import AuditTrail
from station.operations.custody import KeyCustody
from station.operations.people import ENGINEER, People, User
from station.security.keys import SigningAlgorithm
from station.security.pkcs11.keys import TokenSigningKey, destroy_new_key, generate_signing_key, open_signing_key
from station.security.pkcs11.uri import parse_pkcs11_uri
from station.security.signing_keys import PublicKeyInfo, generate_file_key, public_key_file, read_public_key
from station.store import Database


class SigningKeys:
    """Registering, making, revoking and listing people's signing keys."""

    def __init__(self, database: Database, people: People, audit: AuditTrail) -> None:
        self._database = database
        self._people = people
        self._audit = audit

    def keys(self, name: str | None = None) -> list[PersonKeyRecord]:
        return self._database.recipe_trust.person_keys(name)

    def register(
        self, name: str, pin: str, public_key_pem: bytes | str, *, location: str, where: str
    ) -> PersonKeyRecord:
        """Register a public key (read from ``where``, for messages) as ``name``'s; ``location``
        says where its private half lives (a file, a token: never a secret)."""
        user = self._people.sign_in(name, pin)
        return self._register(user, read_public_key(public_key_pem, where), location)

    def create_file_key(
        self, name: str, pin: str, out: Path, passphrase: str, algorithm: SigningAlgorithm = SigningAlgorithm.ED25519
    ) -> PersonKeyRecord:
        """Make ``name`` a key file at ``out`` (and ``out.pub``) and register it; the PIN is checked
        before anything is made, and the files are removed again if registering fails."""
        user = self._people.sign_in(name, pin)
        key = generate_file_key(out, passphrase, algorithm)
        try:
            info = read_public_key(key.public_key_pem(), str(public_key_file(out)))
            return self._register(user, info, f"file {out.absolute()}")
        except BaseException:
            out.unlink(missing_ok=True)
            public_key_file(out).unlink(missing_ok=True)
            raise

    def create_token_key(self, name: str, pin: str, custody: KeyCustody, uri_text: str) -> PersonKeyRecord:
        """Make ``name`` a key inside the token the URI names (its ``object`` is the key's label)
        and register it; the key is destroyed again if registering fails."""
        user = self._people.sign_in(name, pin)
        uri = parse_pkcs11_uri(uri_text)
        if uri.object is None:
            raise KeyStoreUriError(f"{uri.token_description()}: name the new key with ;object=LABEL")
        key = generate_signing_key(custody.session(uri, writable=True), uri.object)
        try:
            info = read_public_key(key.public_key_pem(), f"the key {uri.object!r}")
            return self._register(user, info, f"token {key.uri}")
        except BaseException:
            destroy_new_key(key)
            raise

    def revoke(self, name: str, fingerprint: str, by: str, pin: str) -> PersonKeyRecord:
        """Revoke ``name``'s key: by ``name`` themself or by an engineer (with their PIN)."""
        actor = self._people.sign_in(by, pin)
        if actor.name != name and actor.role != ENGINEER:
            raise AccessError(f"only {name} or an engineer may revoke {name}'s key")
        try:
            record = self._database.recipe_trust.revoke_person_key(name, fingerprint.strip().lower())
        except StoreError as error:
            raise SigningKeyError(str(error)) from None
        self._audit.append_audit(actor.actor, "people.key-revoke",
                                 f"signing key {record.fingerprint} of {name} revoked")  # fmt: skip
        return record

    def _register(self, user: User, key: PublicKeyInfo, location: str) -> PersonKeyRecord:
        try:
            record = self._database.recipe_trust.add_person_key(
                user.name, fingerprint=key.fingerprint, algorithm=key.algorithm.value, public_key_pem=key.pem,
                location=location,
            )  # fmt: skip
        except StoreError as error:
            raise SigningKeyError(str(error)) from None
        described = f"signing key {key.fingerprint} ({key.algorithm.value}) of {user.name}: {location}"
        self._audit.append_audit(user.actor, "people.key-add", described)
        return record


def open_token_signer(custody: KeyCustody, uri_text: str) -> TokenSigningKey:
    """A person's key in a token, by its URI (``object`` is the key's label), through the
    custody's session on that token (its PIN from the URI's pin-source, the settings, or a prompt)."""
    uri = parse_pkcs11_uri(uri_text)
    if uri.object is None:
        raise KeyStoreUriError(f"{uri.token_description()}: name the signing key with ;object=LABEL")
    return open_signing_key(custody.session(uri), uri.object)
