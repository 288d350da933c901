"""``station report reconcile [--work-order WO ...] [--json]``: does every work order add up?

Per work order: units passed, credentials issued / injected / voided, token uses, serials, and
every record that does not reconcile, named by serial. Exit 0 when everything reconciles, 1
when anything does not, 2 for an unknown work order (or another usage error). The JSON shape
is ``station.reports.reconcile``'s; the rule is ``station.domain.reconciliation``'s. Serials
and work-order codes come from outside: they are printed escaped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from station.cli.options import add_store_options, station_options
from station.cli.output import add_json_option, json_wanted, print_document
from station.domain.reconciliation import Reconciliation
from station.domain.text import escape_text, token
from station.operations.station import StationFactory

EXIT_RECONCILED = 0
EXIT_MISMATCH = 1


def register_reconcile(commands: Any) -> None:
    """Add ``reconcile`` to the ``station report`` actions."""
    parser = commands.add_parser(
        "reconcile",
        help="per work order: units passed, credentials, token uses, serials, and every mismatch (exit 1 if any)",
    )
    parser.add_argument("--work-order", action="append", default=[], metavar="WO",
                        help="this work order (repeatable); default: every work order on record")
    add_json_option(parser)
    parser.add_argument("--serials", action="store_true", help="also list the passed serials (the JSON always does)")
    add_store_options(parser)
    parser.set_defaults(handler=_reconcile)


def _reconcile(arguments: argparse.Namespace, root: StationFactory) -> int:
    from station.reports.reconcile import reconcile_work_orders, reconciliation_json

    database = root.open_database(station_options(arguments))
    try:
        results = reconcile_work_orders(database, arguments.work_order)
    finally:
        database.dispose()
    if json_wanted(arguments):
        print_document(reconciliation_json(results))
    else:
        print_reconciliation(results, serials=arguments.serials)
    return EXIT_RECONCILED if all(result.reconciled for result in results) else EXIT_MISMATCH


def print_reconciliation(
    results: Sequence[Reconciliation], *, serials: bool = False, out: TextIO | None = None
) -> None:
    """The text report: a block per work order, then one verdict line."""
    out = out or sys.stdout
    if not results:
        print("no work orders on record", file=out)
        return
    for result in results:
        for line in _work_order_lines(result, serials=serials):
            print(line, file=out)
        print(file=out)
    failing = [result for result in results if not result.reconciled]
    if failing:
        names = ", ".join(token(result.work_order.code) for result in failing)
        print(f"NOT RECONCILED: {len(failing)} of {len(results)} work order(s): {names}", file=out)
    else:
        print(f"RECONCILED: {len(results)} work order(s)", file=out)


def _work_order_lines(result: Reconciliation, *, serials: bool) -> list[str]:
    order = result.work_order
    quantity = "no quantity set" if order.quantity is None else f"quantity {order.quantity}"
    lines = [
        f"work order {token(order.code)}  product {token(order.product or '-')}  {quantity}",
        f"  units passed   {result.units_passed}"
        + (f" (of which {result.reworked_after_pass} erased by rework since)" if result.reworked_after_pass else ""),
        f"  serials        {result.serials_seen} seen: {result.units_passed} passed, {result.units_in_progress} "
        f"in progress, {result.units_not_passed} not passed",
        f"  credentials    {result.credentials_issued} issued: {result.credentials_injected} injected, "
        f"{result.credentials_voided} voided, {result.credentials_reserved} reserved",
        f"  token uses     {result.token_uses} ({result.activations} activations; "
        f"{result.token_uses_released} more given back)",
    ]
    allocated = result.serials
    if allocated is not None:
        lines.append(f"  allocated      {allocated.leased} leased, {allocated.free} free: {allocated.used} used, "
                     f"{allocated.returned} returned, {allocated.scrapped} scrapped, {allocated.allocated} allocated, "
                     f"{allocated.bound} bound")  # fmt: skip
    if serials:
        lines.append("  passed serials " + (" ".join(token(serial) for serial in result.passed_serials) or "-"))
    if result.reconciled:
        lines.append("  reconciled")
        return lines
    lines.append(f"  {len(result.mismatches)} mismatch(es)")
    for mismatch in result.mismatches:
        where = "" if mismatch.serial is None else f" {token(mismatch.serial)}"
        lines.append(f"  MISMATCH {mismatch.kind.value}{where}: {escape_text(mismatch.detail)}")
    return lines
