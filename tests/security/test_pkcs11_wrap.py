"""The vault's data key wrapped by the token's AES key: useless without that token."""

from __future__ import annotations

import os
import pickle

import pytest
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap_with_padding
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.types import Key, Session, WrapMixin

from station.domain.errors import KeyStoreError, TokenNotFoundError
from station.security.pkcs11.token import TokenSession
from station.security.pkcs11.wrap import (
    DEFAULT_WRAPPING_KEY_LABEL,
    WRAP_MECHANISM,
    DataKey,
    generate_wrapping_key,
    open_wrapping_key,
)

from .softhsm import USER_PIN, SoftHsm, prompt_for


def test_a_data_key_round_trips_through_the_token(softhsm: SoftHsm) -> None:
    data_key = DataKey.generate()
    with softhsm.open() as session:
        wrapper = generate_wrapping_key(session)
        wrapped = wrapper.wrap(data_key)
    assert len(wrapped) == 40  # RFC 5649: 32 bytes and the 8-byte integrity block
    assert data_key.reveal() not in wrapped

    with softhsm.open(writable=False) as session:
        unwrapped = open_wrapping_key(session).unwrap(wrapped)
    assert unwrapped.same_as(data_key) and unwrapped.reveal() == data_key.reveal()
    # Wrapping leaves no copy of the data key in the token (session objects are destroyed).
    with softhsm.open(writable=False) as session:
        secret_keys = session.run(
            lambda s: [key[Attribute.LABEL] for key in s.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY})],
            doing="listing",
        )
    assert secret_keys == [DEFAULT_WRAPPING_KEY_LABEL]


def test_the_wrapping_key_is_sensitive_unextractable_and_wraps_only(softhsm: SoftHsm) -> None:
    session = softhsm.open()
    generate_wrapping_key(session)
    key = session.find(ObjectClass.SECRET_KEY, DEFAULT_WRAPPING_KEY_LABEL)
    flags = session.run(
        lambda _: key.get_attributes(
            [Attribute.TOKEN, Attribute.SENSITIVE, Attribute.EXTRACTABLE, Attribute.ENCRYPT, Attribute.DECRYPT,
             Attribute.WRAP, Attribute.UNWRAP, Attribute.VALUE_LEN]
        ),
        doing="reading",
    )  # fmt: skip
    assert flags == {
        Attribute.TOKEN: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.ENCRYPT: False,
        Attribute.DECRYPT: False,
        Attribute.WRAP: True,
        Attribute.UNWRAP: True,
        Attribute.VALUE_LEN: 32,
    }
    with pytest.raises(KeyStoreError, match="AttributeSensitive"):
        session.run(lambda _: key[Attribute.VALUE], doing="reading the wrapping key")
    with pytest.raises(KeyStoreError, match="labelled 'station-vault-wrapping-key' already"):
        generate_wrapping_key(session)


def test_a_copy_of_the_wrapped_key_is_useless_without_the_token(softhsm: SoftHsm) -> None:
    data_key = DataKey.generate()
    with softhsm.open() as session:
        wrapped = generate_wrapping_key(session).wrap(data_key)
        uri = session.uri

    # Another token with a wrapping key of the same label (same PIN): refused, no wrong key.
    softhsm.init_token("another station")
    with softhsm.open("another station") as other:
        impostor = generate_wrapping_key(other)
        with pytest.raises(KeyStoreError, match="wrapped by another token's key, or changed"):
            impostor.unwrap(wrapped)

    # Changed by one bit: refused by the integrity check.
    with softhsm.open(writable=False) as session:
        wrapper = open_wrapping_key(session)
        for index in (0, 20, 39):
            changed = bytearray(wrapped)
            changed[index] ^= 0x01
            with pytest.raises(KeyStoreError, match="does not unwrap"):
                wrapper.unwrap(bytes(changed))
        with pytest.raises(KeyStoreError, match="does not unwrap"):
            wrapper.unwrap(wrapped[:-8])

    # Without the token at all: nothing to open, and no key that a guess could find.
    softhsm.wipe()
    with pytest.raises(TokenNotFoundError):
        TokenSession.open(uri, prompt_for(USER_PIN))
    with pytest.raises(InvalidUnwrap):
        aes_key_unwrap_with_padding(os.urandom(32), wrapped)


def test_the_mechanism_is_rfc_5649_key_wrap_with_padding(softhsm: SoftHsm) -> None:
    """What SoftHSM2 calls CKM_AES_KEY_WRAP_PAD is RFC 5649: cryptography unwraps it under the same key."""
    known_kek = os.urandom(32)
    data_key = os.urandom(32)
    session = softhsm.open()

    def wrap_with_known_key(token: Session) -> bytes:
        kek = token.create_object({
            Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES, Attribute.VALUE: known_kek,
            Attribute.WRAP: True, Attribute.TOKEN: False,
        })  # fmt: skip
        value = token.create_object({
            Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES, Attribute.VALUE: data_key,
            Attribute.EXTRACTABLE: True, Attribute.TOKEN: False,
        })  # fmt: skip
        assert isinstance(kek, WrapMixin) and isinstance(value, Key)
        return kek.wrap_key(value, mechanism=WRAP_MECHANISM)

    wrapped = session.run(wrap_with_known_key, doing="wrapping under a known key")
    assert WRAP_MECHANISM is Mechanism.AES_KEY_WRAP_PAD
    assert aes_key_unwrap_with_padding(known_kek, wrapped) == data_key


def test_a_wrapping_key_that_could_leave_the_token_or_encrypt_is_refused(softhsm: SoftHsm) -> None:
    session = softhsm.open()
    session.run(
        lambda token: token.generate_key(
            KeyType.AES, 256, label="loose", store=True, capabilities=MechanismFlag.WRAP | MechanismFlag.UNWRAP,
            template={Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: True},
        ),
        doing="making a loose key",
    )  # fmt: skip
    with pytest.raises(KeyStoreError, match="could leave the token"):
        open_wrapping_key(session, "loose")
    session.run(
        lambda token: token.generate_key(KeyType.AES, 256, label="general", store=True,
                                         template={Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True}),
        doing="making a general-purpose key",
    )  # fmt: skip
    with pytest.raises(KeyStoreError, match="may also encrypt data"):
        open_wrapping_key(session, "general")


def test_a_data_key_hides_from_repr_and_pickle() -> None:
    data_key = DataKey.generate()
    assert data_key.reveal().hex() not in repr(data_key) and "hidden" in str(data_key)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(data_key)
    with pytest.raises(KeyStoreError, match="32 bytes"):
        DataKey(b"short")
    assert not data_key.same_as(DataKey.generate())
