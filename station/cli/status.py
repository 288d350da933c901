"""``station status``: where this station's records and keys are, its line, and its mode.

Reads settings and files only: it opens no token and asks for no PIN or passphrase, so an
auditor or a supervisor can run it anywhere to see where each key lives.
"""

from __future__ import annotations

import argparse
from typing import Any

from station.cli.options import add_store_options, station_options
from station.cli.output import add_json_option, json_wanted, print_document
from station.config.paths import configured_station_name
from station.operations.station import StationFactory

EXIT_OK = 0


def register(subparsers: Any) -> None:
    status = subparsers.add_parser(
        "status", help="the station's name, data directory, database, mode and where each of its keys lives"
    )
    add_store_options(status, uses_database=False)
    add_json_option(status)
    status.set_defaults(handler=_status)


def _status(arguments: argparse.Namespace, root: StationFactory) -> int:
    options = station_options(arguments)
    paths = root.paths(options)
    keys = root.custody(options).describe()
    line = root.settings(options).line
    document = {"station": configured_station_name(), "data_dir": str(paths.data_dir), "database": paths.db_url,
                **keys, "line_database": line.database_url,
                "line_policy": line.policy if line.configured else None}  # fmt: skip
    if json_wanted(arguments):
        print_document(document)
        return EXIT_OK
    print(f"station      {document['station']}")
    print(f"data         {document['data_dir']}")
    print(f"database     {document['database']}")
    print(f"mode         {document['mode']}")
    print(f"station key  {document['station_key']}")
    print(f"CA key       {document['ca_key']}")
    print(f"vault key    {document['vault_key']}")
    if line.configured:
        print(f"line         {line.database_url} (policy {line.policy}, grace {line.grace_seconds} s; "
              "station line status says whether it answers)")
    else:
        print("line         none: this station's records are its own")
    return EXIT_OK
