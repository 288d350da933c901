"""A session on a SoftHSM2 token; keys generated inside it, never extractable; signing with them."""

from __future__ import annotations

import hashlib
import pickle
import shutil
import subprocess
import threading
import traceback
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.types import Key, Session, WrapMixin

from station.domain.errors import KeyStoreError, TokenKeyNotFoundError, TokenNotFoundError, TokenPinError
from station.domain.vault_and_signing import AuditSigner
from station.security.keys import SigningAlgorithm
from station.security.pkcs11.keys import (
    TokenSigningKey,
    generate_signing_key,
    open_signing_key,
    preferred_signing_algorithm,
)
from station.security.pkcs11.pin import FilePinSource, PromptPinSource
from station.security.pkcs11.token import TokenSession, module_is_loaded
from station.security.station_key import StationPublicKey

from .softhsm import SOFTHSM_MODULE, TOKEN_LABEL, USER_PIN, SoftHsm, prompt_for

WRONG_PIN = "555000999111"


def _texts(error: BaseException) -> str:
    return str(error) + repr(error) + "".join(traceback.format_exception(error))


def test_opening_finds_the_token_and_closing_lets_the_module_go(softhsm: SoftHsm) -> None:
    session = softhsm.open()
    assert session.label == TOKEN_LABEL and session.serial
    assert module_is_loaded(SOFTHSM_MODULE)
    # The URI the settings keep: this token by label and serial, the module, nothing secret.
    assert str(session.uri) == f"pkcs11:token={TOKEN_LABEL};serial={session.serial}?module-path={SOFTHSM_MODULE}"
    assert USER_PIN not in repr(session)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(session)
    session.close()
    session.close()  # idempotent
    assert not module_is_loaded(SOFTHSM_MODULE)
    with pytest.raises(KeyStoreError, match="is closed"):
        session.run(lambda s: s.generate_random(64), doing="drawing random bits")


def test_a_wrong_pin_is_refused_without_showing_any_pin(softhsm: SoftHsm) -> None:
    with pytest.raises(TokenPinError, match=f"wrong PIN for token '{TOKEN_LABEL}' \\(from a prompt\\)") as caught:
        softhsm.open(pin=WRONG_PIN)
    assert WRONG_PIN not in _texts(caught.value) and USER_PIN not in _texts(caught.value)
    assert caught.value.code == "TOKEN_PIN"
    assert not module_is_loaded(SOFTHSM_MODULE)
    softhsm.open().close()  # the right PIN still works


def test_a_wrong_pin_from_a_file_names_the_file(softhsm: SoftHsm, tmp_path: Path) -> None:
    pin_file = tmp_path / "hsm.pin"
    pin_file.write_text(WRONG_PIN + "\n")
    pin_file.chmod(0o600)
    with pytest.raises(TokenPinError, match=f"from the PIN file {pin_file}") as caught:
        TokenSession.open(softhsm.uri(), FilePinSource(pin_file))
    assert WRONG_PIN not in _texts(caught.value)


def test_a_missing_token_is_named_and_no_pin_is_asked_for(softhsm: SoftHsm) -> None:
    asked: list[str] = []

    def ask(question: str) -> str:
        asked.append(question)
        return USER_PIN

    with pytest.raises(TokenNotFoundError, match=f"no token 'Line 9 CA' .*tokens present: '{TOKEN_LABEL}'"):
        TokenSession.open(softhsm.uri("Line 9 CA"), PromptPinSource(ask))
    assert asked == []
    wrong_serial = replace(softhsm.uri(), serial="0000000000000000")
    with pytest.raises(TokenNotFoundError):
        TokenSession.open(wrong_serial, prompt_for(USER_PIN))
    assert not module_is_loaded(SOFTHSM_MODULE)


def test_a_copied_data_directory_without_the_token_opens_nothing(softhsm: SoftHsm) -> None:
    with softhsm.open() as session:
        uri = session.uri  # as the settings would keep it
    softhsm.wipe()
    with pytest.raises(TokenNotFoundError, match="tokens present: none"):
        TokenSession.open(uri, prompt_for(USER_PIN))


def test_a_wrong_module_is_refused_clearly(softhsm: SoftHsm, tmp_path: Path) -> None:
    uri = softhsm.uri()
    with pytest.raises(KeyStoreError, match=r"module /nonexistent/libsofthsm2\.so cannot be found"):
        TokenSession.open(replace(uri, module_path=Path("/nonexistent/libsofthsm2.so")), prompt_for(USER_PIN))
    not_a_module = tmp_path / "libfake.so"
    not_a_module.write_bytes(b"\x7fELF not really")
    with pytest.raises(KeyStoreError, match="is not a PKCS#11 module that loads"):
        TokenSession.open(replace(uri, module_path=not_a_module), prompt_for(USER_PIN))
    not_a_module.chmod(0o666)
    with pytest.raises(KeyStoreError, match=r"may be changed by others \(mode 0666\)"):
        TokenSession.open(replace(uri, module_path=not_a_module), prompt_for(USER_PIN))
    with pytest.raises(KeyStoreError, match="no PKCS#11 module"):
        TokenSession.open(replace(uri, module_path=None), prompt_for(USER_PIN))
    # The caller's default module serves a URI without one.
    TokenSession.open(replace(uri, module_path=None), prompt_for(USER_PIN), module_path=SOFTHSM_MODULE).close()


def test_the_token_takes_one_login_per_process(softhsm: SoftHsm) -> None:
    softhsm.open()
    with pytest.raises(KeyStoreError, match="open already in this process"):
        softhsm.open()


def test_a_missing_key_is_named(softhsm: SoftHsm) -> None:
    session = softhsm.open()
    with pytest.raises(TokenKeyNotFoundError, match=f"token '{TOKEN_LABEL}' has no private key labelled 'nope'"):
        open_signing_key(session, "nope")


def test_a_p256_key_is_made_inside_the_token_and_never_comes_out(softhsm: SoftHsm) -> None:
    session = softhsm.open()
    key = generate_signing_key(session, "ca-key", SigningAlgorithm.ECDSA_P256_SHA256)
    assert key.algorithm is SigningAlgorithm.ECDSA_P256_SHA256
    assert isinstance(key.public_key, ec.EllipticCurvePublicKey) and key.public_key.curve.name == "secp256r1"
    assert str(key.uri).startswith(f"pkcs11:token={TOKEN_LABEL};serial={session.serial};object=ca-key;type=private")

    private = session.find(ObjectClass.PRIVATE_KEY, "ca-key")
    flags = session.run(
        lambda _: private.get_attributes(
            [Attribute.TOKEN, Attribute.SENSITIVE, Attribute.EXTRACTABLE, Attribute.NEVER_EXTRACTABLE, Attribute.SIGN]
        ),
        doing="reading",
    )
    assert flags == {
        Attribute.TOKEN: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.NEVER_EXTRACTABLE: True,
        Attribute.SIGN: True,
    }
    # Reading the private value is refused by the token ...
    with pytest.raises(KeyStoreError, match="AttributeSensitive"):
        session.run(lambda _: private[Attribute.VALUE], doing="reading the private value")

    # ... and so is exporting it wrapped under a key we would know.
    def wrapping_key(token: Session) -> Key:
        return token.generate_key(
            KeyType.AES, 256, label="exporter", capabilities=MechanismFlag.WRAP | MechanismFlag.UNWRAP
        )

    exporter = session.run(wrapping_key, doing="making an exporting key")
    assert isinstance(exporter, WrapMixin) and isinstance(private, Key)
    with pytest.raises(KeyStoreError, match="KeyUnextractable"):
        session.run(lambda _: exporter.wrap_key(private, mechanism=Mechanism.AES_KEY_WRAP_PAD), doing="exporting")
    # Nor may its flags be loosened afterwards.
    with pytest.raises(KeyStoreError):
        session.run(lambda _: private.__setitem__(Attribute.EXTRACTABLE, True), doing="loosening")


def test_a_label_is_never_reused_and_a_read_only_session_makes_no_key(softhsm: SoftHsm) -> None:
    session = softhsm.open()
    first = generate_signing_key(session, "station-key")
    with pytest.raises(KeyStoreError, match="labelled 'station-key' already; it is never replaced"):
        generate_signing_key(session, "station-key")
    assert open_signing_key(session, "station-key").public_key_fingerprint == first.public_key_fingerprint
    session.close()
    with softhsm.open(writable=False) as read_only, pytest.raises(KeyStoreError, match="read-only"):
        generate_signing_key(read_only, "other")


def test_softhsm_prefers_ed25519_and_a_token_without_it_gets_p256(softhsm: SoftHsm) -> None:
    class TokenWithoutEddsa:
        """A token that offers EC but not Edwards curves (older SoftHSM, many HSMs)."""

        def supports(self, *mechanisms: Mechanism) -> bool:
            return Mechanism.EDDSA not in mechanisms and Mechanism.EC_EDWARDS_KEY_PAIR_GEN not in mechanisms

    session = softhsm.open()
    assert preferred_signing_algorithm(session) is SigningAlgorithm.ED25519
    assert preferred_signing_algorithm(TokenWithoutEddsa()) is SigningAlgorithm.ECDSA_P256_SHA256
    key = generate_signing_key(session, "station-key")
    assert key.algorithm is SigningAlgorithm.ED25519
    assert isinstance(key.public_key, ed25519.Ed25519PublicKey)


def _openssl(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, arguments)], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("algorithm", [SigningAlgorithm.ED25519, SigningAlgorithm.ECDSA_P256_SHA256])
def test_token_signatures_verify_with_cryptography_and_openssl(
    softhsm: SoftHsm, tmp_path: Path, algorithm: SigningAlgorithm
) -> None:
    session = softhsm.open()
    key = generate_signing_key(session, "station-key", algorithm)
    signer: AuditSigner = key
    data = b'{"export": "attempts.csv", "sha256": "00ff"}\n' * 50
    signature = signer.sign(data)
    assert signer.verify(data, signature)
    assert not signer.verify(data + b" ", signature)

    # As `station report verify` reads the manifest's key: the public PEM alone.
    public = StationPublicKey.from_pem(key.public_key_pem())
    assert public.algorithm is algorithm
    assert public.public_key_fingerprint == key.public_key_fingerprint == signer.public_key_fingerprint
    assert public.verify(data, signature)

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    (tmp_path / "station.pub").write_text(key.public_key_pem())
    (tmp_path / "data").write_bytes(data)
    (tmp_path / "data.sig").write_bytes(signature)
    (tmp_path / "forged").write_bytes(data + b" ")
    command: list[str | Path] = ["pkeyutl", "-verify", "-pubin", "-inkey", tmp_path / "station.pub", "-rawin",
               "-sigfile", tmp_path / "data.sig"]  # fmt: skip
    if algorithm is not SigningAlgorithm.ED25519:
        command += ["-digest", "sha256"]
    verified = _openssl(*command, "-in", tmp_path / "data")
    assert verified.returncode == 0 and "Signature Verified Successfully" in verified.stdout, verified.stderr
    assert _openssl(*command, "-in", tmp_path / "forged").returncode != 0
    if algorithm is SigningAlgorithm.ECDSA_P256_SHA256:
        digest = _openssl("dgst", "-sha256", "-verify", tmp_path / "station.pub", "-signature",
                          tmp_path / "data.sig", tmp_path / "data")  # fmt: skip
        assert digest.returncode == 0 and "Verified OK" in digest.stdout, digest.stderr
        # The hash signed is SHA-256 of the data: pkeyutl without -rawin checks that directly.
        (tmp_path / "data.sha256").write_bytes(hashlib.sha256(data).digest())
        hashed = _openssl("pkeyutl", "-verify", "-pubin", "-inkey", tmp_path / "station.pub",
                          "-sigfile", tmp_path / "data.sig", "-in", tmp_path / "data.sha256")  # fmt: skip
        assert hashed.returncode == 0, hashed.stderr


def test_a_key_persists_in_the_token_across_sessions(softhsm: SoftHsm) -> None:
    with softhsm.open() as session:
        made = generate_signing_key(session, "station-key", SigningAlgorithm.ECDSA_P256_SHA256)
        signature = made.sign(b"entry 1")
        fingerprint = made.public_key_fingerprint
    with softhsm.open(writable=False) as session:
        again = open_signing_key(session, "station-key")
        assert again.public_key_fingerprint == fingerprint and again.algorithm is made.algorithm
        assert again.verify(b"entry 1", signature)
        assert again.verify(b"entry 2", again.sign(b"entry 2"))
        assert repr(again) == f"TokenSigningKey('station-key', ecdsa-p256-sha256, fingerprint={fingerprint})"
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(again)
    with pytest.raises(KeyStoreError, match="is closed"):
        again.sign(b"after close")


def test_a_signing_key_is_a_token_signing_key_for_the_type_checker(softhsm: SoftHsm) -> None:
    session = softhsm.open()
    key = generate_signing_key(session, "k", SigningAlgorithm.ECDSA_P384_SHA384)
    assert isinstance(key, TokenSigningKey) and key.algorithm is SigningAlgorithm.ECDSA_P384_SHA384
    assert StationPublicKey.from_pem(key.public_key_pem()).verify(b"x", key.sign(b"x"))


def test_slots_signing_at_once_share_the_session_safely(softhsm: SoftHsm) -> None:
    """Slots run on worker threads; the module was initialised without OS locking, so the
    session serialises every call: all signatures from concurrent threads verify."""
    session = softhsm.open()
    key = generate_signing_key(session, "station-key", SigningAlgorithm.ECDSA_P256_SHA256)
    results: dict[int, list[tuple[bytes, bytes]]] = {}
    failures: list[BaseException] = []

    def sign_many(worker: int) -> None:
        try:
            results[worker] = [(data, key.sign(data)) for data in (f"{worker}:{n}".encode() for n in range(25))]
        except BaseException as error:  # reported below, with the thread's error
            failures.append(error)

    workers = [threading.Thread(target=sign_many, args=(worker,)) for worker in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    assert sorted(results) == [0, 1, 2, 3]
    assert all(key.verify(data, signature) for signed in results.values() for data, signature in signed)
