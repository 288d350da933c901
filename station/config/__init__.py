"""The station's configuration: where its files are, and its settings file.

``StationPaths`` decides every path from the environment or the user's data directory;
``StationSettings`` is the station's TOML settings (recipe, work order, slots, scanner,
idle logout, PIN lock-out), read strictly: an unknown key is an error, never a default. The
composition root (``station.app``) reads both once, so every front end agrees on them.
Nothing here holds a secret.
"""

from station.config.paths import (
    CA_PASSPHRASE_ENVIRONMENT_VARIABLE,
    DATA_DIR_ENVIRONMENT_VARIABLE,
    DB_URL_ENVIRONMENT_VARIABLE,
    STATION_NAME_ENVIRONMENT_VARIABLE,
    VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE,
    StationPaths,
    configured_station_name,
)

__all__ = [
    "CA_PASSPHRASE_ENVIRONMENT_VARIABLE",
    "DATA_DIR_ENVIRONMENT_VARIABLE",
    "DB_URL_ENVIRONMENT_VARIABLE",
    "STATION_NAME_ENVIRONMENT_VARIABLE",
    "VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE",
    "StationPaths",
    "configured_station_name",
]
