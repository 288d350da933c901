"""``station work-order set WO --quantity N``: how many units a work order may make;
``serial-rule WO --template T --first N --last M``, ``serials WO`` and ``scrap-serial SERIAL``: the
serials it allocates.

The quantity is enforced when a unit's attempt opens, on every station of the line: the unit
after the last is refused before it is touched (``FAIL <serial> scan WORK_ORDER_COMPLETE``).
Setting it is a supervisor's decision, approved with their PIN and audited
(``station.operations.supervision``). ``station report reconcile`` checks the result.
"""

from __future__ import annotations

import argparse
from typing import Any

from station.cli.options import add_store_options, station_options
from station.cli.output import add_json_option, json_wanted, print_document
from station.cli.pins import add_supervisor_options, obtain_pin
from station.domain.serial_numbers import parse_numbering
from station.domain.text import escape_text, token
from station.operations.serials import serial_allocator
from station.operations.station import StationFactory

EXIT_OK = 0


def _quantity(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"a work order makes at least 1 unit, not {value}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("work-order", help="work orders: how many units each may make")
    commands = parser.add_subparsers(dest="work_order_command", metavar="ACTION", required=True)
    setter = commands.add_parser(
        "set", help="supervisor: cap a work order (created if new) at N units; the unit after the last is refused"
    )
    setter.add_argument("work_order", metavar="WO", help="the work order's code")
    setter.add_argument("--quantity", required=True, type=_quantity, metavar="N",
                        help="units that may pass in it (not below those passed or in progress already)")
    setter.add_argument("--product", default=None, metavar="CODE", help="the product it is for (a new work order)")
    add_supervisor_options(setter, "deciding")
    add_store_options(setter)
    add_json_option(setter)
    setter.set_defaults(handler=_set)
    _register_serials(commands)


def _register_serials(commands: Any) -> None:
    rule = commands.add_parser(
        "serial-rule", help="supervisor: the serials a work order allocates to units without a label"
    )
    rule.add_argument("work_order", metavar="WO", help="the work order's code (created if new)")
    rule.add_argument("--template", required=True, metavar="TEXT",
                      help="e.g. ACME{yy}{ww}{seq:06d}: ISO year and week of allocation, the running number")
    rule.add_argument("--first", required=True, type=int, metavar="N", help="the range's first running number")
    rule.add_argument("--last", required=True, type=int, metavar="N", help="the range's last running number")
    rule.add_argument("--check-digit", choices=("none", "gs1"), default="none",
                      help="append the GS1 mod-10 check digit of the serial's digits")
    add_supervisor_options(rule, "deciding")
    add_store_options(rule)
    add_json_option(rule)
    rule.set_defaults(handler=_serial_rule)
    counts = commands.add_parser("serials", help="a work order's serials: leased, free, allocated, used, returned...")
    counts.add_argument("work_order", metavar="WO", help="the work order's code")
    add_store_options(counts)
    add_json_option(counts)
    counts.set_defaults(handler=_serials)
    scrap = commands.add_parser(
        "scrap-serial", help="supervisor: take a serial out for good (a label lost or torn), with the reason"
    )
    scrap.add_argument("serial", metavar="SERIAL", help="the serial (allocated, bound or returned; never a used one)")
    scrap.add_argument("--reason", required=True, help="why it is scrapped (recorded with it and in the audit log)")
    add_supervisor_options(scrap, "deciding")
    add_store_options(scrap)
    add_json_option(scrap)
    scrap.set_defaults(handler=_scrap)


def _scrap(arguments: argparse.Namespace, root: StationFactory) -> int:
    pin = obtain_pin(arguments.supervisor, arguments.pin_file)  # refused before anything is changed
    station = root.open_station(station_options(arguments))
    try:
        record = serial_allocator(station).scrap(arguments.serial.strip(), arguments.supervisor, pin, arguments.reason)
    finally:
        station.close()
    if json_wanted(arguments):
        print_document({"serial": record.serial, "work_order": record.work_order, "state": record.state.value,
                        "scrapped_by": record.scrapped_by, "reason": record.scrap_reason})  # fmt: skip
        return EXIT_OK
    print(f"serial {token(record.serial)} of work order {token(record.work_order)} scrapped by "
          f"{token(record.scrapped_by or '')}: {escape_text(record.scrap_reason or '')}")  # fmt: skip
    return EXIT_OK


def _set(arguments: argparse.Namespace, root: StationFactory) -> int:
    pin = obtain_pin(arguments.supervisor, arguments.pin_file)  # refused before anything is changed
    station = root.open_station(station_options(arguments))
    try:
        record, taken = station.supervision.set_work_order_quantity(
            arguments.work_order, arguments.quantity, arguments.supervisor, pin, product=arguments.product
        )
    finally:
        station.close()
    quantity = record.quantity or 0
    if json_wanted(arguments):
        print_document({"work_order": record.code, "quantity": quantity, "product": record.product,
                        "taken": taken, "places_left": max(quantity - taken, 0)})
        return EXIT_OK
    product = f", product {token(record.product)}" if record.product else ""
    print(f"work order {token(record.code)}: quantity {quantity}{product}; {taken} units passed or in progress, "
          f"{max(quantity - taken, 0)} places left")  # fmt: skip
    return EXIT_OK


def _serial_rule(arguments: argparse.Namespace, root: StationFactory) -> int:
    parse_numbering(arguments.template, arguments.first, arguments.last, arguments.check_digit)  # before the PIN
    pin = obtain_pin(arguments.supervisor, arguments.pin_file)
    station = root.open_station(station_options(arguments))
    try:
        numbering = serial_allocator(station).set_rule(
            arguments.work_order, arguments.template, arguments.first, arguments.last, arguments.supervisor, pin,
            check_digit=arguments.check_digit,
        )  # fmt: skip
    finally:
        station.close()
    if json_wanted(arguments):
        print_document({"work_order": arguments.work_order.strip(), "template": numbering.template,
                        "first": numbering.first, "last": numbering.last,
                        "check_digit": numbering.check_digit.value})  # fmt: skip
        return EXIT_OK
    print(f"work order {token(arguments.work_order.strip())}: serials {token(numbering.describe())}")
    return EXIT_OK


def _serials(arguments: argparse.Namespace, root: StationFactory) -> int:
    station = root.open_station(station_options(arguments))
    try:
        counts = serial_allocator(station).allocation_counts(arguments.work_order)
    finally:
        station.close()
    if json_wanted(arguments):
        print_document(counts.to_document())
        return EXIT_OK
    print(f"work order {token(counts.work_order)}: {counts.range_size} serials in its range, {counts.leased} leased "
          f"({counts.free} free in leases), {counts.unleased} not leased")
    print(f"  allocated {counts.allocated}, bound {counts.bound}, used {counts.used}, returned {counts.returned} "
          f"(returns {counts.returns}), scrapped {counts.scrapped}")
    return EXIT_OK
