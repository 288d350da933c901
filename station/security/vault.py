"""The activation-token vault: tokens sealed with AES-GCM, known elsewhere only by fingerprint.

Whoever knows an activation token can activate any device to the product and obtain its
firmware, so a token is never shown, logged, exported or put in an exception. Here:

- A key is derived from the vault passphrase with scrypt (``n`` = 2**15, r = 8, p = 1 by
  default; the salt and parameters are kept through the ``TokenRepository``), and split with
  HKDF-SHA256 into an *encryption key* and a *fingerprint key*.
- Each token is sealed with AES-256-GCM under the encryption key, a random 96-bit nonce, and
  the associated data ``product NUL fingerprint``, so that a ciphertext moved to another
  product or another row does not decrypt.
- A token's fingerprint is ``tok:`` + the first 16 bytes (32 hex digits) of
  HMAC-SHA256(fingerprint key, token): stable for one vault, useless without the passphrase.
- A fixed text sealed at first use (``VaultParameters.check_value``) tells a wrong passphrase
  ("wrong vault passphrase") from tampering with a token ("cannot be decrypted").

Tokens in memory are :class:`ActivationToken` objects whose ``repr``/``str`` show only the
fingerprint; ``secret()`` returns the text for the console command, nowhere else.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from station.domain.errors import VaultError
from station.domain.recipe import PRODUCT_CODE_PATTERN
from station.domain.records import SealedToken, TokenStatus
from station.domain.vault_and_signing import TokenRepository, VaultParameters

DEFAULT_SCRYPT_N: Final = 2**15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
MAXIMUM_SCRYPT_N: Final = 2**20
MINIMUM_PASSPHRASE_LENGTH: Final = 8
FINGERPRINT_PREFIX: Final = "tok:"
FINGERPRINT_BYTES: Final = 16
TOKEN_MIN_LENGTH: Final = 16
TOKEN_MAX_LENGTH: Final = 512
_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9._~+/=:-]+$")
_CHECK_TEXT: Final = b"station activation-token vault v1"
_CHECK_ASSOCIATED_DATA: Final = b"vault-check"
_ENCRYPTION_INFO: Final = b"station vault: token encryption key v1"
_FINGERPRINT_INFO: Final = b"station vault: token fingerprint key v1"
_MAX_REPORTED_LINES: Final = 10


class ActivationToken:
    """An activation token in memory. Its text is reachable only through :meth:`secret`."""

    __slots__ = ("_secret", "fingerprint", "product")

    def __init__(self, secret: str, fingerprint: str, product: str) -> None:
        self._secret = secret
        self.fingerprint = fingerprint
        self.product = product

    def secret(self) -> str:
        """The token text, for the activation command only: never log, store or show it."""
        return self._secret

    def __repr__(self) -> str:
        return f"ActivationToken({self.fingerprint}, product={self.product})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActivationToken):
            return NotImplemented
        return self.fingerprint == other.fingerprint and self.product == other.product

    def __hash__(self) -> int:
        return hash((self.fingerprint, self.product))

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("an activation token cannot be pickled")


@dataclass(frozen=True)
class ImportSummary:
    """What an import did: counts and the new tokens' fingerprints (never the tokens)."""

    product: str
    read: int  # token lines in the file
    added: int  # new to the vault
    duplicates: int  # repeated in the file or already in the vault
    fingerprints: tuple[str, ...]  # of every token read, in file order, without repeats


class _Keys:
    """The two derived keys; kept away from any repr."""

    __slots__ = ("encryption", "fingerprint")

    def __init__(self, encryption: bytes, fingerprint: bytes) -> None:
        self.encryption = encryption
        self.fingerprint = fingerprint

    def __repr__(self) -> str:
        return "_Keys(<hidden>)"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("vault keys cannot be pickled")


def _derive_keys(passphrase: str, parameters: VaultParameters) -> _Keys:
    if not 2 <= parameters.scrypt_n <= MAXIMUM_SCRYPT_N or parameters.scrypt_n & (parameters.scrypt_n - 1):
        raise VaultError(f"the vault's scrypt cost n={parameters.scrypt_n} is not a power of two up to 2**20")
    master = Scrypt(
        salt=parameters.salt, length=32, n=parameters.scrypt_n, r=parameters.scrypt_r, p=parameters.scrypt_p
    ).derive(passphrase.encode("utf-8"))
    encryption = HKDF(hashes.SHA256(), 32, salt=None, info=_ENCRYPTION_INFO).derive(master)
    fingerprint = HKDF(hashes.SHA256(), 32, salt=None, info=_FINGERPRINT_INFO).derive(master)
    return _Keys(encryption, fingerprint)


def _fingerprint(keys: _Keys, token: str) -> str:
    digest = hmac.new(keys.fingerprint, token.encode("utf-8"), hashlib.sha256).digest()
    return FINGERPRINT_PREFIX + digest[:FINGERPRINT_BYTES].hex()


def _associated_data(product: str, fingerprint: str) -> bytes:
    return product.encode("utf-8") + b"\0" + fingerprint.encode("ascii")


def _check_product(product: str) -> None:
    if not PRODUCT_CODE_PATTERN.match(product):
        raise VaultError(f"{product!r} is not a product code (e.g. ACME-TOASTER)")


def parse_token_lines(lines: Iterable[str]) -> list[str]:
    """The tokens of an import file: one per line; blank lines and ``#`` comments skipped.

    Refuses the whole file (VaultError) if any line is not a plausible token, naming line
    numbers and the reason but never the line's text.
    """
    tokens: list[str] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        reason = None
        if any(character.isspace() for character in text):
            reason = "contains whitespace inside the token"
        elif len(text) < TOKEN_MIN_LENGTH:
            reason = f"too short for a token ({len(text)} characters, at least {TOKEN_MIN_LENGTH})"
        elif len(text) > TOKEN_MAX_LENGTH:
            reason = f"too long for a token ({len(text)} characters, at most {TOKEN_MAX_LENGTH})"
        elif not _TOKEN_PATTERN.match(text):
            reason = "contains characters a token cannot have (letters, digits and ._~+/=:- only)"
        if reason is not None:
            problems.append(f"line {number}: {reason}")
            continue
        tokens.append(text)
    if problems:
        shown = problems[:_MAX_REPORTED_LINES]
        more = len(problems) - len(shown)
        suffix = f"; and {more} more line(s)" if more else ""
        raise VaultError("the token file was not imported: " + "; ".join(shown) + suffix)
    if not tokens:
        raise VaultError("the token file holds no tokens")
    return tokens


class UnlockedVault:
    """The vault opened with its passphrase: can seal, fingerprint and hand out tokens."""

    def __init__(self, repository: TokenRepository, keys: _Keys) -> None:
        self._repository = repository
        self._keys = keys

    def __repr__(self) -> str:
        return "UnlockedVault(<keys hidden>)"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("an unlocked vault cannot be pickled")

    def fingerprint(self, token_text: str) -> str:
        """The keyed fingerprint of a token text (``tok:`` + 32 hex digits)."""
        return _fingerprint(self._keys, token_text)

    def import_tokens(self, product: str, lines: Iterable[str], use_limit: int | None = None) -> ImportSummary:
        """Seal and store every token of ``lines``; the whole file or nothing."""
        _check_product(product)
        if use_limit is not None and use_limit < 1:
            raise VaultError("a token's use limit must be at least 1")
        tokens = parse_token_lines(lines)
        return self._store(product, tokens, use_limit)

    def _store(self, product: str, tokens: list[str], use_limit: int | None) -> ImportSummary:
        sealer = AESGCM(self._keys.encryption)
        sealed: list[SealedToken] = []
        seen: set[str] = set()
        imported_at = datetime.now(UTC)
        for token in tokens:
            fingerprint = self.fingerprint(token)
            if fingerprint in seen:
                continue
            seen.add(fingerprint)
            nonce = os.urandom(12)
            ciphertext = sealer.encrypt(nonce, token.encode("utf-8"), _associated_data(product, fingerprint))
            sealed.append(SealedToken(fingerprint, product, nonce, ciphertext, use_limit, imported_at))
        added = self._repository.add_sealed_tokens(sealed)
        return ImportSummary(
            product=product,
            read=len(tokens),
            added=added,
            duplicates=len(tokens) - added,
            fingerprints=tuple(token.fingerprint for token in sealed),
        )

    def next_token(self, product: str) -> ActivationToken:
        """The oldest token of ``product`` below its use limit; VaultError if none is left."""
        _check_product(product)
        sealed = self._repository.next_usable_token(product)
        if sealed is not None:
            return self.open(sealed)
        count = self._repository.token_count(product)
        if count == 0:
            raise VaultError(f"the vault holds no activation token for product {product}")
        raise VaultError(f"no activation token left for product {product}: all {count} are at their use limit")

    def open(self, sealed: SealedToken) -> ActivationToken:
        """Decrypt one sealed token; VaultError (naming only its fingerprint) if it was altered."""
        try:
            plaintext = AESGCM(self._keys.encryption).decrypt(
                sealed.nonce, sealed.ciphertext, _associated_data(sealed.product, sealed.fingerprint)
            )
            text = plaintext.decode("utf-8")
        except (InvalidTag, UnicodeDecodeError, ValueError):
            raise VaultError(
                f"activation token {sealed.fingerprint} of {sealed.product} cannot be decrypted: "
                "its stored ciphertext, nonce or product was altered"
            ) from None
        if not hmac.compare_digest(self.fingerprint(text), sealed.fingerprint):
            raise VaultError(f"activation token {sealed.fingerprint} does not match its fingerprint")
        return ActivationToken(text, sealed.fingerprint, sealed.product)

    def reserve_use(self, token: ActivationToken, attempt_id: int) -> None:
        """Take one use of ``token`` for an attempt's activation (refused at its limit)."""
        self._repository.reserve_token_use(token.fingerprint, attempt_id)

    def confirm_use(self, token: ActivationToken, attempt_id: int) -> None:
        self._repository.confirm_token_use(token.fingerprint, attempt_id)

    def release_use(self, token: ActivationToken, attempt_id: int) -> None:
        self._repository.release_token_use(token.fingerprint, attempt_id)

    def settle_earlier_uses(self, serial: str, *, activated: bool, attempt_id: int) -> int:
        return self._repository.settle_reserved_uses(serial, activated=activated, except_attempt=attempt_id)


class TokenVault:
    """The vault over a ``TokenRepository``; ``scrypt_n`` applies when it is first created."""

    def __init__(self, repository: TokenRepository, *, scrypt_n: int = DEFAULT_SCRYPT_N) -> None:
        self._repository = repository
        self._scrypt_n = scrypt_n

    @property
    def is_initialized(self) -> bool:
        return self._repository.vault_parameters() is not None

    def initialize_or_check(self, passphrase: str) -> UnlockedVault:
        """First use: create the vault's salt and check value. Later: verify the passphrase."""
        parameters = self._repository.vault_parameters()
        if parameters is not None:
            return self._unlock(passphrase, parameters)
        if len(passphrase) < MINIMUM_PASSPHRASE_LENGTH:
            raise VaultError(f"the vault passphrase must be at least {MINIMUM_PASSPHRASE_LENGTH} characters")
        salt = os.urandom(16)
        provisional = VaultParameters(salt, self._scrypt_n, SCRYPT_R, SCRYPT_P, b"", b"")
        keys = _derive_keys(passphrase, provisional)
        check_nonce = os.urandom(12)
        check_value = AESGCM(keys.encryption).encrypt(check_nonce, _CHECK_TEXT, _CHECK_ASSOCIATED_DATA)
        self._repository.set_vault_parameters(
            VaultParameters(salt, self._scrypt_n, SCRYPT_R, SCRYPT_P, check_nonce, check_value)
        )
        return UnlockedVault(self._repository, keys)

    def unlocked(self, passphrase: str) -> UnlockedVault:
        """Open an existing vault; VaultError if it was never created or the passphrase is wrong."""
        parameters = self._repository.vault_parameters()
        if parameters is None:
            raise VaultError("the token vault is empty: import activation tokens first (station tokens import)")
        return self._unlock(passphrase, parameters)

    def import_tokens(
        self, passphrase: str, product: str, lines: Iterable[str], use_limit: int | None = None
    ) -> ImportSummary:
        """Check the file, then open (or on first use create) the vault and import it.

        A bad file is refused before anything is written, even before the vault is created.
        """
        _check_product(product)
        if use_limit is not None and use_limit < 1:
            raise VaultError("a token's use limit must be at least 1")
        tokens = parse_token_lines(lines)
        return self.initialize_or_check(passphrase)._store(product, tokens, use_limit)

    def statuses(self, product: str | None = None) -> list[TokenStatus]:
        """Fingerprints, products, uses and limits (no passphrase needed: nothing secret)."""
        return self._repository.token_statuses(product)

    def _unlock(self, passphrase: str, parameters: VaultParameters) -> UnlockedVault:
        keys = _derive_keys(passphrase, parameters)
        try:
            check = AESGCM(keys.encryption).decrypt(
                parameters.check_nonce, parameters.check_value, _CHECK_ASSOCIATED_DATA
            )
        except InvalidTag:
            raise VaultError("wrong vault passphrase") from None
        if check != _CHECK_TEXT:
            raise VaultError("wrong vault passphrase")
        return UnlockedVault(self._repository, keys)
