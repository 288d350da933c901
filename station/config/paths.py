"""Where the station keeps its files, from the environment or the user's data directory.

One place decides every path so that the CLI, the GUI and the tests agree. Nothing here
holds a secret: passphrases come from prompts or environment variables at the moment of use.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import platformdirs

DATA_DIR_ENVIRONMENT_VARIABLE = "STATION_DATA_DIR"
DB_URL_ENVIRONMENT_VARIABLE = "STATION_DB_URL"
CA_PASSPHRASE_ENVIRONMENT_VARIABLE = "STATION_CA_PASSPHRASE"
VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE = "STATION_VAULT_PASSPHRASE"
# A person's recipe-signing key file (station people key new, station recipe sign / approve).
SIGNING_KEY_PASSPHRASE_ENVIRONMENT_VARIABLE = "STATION_SIGNING_KEY_PASSPHRASE"
BACKUP_PASSPHRASE_ENVIRONMENT_VARIABLE = "STATION_BACKUP_PASSPHRASE"  # station backup / restore
STATION_NAME_ENVIRONMENT_VARIABLE = "STATION_NAME"
DATABASE_FILE_NAME = "station.db"  # the SQLite database in the data directory, unless a URL names another


def configured_station_name() -> str:
    """This station's name in the records: ``STATION_NAME`` or the host name."""
    return os.environ.get(STATION_NAME_ENVIRONMENT_VARIABLE) or socket.gethostname()


@dataclass(frozen=True)
class StationPaths:
    """The station's files. ``db_url`` is any SQLAlchemy URL; SQLite by default."""

    data_dir: Path
    db_url: str

    @classmethod
    def from_environment(cls, data_dir: Path | None = None, db_url: str | None = None) -> StationPaths:
        if data_dir is None:
            configured = os.environ.get(DATA_DIR_ENVIRONMENT_VARIABLE)
            data_dir = Path(configured) if configured else platformdirs.user_data_path("provisioning-station")
        if db_url is None:
            db_url = os.environ.get(DB_URL_ENVIRONMENT_VARIABLE) or f"sqlite:///{data_dir / DATABASE_FILE_NAME}"
        return cls(data_dir=data_dir, db_url=db_url)

    @property
    def ca_dir(self) -> Path:
        """Factory CA certificate and its passphrase-encrypted private key."""
        return self.data_dir / "ca"

    @property
    def station_key_path(self) -> Path:
        """The station's Ed25519 key that signs audit entries and exports (mode 0600)."""
        return self.data_dir / "station-key.pem"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"
