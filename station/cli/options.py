"""The options every command that touches the station's files shares, and what they mean.

``--db`` and ``--data-dir`` only say what the person asked for; which database, data directory
and station key that makes is decided by the composition root (``StationFactory.paths``),
the same way for every command and for the window.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from station.operations.station import StationOptions


def add_store_options(parser: argparse.ArgumentParser, *, uses_database: bool = True) -> None:
    """``--db URL`` and ``--data-dir DIR``: every command that touches the station's files takes
    both, so that one pair of options (or ``$STATION_DATA_DIR``) points any command at a station.
    A command that needs only the data directory (the CA, the station key) still accepts ``--db``."""
    add_db_option(parser, uses_database=uses_database)
    add_data_dir_option(parser)


def add_db_option(parser: argparse.ArgumentParser, *, uses_database: bool = True) -> None:
    described = ("database URL (any SQLAlchemy URL; default: $STATION_DB_URL, else station.db in the data "
                 "directory); read-only commands never create it")
    if not uses_database:
        described = "database URL: not used by this command, which needs only the data directory"
    parser.add_argument("--db", metavar="URL", default=None, help=described)


def add_data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, default=None, metavar="DIR",
        help="station data directory: database, station key, CA, logs (default: $STATION_DATA_DIR)",
    )  # fmt: skip


def station_options(arguments: argparse.Namespace) -> StationOptions:
    """What this command line asked for (options a command does not have count as not given)."""
    return StationOptions(
        data_dir=getattr(arguments, "data_dir", None),
        db_url=getattr(arguments, "db", None),
        settings_path=getattr(arguments, "settings", None),
        verbose=bool(getattr(arguments, "verbose", False)),
    )
