"""The vault's data key, wrapped by an AES key that never leaves the token.

The database keeps only the wrapped data key: without the token (and its PIN) it decrypts
nothing. The wrapping key is AES-256, generated in the token, sensitive, not extractable, and
allowed to wrap and unwrap only (no ``CKA_ENCRYPT``/``CKA_DECRYPT``): the token never hands
anyone a general encryption oracle under it.

Mechanism: ``CKM_AES_KEY_WRAP_PAD`` (RFC 5649, AES key wrap with padding: what SoftHSM2 2.6
implements under that value; ``cryptography``'s ``aes_key_unwrap_with_padding`` reads it). It
authenticates what it unwraps (RFC 5649's integrity check), so a wrapped key from another token
or one changed by a bit is refused, not turned into a wrong key. To wrap, the data key is put in
the token as a short-lived session object (``CKA_TOKEN`` false) and destroyed at once; to unwrap,
the token makes such an object and the station reads its value, then destroys it.
"""

from __future__ import annotations

import hmac
import os
from typing import Final

from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.types import Key, Session, UnwrapMixin, WrapMixin

from station.domain.errors import KeyStoreError
from station.security.pkcs11.token import TokenSession

DEFAULT_WRAPPING_KEY_LABEL: Final = "station-vault-wrapping-key"
WRAP_MECHANISM: Final = Mechanism.AES_KEY_WRAP_PAD
DATA_KEY_BYTES: Final = 32
WRAPPING_KEY_BITS: Final = 256
# How tokens say that a wrapped key fails its integrity check: SoftHSM2 2.6 answers
# CKR_GENERAL_ERROR (its RFC 5649 unwrap fails inside OpenSSL/Botan), others the specific codes.
_REFUSED_UNWRAP = (
    p11.WrappedKeyInvalid,
    p11.WrappedKeyLenRange,
    p11.EncryptedDataInvalid,
    p11.DataInvalid,
    p11.GeneralError,
)
# The data key while it is a session object: readable by the station for this call only.
_SESSION_DATA_KEY: Final = {Attribute.TOKEN: False, Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True}


class DataKey:
    """A 32-byte data key in memory; its bytes are reachable only through :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        if len(value) != DATA_KEY_BYTES:
            raise KeyStoreError(f"a data key is {DATA_KEY_BYTES} bytes")
        self._value = bytes(value)

    @classmethod
    def generate(cls) -> DataKey:
        return cls(os.urandom(DATA_KEY_BYTES))

    def reveal(self) -> bytes:
        """The key, for the vault's cipher only: never log, store or show it."""
        return self._value

    def same_as(self, other: DataKey) -> bool:
        """Constant-time comparison (for checks; ``==`` is identity)."""
        return hmac.compare_digest(self._value, other._value)

    def __repr__(self) -> str:
        return "DataKey(<hidden>)"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a data key cannot be pickled")


class TokenKeyWrapper:
    """Wraps and unwraps data keys with the token's AES key of one label."""

    def __init__(self, session: TokenSession, key: WrapMixin, label: str) -> None:
        if not isinstance(key, UnwrapMixin):
            raise KeyStoreError(f"the key {label!r} in token {session.label!r} may not unwrap (CKA_UNWRAP is false)")
        self._session = session
        self._wrap_key = key
        self._unwrap_key: UnwrapMixin = key
        self.label = label

    def wrap(self, data_key: DataKey) -> bytes:
        """The data key wrapped (RFC 5649: 40 bytes for 32), for the database."""

        def wrap(session: Session) -> bytes:
            value = session.create_object(
                {
                    Attribute.CLASS: ObjectClass.SECRET_KEY,
                    Attribute.KEY_TYPE: KeyType.AES,
                    Attribute.VALUE: data_key.reveal(),
                    **_SESSION_DATA_KEY,
                }
            )
            try:
                if not isinstance(value, Key):
                    raise KeyStoreError(f"token {self._session.label!r} did not take the data key as a key")
                return self._wrap_key.wrap_key(value, mechanism=WRAP_MECHANISM)
            finally:
                value.destroy()

        return self._session.run(wrap, doing=f"wrapping a data key with {self.label!r}")

    def unwrap(self, wrapped: bytes) -> DataKey:
        """The data key; KeyStoreError if it was not wrapped by this token's key (or was changed)."""

        def unwrap(session: Session) -> bytes | None:
            try:
                value = self._unwrap_key.unwrap_key(
                    ObjectClass.SECRET_KEY,
                    KeyType.AES,
                    wrapped,
                    mechanism=WRAP_MECHANISM,
                    capabilities=MechanismFlag(0),
                    template=dict(_SESSION_DATA_KEY),
                )
            except _REFUSED_UNWRAP:
                return None
            try:
                data = value[Attribute.VALUE]
                return data if isinstance(data, bytes) else None
            finally:
                value.destroy()

        data = self._session.run(unwrap, doing=f"unwrapping a data key with {self.label!r}")
        if data is None or len(data) != DATA_KEY_BYTES:
            raise KeyStoreError(
                f"the wrapped data key does not unwrap with the key {self.label!r} of token {self._session.label!r}: "
                "it was wrapped by another token's key, or changed"
            )
        return DataKey(data)

    def __repr__(self) -> str:
        return f"TokenKeyWrapper({self.label!r}, token={self._session.label!r})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a token key cannot be pickled")


def generate_wrapping_key(session: TokenSession, label: str = DEFAULT_WRAPPING_KEY_LABEL) -> TokenKeyWrapper:
    """A new AES-256 wrapping key in the token (wrap and unwrap only, never extractable)."""
    if not session.writable:
        raise KeyStoreError(f"token {session.label!r} is open read-only: a key cannot be generated")
    if not session.supports(Mechanism.AES_KEY_GEN, WRAP_MECHANISM):
        raise KeyStoreError(f"token {session.label!r} cannot make AES keys or wrap with {WRAP_MECHANISM.name}")
    if session.exists(label):
        raise KeyStoreError(f"token {session.label!r} has an object labelled {label!r} already; it is never replaced")
    key = session.run(
        lambda token: token.generate_key(
            KeyType.AES,
            WRAPPING_KEY_BITS,
            label=label,
            id=os.urandom(16),
            store=True,
            capabilities=MechanismFlag.WRAP | MechanismFlag.UNWRAP,
            template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.PRIVATE: True},
        ),
        doing=f"generating the wrapping key {label!r}",
    )
    try:
        return _wrapper(session, key, label)
    except BaseException:
        session.run(lambda _: key.destroy(), doing=f"removing the refused key {label!r}")
        raise


def open_wrapping_key(session: TokenSession, label: str = DEFAULT_WRAPPING_KEY_LABEL) -> TokenKeyWrapper:
    """The wrapping key of that label; KeyStoreError if the token would let it out."""
    return _wrapper(session, session.find(ObjectClass.SECRET_KEY, label), label)


def _wrapper(session: TokenSession, key: object, label: str) -> TokenKeyWrapper:
    if not isinstance(key, WrapMixin):
        raise KeyStoreError(f"the key {label!r} in token {session.label!r} may not wrap (CKA_WRAP is false)")
    wanted = [Attribute.SENSITIVE, Attribute.EXTRACTABLE, Attribute.ENCRYPT, Attribute.DECRYPT]
    protection = session.run(lambda _: key.get_attributes(wanted), doing=f"reading the protection of {label!r}")
    if protection.get(Attribute.SENSITIVE) is not True or protection.get(Attribute.EXTRACTABLE) is not False:
        raise KeyStoreError(f"the wrapping key {label!r} in token {session.label!r} could leave the token: refused")
    if protection.get(Attribute.ENCRYPT) or protection.get(Attribute.DECRYPT):
        raise KeyStoreError(f"the wrapping key {label!r} in token {session.label!r} may also encrypt data: refused")
    return TokenKeyWrapper(session, key, label)
