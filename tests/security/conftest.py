from __future__ import annotations

from pathlib import Path

import pytest

from station.security.ca import FactoryCa, init_ca

from .memory_tokens import InMemoryTokenRepository
from .support import CA_PASSPHRASE


@pytest.fixture
def token_repository() -> InMemoryTokenRepository:
    return InMemoryTokenRepository()


@pytest.fixture
def ca(tmp_path: Path) -> FactoryCa:
    return init_ca(tmp_path / "ca", CA_PASSPHRASE, "Test Factory CA", validity_days=3650)
