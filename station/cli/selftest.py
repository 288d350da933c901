"""``station selftest``: the golden-unit station self-test, at the start of a shift.

The golden unit goes on a slot's probe and console; the station reads its device id, images,
lock state and console identity, compares them with the recipe and with what was recorded when
the unit was marked golden, and records the result (``station.operations.selftests``). It
prints one line per check and ends with ``PASS selftest <serial>`` (exit 0) or ``FAIL selftest
<serial> (self-test N): <what differed>`` (exit 1); a unit that is not a golden unit of the
recipe is refused before it is touched (exit 2). With ``--json``: one document.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from station.cli.options import add_store_options
from station.cli.output import add_json_option, json_wanted, print_document
from station.cli.provision import station_for_one_slot
from station.domain.selftest import SelfTestRecord
from station.domain.text import escape_text, token
from station.operations.station import StationFactory

EXIT_OK, EXIT_FAILED = 0, 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "selftest",
        help="the station self-test on a golden unit: device id, images, lock and console against its reference",
        description="Put the golden unit on the probe and console given, and run this at the start of a shift. "
        "A recipe whose [selftest] requires it refuses production scans until a self-test passed.",
    )
    parser.add_argument("--recipe", type=Path, required=True, help="the product's recipe (TOML)")
    parser.add_argument("--probe", required=True, help="pyOCD probe unique id of the slot holding the golden unit")
    parser.add_argument("--console", required=True, help="the golden unit's serial console port")
    parser.add_argument("--operator", required=True, help="who runs the self-test (recorded)")
    parser.add_argument("--serial", default=None,
                        help="the golden unit's serial (default: the recipe's golden unit marked here)")
    add_store_options(parser)
    add_json_option(parser)
    parser.set_defaults(handler=_selftest)


def _selftest(arguments: argparse.Namespace, root: StationFactory) -> int:
    with station_for_one_slot(root, arguments, arguments.probe, arguments.console) as (station, slot):
        job = station.selftests.selftest_job(slot, arguments.operator, arguments.serial)  # refusals come first
        record = job.run()
    if json_wanted(arguments):
        print_document(record.to_json())
    else:
        print(format_selftest(record), flush=True)
    return EXIT_OK if record.passed else EXIT_FAILED


def format_selftest(record: SelfTestRecord) -> str:
    """The self-test as the terminal shows it: a line per check, then the verdict line."""
    lines = [f"self-test {record.id} of golden unit {token(record.serial)} on probe {token(record.probe_id)} "
             f"at {record.station}"]  # fmt: skip
    width = max(len(check.name) for check in record.checks)
    lines += [f"  {check.name:<{width}}  {check.outcome.value:<6}  {escape_text(check.detail)}"
              for check in record.checks]  # fmt: skip
    if record.passed:
        lines.append(f"PASS selftest {token(record.serial)}")
    else:
        lines.append(f"FAIL selftest {token(record.serial)} (self-test {record.id}): {escape_text(record.reason)}")
    return "\n".join(lines)
