"""``station sim ...``: create, serve, inspect and break simulated units.

The simulated units are what the station's tests, its demo and operator training run on;
the same commands let an engineer reproduce a line problem on a desk.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

from station.cli.output import add_json_option, json_wanted, print_document, print_event
from station.domain.errors import SimulationError
from station.operations.station import StationFactory
from station.sim.chips import DEFAULT_TARGET, TARGETS
from station.sim.units import (
    BUILD_CODES,
    CONSOLE_BEHAVIOURS,
    BuildCode,
    Faults,
    SimUnit,
    SimUnitStore,
    default_sim_dir,
    lock_unit_as_delivered,
)

FAULT_KINDS = (
    "drop-writes",
    "transfer-fault",
    "disconnect-after",
    "algo-hang",
    "console",
    "self-reset-after",
    "locked",
    "clear",
)



def _regions(unit: SimUnit) -> list[tuple[str, int, int]]:
    """The product's flash regions (and UICR or option bytes) of the unit's chip family."""
    return [(name, window.base, window.size) for name, window in unit.chip.product.regions()]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sim", help="simulated units: create, serve consoles, inspect, inject faults")
    parser.add_argument(
        "--sim-dir", type=Path, default=None, help="simulation state directory (default: STATION_SIM_DIR or user data)"
    )
    commands = parser.add_subparsers(dest="sim_command", metavar="SIM_COMMAND", required=True)

    create = commands.add_parser("create", help="create blank units and print their probe ids")
    create.add_argument("--count", type=int, default=1, help="how many units (default 1)")
    create.add_argument(
        "--timing", type=float, default=0.0, help="physical timing factor: 0 instant, 1 datasheet speed (default 0)"
    )
    create.add_argument(
        "--target",
        choices=TARGETS,
        default=DEFAULT_TARGET,
        help=f"the chip family, as pyOCD names its target (default {DEFAULT_TARGET})",
    )
    create.add_argument(
        "--build-code",
        choices=BUILD_CODES,
        default=None,
        help="nRF52840 only: APPROTECT generation: legacy (default), or hardened (arrives with its debug "
        "port closed, closes it at every reset unless UICR holds HwDisabled and the firmware opens it)",
    )
    add_json_option(create)
    create.set_defaults(handler=_create)

    serve = commands.add_parser("serve", help="serve every unit's console on a pty until stopped")
    add_json_option(serve, stream=True)
    serve.set_defaults(handler=_serve)

    host = commands.add_parser(
        "host",
        help="serve probe sessions and consoles from their own processes until stopped",
        description=(
            "Runs simulated units outside the processes that use them, as real probes and chips do their "
            "own work: every pyOCD session on a sim: probe is served by a process of its own (forked ahead, "
            "so that a connect never waits for a fork), and every "
            "unit's console by another. The demo and the benchmarks start one themselves."
        ),
    )
    host.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="also stop when standard input closes (for a program that starts the host with a pipe there)",
    )
    add_json_option(host, stream=True)
    host.set_defaults(handler=_host)

    show = commands.add_parser("show", help="lock state, lifetime flags, activation and region hashes of a unit")
    show.add_argument("unit", help="unit id or probe id (unit-0001 or sim:unit-0001)")
    add_json_option(show)
    show.set_defaults(handler=_show)

    listing = commands.add_parser("list", help="list units with their state in one line each")
    add_json_option(listing)
    listing.set_defaults(handler=_list)

    fault = commands.add_parser(
        "fault",
        help="inject a fault into a unit",
        description=(
            "Kinds: drop-writes START END (flash writes in [START, END) silently dropped); "
            "transfer-fault ADDRESS; disconnect-after BYTES [SESSIONS] (in every session, or in the next SESSIONS); "
            "algo-hang; console normal|silent|garbage; "
            "self-reset-after TRANSFERS; locked (the unit arrives locked: nRF52840 APPROTECT set, STM32 RDP level 1); "
            "clear (all faults off)."
        ),
    )
    fault.add_argument("unit", help="unit id or probe id")
    fault.add_argument("kind", choices=FAULT_KINDS)
    fault.add_argument("values", nargs="*", help="the fault's arguments (numbers may be hex, e.g. 0x20000)")
    add_json_option(fault)
    fault.set_defaults(handler=_fault)

    dms = commands.add_parser("dms", help="the simulated device-management service")
    dms_commands = dms.add_subparsers(dest="dms_command", metavar="DMS_COMMAND", required=True)
    add_product = dms_commands.add_parser("add-product", help="create a production product")
    add_product.add_argument("code", help="product code, e.g. ACME-TOASTER")
    add_product.add_argument("--token-file", type=Path, required=True, help="activation tokens, one per line")
    add_product.add_argument("--ca", type=Path, action="append", default=[], help="trusted factory CA certificate PEM")
    add_product.add_argument("--development", action="store_true", help="a development product, not production")
    add_json_option(add_product)
    add_product.set_defaults(handler=_dms_add_product)
    dms_show = dms_commands.add_parser("show", help="products and the devices activated to them")
    add_json_option(dms_show)
    dms_show.set_defaults(handler=_dms_show)


def _store(arguments: argparse.Namespace) -> SimUnitStore:
    return SimUnitStore(arguments.sim_dir or default_sim_dir())


def _create(arguments: argparse.Namespace, root: StationFactory) -> int:
    if arguments.count < 1:
        raise SimulationError("--count must be at least 1")
    target: str = arguments.target
    if arguments.build_code is not None and target != DEFAULT_TARGET:
        raise SimulationError(f"--build-code is the nRF52840's APPROTECT generation; {target} has none")
    build_code: BuildCode = arguments.build_code or "legacy"
    store = _store(arguments)
    created: list[dict[str, object]] = []
    for _ in range(arguments.count):
        unit = store.create_unit(timing_factor=arguments.timing, build_code=build_code, target=target)
        if json_wanted(arguments):
            entry: dict[str, object] = {
                "unit": unit.unit_id,
                "probe_id": unit.probe_id,
                "target": target,
                "timing_factor": arguments.timing,
            }
            if target == DEFAULT_TARGET:
                entry["build_code"] = build_code
            created.append(entry)
        else:
            print(unit.probe_id)
        unit.close()
    if json_wanted(arguments):
        print_document({"units": created})
    return 0


def _serve(arguments: argparse.Namespace, root: StationFactory) -> int:
    from station.sim.console import ConsoleServer
    from station.sim.dms import SimDeviceManagement
    from station.sim.host import block_termination_signals, wait_for_termination

    store = _store(arguments)
    store.root.mkdir(parents=True, exist_ok=True)
    announced: set[str] = set()
    block_termination_signals()
    with ConsoleServer(store, SimDeviceManagement(store.root)) as server:
        while True:
            for unit_id, path in sorted(server.ports().items()):
                if unit_id not in announced:
                    announced.add(unit_id)
                    if json_wanted(arguments):
                        print_event("console", unit=unit_id, probe_id=f"sim:{unit_id}", port=path)
                    else:
                        print(f"sim:{unit_id} {path}", flush=True)
            if wait_for_termination(0.2):
                break
    return 0


def _host(arguments: argparse.Namespace, root: StationFactory) -> int:
    from station.sim.host import run_host

    root_dir = _store(arguments).root
    announce = (lambda: print_event("ready", sim_dir=root_dir)) if json_wanted(arguments) else None
    return run_host(root_dir, exit_with_stdin=arguments.exit_with_stdin, announce=announce)


def _parse_number(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError as error:
        raise SimulationError(f"{text!r} is not a number") from error


def _region_summary(unit: SimUnit, address: int, size: int) -> str:
    data = unit.read_nvm(address, size)
    if data == b"\xff" * size:
        return "erased"
    return "sha256 " + hashlib.sha256(data).hexdigest()


def _show(arguments: argparse.Namespace, root: StationFactory) -> int:
    from station.sim.dms import SimDeviceManagement

    store = _store(arguments)
    unit = store.open_unit(arguments.unit)
    try:
        info = unit.reload()
        dms = SimDeviceManagement(store.root)
        lock_state, pending = unit.chip.lock_words(unit)
        nrf = info.target == DEFAULT_TARGET
        activation = info.activated_product or "not activated"
        service_product = dms.product_of(info.device_id)
        rows = [
            ("unit", info.unit_id),
            ("probe", unit.probe_id),
            ("target", f"{info.target} ({unit.chip.part_name})"),
            ("device id", info.device_id_text),
            *([("build code", f"{info.build_code} APPROTECT")] if nrf else []),
            ("lock", lock_state),
            ("ever erased", "YES - development unit for life" if info.ever_erased else "no"),
            ("development unit (service)", "yes" if dms.is_development_unit(info.device_id) else "no"),
            ("activation (unit)", activation),
            ("activation (service)", service_product or "not in any product directory"),
            ("boot count", str(info.boot_count)),
            ("timing factor", f"{info.timing_factor:g}"),
            ("faults", ", ".join(info.faults.active) or "none"),
        ]
        rows += [
            (f"region {name} 0x{address:08X}+0x{size:X}", _region_summary(unit, address, size))
            for name, address, size in _regions(unit)
        ]
        if json_wanted(arguments):
            print_document({
                "unit": info.unit_id, "probe_id": unit.probe_id, "target": info.target,
                "device_id": info.device_id_text, "build_code": info.build_code if nrf else None,
                "locked": info.protected, "lock_state": lock_state, "lock_pending": pending,
                "protection_level": info.protection_level if not nrf else None,
                "ever_erased": info.ever_erased,
                "development_unit_in_service": dms.is_development_unit(info.device_id),
                "activated_product": info.activated_product, "service_product": service_product,
                "boot_count": info.boot_count, "timing_factor": info.timing_factor, "faults": list(info.faults.active),
                "regions": [{"name": name, "address": address, "size": size,
                             "content": _region_summary(unit, address, size)}
                            for name, address, size in _regions(unit)],
            })  # fmt: skip
            return 0
        width = max(len(label) for label, _ in rows)
        for label, value in rows:
            print(f"{label:<{width}}  {value}")
    finally:
        unit.close()
    return 0


def _list(arguments: argparse.Namespace, root: StationFactory) -> int:
    store = _store(arguments)
    listed: list[dict[str, object]] = []
    for unit_id in store.unit_ids():
        unit = store.open_unit(unit_id)
        info = unit.reload()
        if json_wanted(arguments):
            listed.append({"unit": unit_id, "probe_id": unit.probe_id, "target": info.target,
                           "device_id": info.device_id_text,
                           "timing_factor": info.timing_factor, "locked": info.protected,
                           "ever_erased": info.ever_erased, "activated_product": info.activated_product,
                           "faults": list(info.faults.active)})  # fmt: skip
            unit.close()
            continue
        flags = ["locked" if info.protected else "unlocked"]
        if info.ever_erased:
            flags.append("ever-erased")
        if info.activated_product:
            flags.append(f"activated:{info.activated_product}")
        flags += info.faults.active
        timing = f"timing {info.timing_factor:g}"
        print(f"{unit.probe_id}  {info.target}  {info.device_id_text}  {timing}  {' '.join(flags)}")
        unit.close()
    if json_wanted(arguments):
        print_document({"units": listed})
    return 0


def _fault(arguments: argparse.Namespace, root: StationFactory) -> int:
    store = _store(arguments)
    unit = store.open_unit(arguments.unit)
    values: list[str] = arguments.values
    kind: str = arguments.kind
    expected = {"drop-writes": 2, "transfer-fault": 1, "disconnect-after": 1, "console": 1, "self-reset-after": 1}
    count = expected.get(kind, 0)
    if len(values) != count and not (kind == "disconnect-after" and len(values) == 2):
        raise SimulationError(f"fault {kind} takes {count} value(s), got {len(values)}")
    try:
        with unit.locked():
            faults = unit.info.faults
            if kind == "drop-writes":
                start, end = (_parse_number(value) for value in values)
                flash = unit.chip.layout.flash
                if not flash.base <= start < end <= flash.end:
                    raise SimulationError("drop-writes range must lie within flash and have START < END")
                faults.drop_writes = (start, end)
            elif kind == "transfer-fault":
                faults.transfer_fault_address = _parse_number(values[0])
            elif kind == "disconnect-after":
                faults.disconnect_after_bytes = _parse_number(values[0])
                faults.disconnect_sessions = _parse_number(values[1]) if len(values) == 2 else None
            elif kind == "algo-hang":
                faults.algo_hang = True
            elif kind == "console":
                if values[0] not in CONSOLE_BEHAVIOURS:
                    raise SimulationError(f"console behaviour must be one of {', '.join(CONSOLE_BEHAVIOURS)}")
                faults.console = values[0]
            elif kind == "self-reset-after":
                faults.reset_after_transfers = _parse_number(values[0])
            elif kind == "locked":
                lock_unit_as_delivered(unit)
            elif kind == "clear":
                unit.info.faults = Faults()
        if json_wanted(arguments):
            print_document({"probe_id": unit.probe_id, "faults": list(unit.info.faults.active),
                            "locked": unit.info.protected})
        else:
            print(f"{unit.probe_id}: faults: {', '.join(unit.info.faults.active) or 'none'}"
                  + ("; locked" if unit.info.protected else ""))
    finally:
        unit.close()
    return 0


def _dms_add_product(arguments: argparse.Namespace, root: StationFactory) -> int:
    from station.sim.dms import SimDeviceManagement

    try:
        tokens = [line.strip() for line in arguments.token_file.read_text(encoding="utf-8").splitlines()]
        certificates = [path.read_bytes() for path in arguments.ca]
    except OSError as error:
        raise SimulationError(f"cannot read {error.filename}: {error.strerror}") from error
    service = SimDeviceManagement(_store(arguments).root)
    service.add_product(
        arguments.code, [token for token in tokens if token], certificates, production=not arguments.development
    )
    count = sum(1 for t in tokens if t)
    if json_wanted(arguments):
        print_document({"product": arguments.code, "tokens": count, "trusted_cas": len(certificates),
                        "production": not arguments.development})
    else:
        print(f"product {arguments.code}: {count} token(s), {len(certificates)} trusted CA(s)")
    return 0


def _dms_show(arguments: argparse.Namespace, root: StationFactory) -> int:
    from station.sim.dms import SimDeviceManagement

    service = SimDeviceManagement(_store(arguments).root)
    if json_wanted(arguments):
        print_document({"products": [
            {"code": product.code, "production": product.production, "tokens": product.token_count,
             "trusted_ca_fingerprints": list(product.trusted_ca_fingerprints),
             "devices": [{"device_id": f"{device.device_id:016X}", "endpoint_name": device.endpoint_name,
                          "certificate_fingerprint": device.certificate_fingerprint,
                          "activated_at": device.activated_at} for device in service.devices_in(product.code)]}
            for product in service.products()]})  # fmt: skip
        return 0
    for product in service.products():
        kind = "production" if product.production else "development"
        print(
            f"{product.code} ({kind}): {product.token_count} token(s), "
            f"{len(product.trusted_ca_fingerprints)} trusted CA(s)"
        )
        for device in service.devices_in(product.code):
            print(
                f"  {device.device_id:016X}  {device.endpoint_name}  cert {device.certificate_fingerprint[:16]}…  "
                f"{device.activated_at}"
            )
    return 0
