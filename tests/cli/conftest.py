from __future__ import annotations

from pathlib import Path

import pytest

from station.config import (
    CA_PASSPHRASE_ENVIRONMENT_VARIABLE,
    DATA_DIR_ENVIRONMENT_VARIABLE,
    DB_URL_ENVIRONMENT_VARIABLE,
    VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE,
)


@pytest.fixture
def station_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh station data directory; no passphrases in the environment unless a test sets them."""
    directory = tmp_path / "station-data"
    monkeypatch.setenv(DATA_DIR_ENVIRONMENT_VARIABLE, str(directory))
    secrets = (CA_PASSPHRASE_ENVIRONMENT_VARIABLE, VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE)
    for name in (DB_URL_ENVIRONMENT_VARIABLE, *secrets):
        monkeypatch.delenv(name, raising=False)
    return directory
