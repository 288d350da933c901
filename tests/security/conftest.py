from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from station.security.ca import FactoryCa, init_ca
from station.security.pkcs11.token import module_is_loaded

from .memory_tokens import InMemoryTokenRepository
from .softhsm import SOFTHSM_MODULE, TOKEN_LABEL, SoftHsm, softhsm_missing, write_config
from .support import CA_PASSPHRASE


@pytest.fixture
def token_repository() -> InMemoryTokenRepository:
    return InMemoryTokenRepository()


@pytest.fixture
def ca(tmp_path: Path) -> FactoryCa:
    return init_ca(tmp_path / "ca", CA_PASSPHRASE, "Test Factory CA", validity_days=3650)


@pytest.fixture
def softhsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SoftHsm]:
    """A fresh SoftHSM2 token directory with one token (TOKEN_LABEL, USER_PIN) for this test."""
    missing = softhsm_missing()
    if missing is not None:
        pytest.skip(missing)
    config, tokens = write_config(tmp_path)
    monkeypatch.setenv("SOFTHSM2_CONF", str(config))
    hsm = SoftHsm(tokens)
    hsm.init_token(TOKEN_LABEL)
    yield hsm
    hsm.close_all()
    assert not module_is_loaded(SOFTHSM_MODULE), "a test left a token session open"
