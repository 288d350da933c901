"""The activation-token vault: sealed tokens, fingerprints, limits, and no token ever shown."""

from __future__ import annotations

import logging
import pickle
from dataclasses import replace

import pytest

from station.domain.errors import StationError, VaultError
from station.security.vault import FINGERPRINT_PREFIX, ActivationToken, TokenVault, parse_token_lines

from .memory_tokens import InMemoryTokenRepository

PASSPHRASE = "vault passphrase for tests"
PRODUCT = "ACME-TOASTER"
TOKENS = ["Zq8JrT1bX4mN6pQ2wE9vK3aL", "Hh7sD2fG5jK8lZ1xC4vB6nM9", "Pp0oI9uY8tR7eW6qA5sD4fG3"]
SCRYPT_N = 2**10  # fast for tests; the default is 2**15


def vault(repository: InMemoryTokenRepository) -> TokenVault:
    return TokenVault(repository, scrypt_n=SCRYPT_N)


def file_lines(*tokens: str) -> list[str]:
    return ["# tokens for the toaster line", "", *[f"  {token}  " for token in tokens], ""]


def test_import_seals_tokens_and_lists_only_fingerprints(token_repository: InMemoryTokenRepository) -> None:
    summary = vault(token_repository).import_tokens(PASSPHRASE, PRODUCT, file_lines(*TOKENS), use_limit=3)

    assert (summary.read, summary.added, summary.duplicates) == (3, 3, 0)
    assert len(summary.fingerprints) == 3
    for fingerprint in summary.fingerprints:
        assert fingerprint.startswith(FINGERPRINT_PREFIX) and len(fingerprint) == len(FINGERPRINT_PREFIX) + 32
    for sealed, token in zip(token_repository.tokens, TOKENS, strict=True):
        assert token.encode() not in sealed.ciphertext
        assert len(sealed.nonce) == 12 and sealed.use_limit == 3 and sealed.product == PRODUCT
    statuses = vault(token_repository).statuses()
    assert [status.fingerprint for status in statuses] == list(summary.fingerprints)
    assert all(status.uses == 0 and status.use_limit == 3 for status in statuses)

    unlocked = vault(token_repository).unlocked(PASSPHRASE)
    assert [unlocked.fingerprint(token) for token in TOKENS] == list(summary.fingerprints)


def test_scrypt_parameters_are_kept_with_the_vault(token_repository: InMemoryTokenRepository) -> None:
    vault(token_repository).initialize_or_check(PASSPHRASE)
    parameters = token_repository.parameters
    assert parameters is not None
    assert (parameters.scrypt_n, parameters.scrypt_r, parameters.scrypt_p) == (SCRYPT_N, 8, 1)
    assert len(parameters.salt) == 16 and len(parameters.check_nonce) == 12
    assert TokenVault(token_repository).initialize_or_check(PASSPHRASE)  # stored n wins over the default


def test_duplicates_are_skipped(token_repository: InMemoryTokenRepository) -> None:
    first = vault(token_repository).import_tokens(PASSPHRASE, PRODUCT, file_lines(TOKENS[0], TOKENS[0], TOKENS[1]))
    assert (first.read, first.added, first.duplicates) == (3, 2, 1)
    second = vault(token_repository).import_tokens(PASSPHRASE, PRODUCT, file_lines(TOKENS[1], TOKENS[2]))
    assert (second.added, second.duplicates) == (1, 1)
    assert len(token_repository.tokens) == 3


def test_next_token_hands_out_the_oldest_usable_token(token_repository: InMemoryTokenRepository) -> None:
    vault(token_repository).import_tokens(PASSPHRASE, PRODUCT, file_lines(*TOKENS[:2]), use_limit=1)
    unlocked = vault(token_repository).unlocked(PASSPHRASE)

    token = unlocked.next_token(PRODUCT)
    assert token.secret() == TOKENS[0]
    assert token.fingerprint == unlocked.fingerprint(TOKENS[0])
    assert unlocked.next_token(PRODUCT) == token  # not used yet: the same one again

    unlocked.reserve_use(token, attempt_id=1)
    second = unlocked.next_token(PRODUCT)
    assert second.secret() == TOKENS[1]
    unlocked.reserve_use(second, attempt_id=2)

    with pytest.raises(VaultError, match="no activation token left for product ACME-TOASTER: all 2 are at their use"):
        unlocked.next_token(PRODUCT)
    with pytest.raises(StationError, match="use limit"):
        unlocked.reserve_use(second, attempt_id=3)


def test_unlimited_tokens_are_never_exhausted(token_repository: InMemoryTokenRepository) -> None:
    vault(token_repository).import_tokens(PASSPHRASE, PRODUCT, file_lines(TOKENS[0]))
    unlocked = vault(token_repository).unlocked(PASSPHRASE)
    for attempt in range(5):
        unlocked.reserve_use(unlocked.next_token(PRODUCT), attempt)
    assert unlocked.next_token(PRODUCT).secret() == TOKENS[0]


def test_tokens_belong_to_their_product(token_repository: InMemoryTokenRepository) -> None:
    vault(token_repository).import_tokens(PASSPHRASE, PRODUCT, file_lines(TOKENS[0]))
    vault(token_repository).import_tokens(PASSPHRASE, "ACME-FRIDGE", file_lines(TOKENS[1]))
    unlocked = vault(token_repository).unlocked(PASSPHRASE)
    assert unlocked.next_token("ACME-FRIDGE").secret() == TOKENS[1]
    with pytest.raises(VaultError, match="the vault holds no activation token for product ACME-KETTLE"):
        unlocked.next_token("ACME-KETTLE")
    assert [status.product for status in vault(token_repository).statuses("ACME-FRIDGE")] == ["ACME-FRIDGE"]


def test_wrong_passphrase(token_repository: InMemoryTokenRepository) -> None:
    vault(token_repository).import_tokens(PASSPHRASE, PRODUCT, file_lines(TOKENS[0]))
    before = token_repository.state()
    with pytest.raises(VaultError, match=r"^wrong vault passphrase$"):
        vault(token_repository).unlocked("another passphrase")
    with pytest.raises(VaultError, match=r"^wrong vault passphrase$"):
        vault(token_repository).import_tokens("another passphrase", PRODUCT, file_lines(TOKENS[1]))
    assert token_repository.state() == before


def test_unlocking_an_empty_vault(token_repository: InMemoryTokenRepository) -> None:
    with pytest.raises(VaultError, match="the token vault is empty"):
        vault(token_repository).unlocked(PASSPHRASE)


def test_short_passphrase_refused_at_creation(token_repository: InMemoryTokenRepository) -> None:
    with pytest.raises(VaultError, match="at least 8 characters"):
        vault(token_repository).import_tokens("short", PRODUCT, file_lines(TOKENS[0]))
    assert token_repository.state() == (None, (), ())


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "product"])
def test_tampered_token_is_a_clear_error_and_changes_nothing(
    token_repository: InMemoryTokenRepository, field: str
) -> None:
    vault(token_repository).import_tokens(PASSPHRASE, PRODUCT, file_lines(TOKENS[0]))
    sealed = token_repository.tokens[0]
    if field == "ciphertext":
        damaged = replace(sealed, ciphertext=bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:])
    elif field == "nonce":
        damaged = replace(sealed, nonce=bytes(12))
    else:
        damaged = replace(sealed, product="ACME-FRIDGE")  # moved to another product's pool
    token_repository.tokens[0] = damaged
    before = token_repository.state()

    unlocked = vault(token_repository).unlocked(PASSPHRASE)
    with pytest.raises(VaultError) as caught:
        unlocked.next_token(damaged.product)
    assert str(caught.value) == (
        f"activation token {sealed.fingerprint} of {damaged.product} cannot be decrypted: "
        "its stored ciphertext, nonce or product was altered"
    )
    assert TOKENS[0] not in str(caught.value)
    assert token_repository.state() == before


def test_bad_lines_are_refused_by_number_without_their_text(token_repository: InMemoryTokenRepository) -> None:
    secretish = "Zq8J rT1bX4mN6pQ2wE9vK3aL"
    lines = [TOKENS[0], secretish, "abc", "x" * 600, "Zq8JrT1bX4mN6pQ2wE9vK3aL$$", TOKENS[1]]
    with pytest.raises(VaultError) as caught:
        vault(token_repository).import_tokens(PASSPHRASE, PRODUCT, lines)
    message = str(caught.value)
    assert message == (
        "the token file was not imported: line 2: contains whitespace inside the token; "
        "line 3: too short for a token (3 characters, at least 16); "
        "line 4: too long for a token (600 characters, at most 512); "
        "line 5: contains characters a token cannot have (letters, digits and ._~+/=:- only)"
    )
    for text in (*TOKENS, secretish, "Zq8J", "rT1bX4"):
        assert text not in message
    assert token_repository.state() == (None, (), ()), "a bad file must not even create the vault"


def test_empty_file_and_bad_arguments(token_repository: InMemoryTokenRepository) -> None:
    with pytest.raises(VaultError, match="holds no tokens"):
        vault(token_repository).import_tokens(PASSPHRASE, PRODUCT, ["# nothing", ""])
    with pytest.raises(VaultError, match="use limit must be at least 1"):
        vault(token_repository).import_tokens(PASSPHRASE, PRODUCT, [TOKENS[0]], use_limit=0)
    with pytest.raises(VaultError, match="'toaster' is not a product code"):
        vault(token_repository).import_tokens(PASSPHRASE, "toaster", [TOKENS[0]])
    assert token_repository.state() == (None, (), ())


def test_many_bad_lines_are_summarized() -> None:
    with pytest.raises(VaultError, match="and 5 more line"):
        parse_token_lines(["bad"] * 15)


def test_token_text_never_appears_in_reprs_errors_or_logs(
    token_repository: InMemoryTokenRepository, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []

    summary = vault(token_repository).import_tokens(PASSPHRASE, PRODUCT, file_lines(*TOKENS), use_limit=1)
    shown += [repr(summary), str(summary)]
    shown += [repr(status) for status in vault(token_repository).statuses()]
    shown += [repr(sealed) for sealed in token_repository.tokens]
    unlocked = vault(token_repository).unlocked(PASSPHRASE)
    shown += [repr(unlocked), str(unlocked)]
    for attempt in range(len(TOKENS)):
        token = unlocked.next_token(PRODUCT)
        assert isinstance(token, ActivationToken)
        shown += [repr(token), str(token), f"{token}", f"{token!s}", repr([token]), repr({"token": token})]
        unlocked.reserve_use(token, attempt)
        with pytest.raises(TypeError) as not_pickled:
            pickle.dumps(token)
        shown.append(str(not_pickled.value))
    with pytest.raises(VaultError) as exhausted:
        unlocked.next_token(PRODUCT)
    shown.append(str(exhausted.value))
    with pytest.raises(VaultError) as duplicate_line:
        vault(token_repository).import_tokens(PASSPHRASE, PRODUCT, [TOKENS[0] + " " + TOKENS[1]])
    shown.append(str(duplicate_line.value))

    shown += [record.getMessage() for record in caplog.records]
    shown.append(caplog.text)
    everything = "\n".join(shown)
    for token_text in TOKENS:
        assert token_text not in everything
    assert FINGERPRINT_PREFIX in everything  # fingerprints are what is shown instead
