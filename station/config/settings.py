"""The station settings: recipe, work order, slots, scanner, idle logout, PIN lock-outs, SWD clock,
when shifts start.

One TOML file per station (``station.toml`` in the data directory by default), written by the
engineer view and read at start by every front end. It is read with the same strict reader
as recipes (``station.domain.strict_toml``): an unknown key or a wrong type is refused with
the place it was found, so that a typo never silently falls back to a default on a
production line. Nothing secret lives here: passphrases and PINs are never settings.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from station.config.custody import CustodySettings, parse_custody, render_custody
from station.config.line import LineSettings, parse_line, render_line
from station.domain.errors import ConfigurationError, SettingsError
from station.domain.selftest import ShiftSchedule
from station.domain.strict_toml import StrictTable, toml_quoted, toml_type

SETTINGS_FILE_NAME = "station.toml"
SETTINGS_SCHEMA = 1
SLOT_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,23}$")
ROLES = ("operator", "supervisor", "engineer")


@dataclass(frozen=True)
class SlotSettings:
    """One place a unit sits: its debug probe, its console port, and an optional fixture label.

    Scanning ``fixture_code`` (the label on the fixture) sends the next unit scan to this slot.
    ``recipe``: the slot's own recipe, for a line whose slots make different products or hold
    different chip families; None: the station's.
    """

    name: str
    probe: str
    console: str
    fixture_code: str | None = None
    recipe: Path | None = None


@dataclass(frozen=True)
class ScannerSettings:
    """How scans reach the station.

    ``serial_port``: a USB-CDC scanner's port (``/dev/serial/by-id/...``), or None for keyboard
    emulation only. Keyboard-emulation scans are told from typing by the time between keys:
    every gap at most ``keystroke_gap_ms`` and at least ``minimum_length`` characters.
    The same scan again within ``debounce_seconds`` is ignored (a double trigger).
    """

    serial_port: str | None = None
    baud_rate: int = 9600
    keystroke_gap_ms: int = 50
    minimum_length: int = 4
    debounce_seconds: float = 1.5


@dataclass(frozen=True)
class IdleSettings:
    """Minutes without input after which each role is logged out (0: never)."""

    operator: int = 30
    supervisor: int = 5
    engineer: int = 10

    def minutes_for(self, role: str) -> int:
        return int(getattr(self, role, self.operator))


@dataclass(frozen=True)
class AccessSettings:
    """Wrong PINs in a row (``pin_attempts``) lock that person out for ``lockout_minutes``,
    in the GUI and the command line alike."""

    pin_attempts: int = 5
    lockout_minutes: int = 10

    @property
    def lockout(self) -> timedelta:
        return timedelta(minutes=self.lockout_minutes)


@dataclass(frozen=True)
class RecoverySettings:
    """An attempt opened on another host is settled by recovery only when its owner's heartbeat
    is older than ``owner_lease_seconds`` (on this host the station asks whether the process
    still runs). Every owner beats at a third of the lease."""

    owner_lease_seconds: int = 60

    @property
    def owner_lease(self) -> timedelta:
        return timedelta(seconds=self.owner_lease_seconds)


@dataclass(frozen=True)
class ProbeSettings:
    """The debug link. ``swd_frequency_hz`` is the SWD clock every probe session asks for (pyOCD's
    ``frequency`` session option): lower it on long cables or pogo-pin fixtures whose flash
    writes get lost (a verify mismatch). A probe runs at the nearest clock it supports."""

    swd_frequency_hz: int = 4_000_000


SWD_FREQUENCY_RANGE_HZ = (1_000, 50_000_000)  # what pyOCD's probes take, from slow fixtures to J-Link
_SHIFT_START = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


@dataclass(frozen=True)
class StationSettings:
    recipe: Path | None = None
    work_order: str | None = None
    slots: tuple[SlotSettings, ...] = ()
    scanner: ScannerSettings = field(default_factory=ScannerSettings)
    idle_logout: IdleSettings = field(default_factory=IdleSettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    recovery: RecoverySettings = field(default_factory=RecoverySettings)
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    # When the line's shifts start (local time): a recipe's self-test that is valid for "the
    # shift" counts from the latest start. Default: one shift a day, from midnight.
    shift: ShiftSchedule = field(default_factory=ShiftSchedule)
    kiosk: bool = False
    language: str | None = None  # "zh_CN", "es"; None: the system's
    sounds: bool = True
    custody: CustodySettings = field(default_factory=CustodySettings)
    line: LineSettings = field(default_factory=LineSettings)

    def with_slots(self, slots: tuple[SlotSettings, ...]) -> StationSettings:
        check_slots(slots)
        return replace(self, slots=slots)


def default_settings_path(data_dir: Path) -> Path:
    return data_dir / SETTINGS_FILE_NAME


def check_slots(slots: tuple[SlotSettings, ...]) -> None:
    """ConfigurationError unless every slot has a valid, unique name, a probe and a console."""
    seen_names: set[str] = set()
    seen_probes: set[str] = set()
    for slot in slots:
        if not SLOT_NAME_PATTERN.match(slot.name):
            raise ConfigurationError(f"slot name {slot.name!r} must be 1-24 letters, digits, spaces, '_', '.', '-'")
        if slot.name.casefold() in seen_names:
            raise ConfigurationError(f"two slots are named {slot.name!r}")
        seen_names.add(slot.name.casefold())
        if not slot.probe.strip():
            raise ConfigurationError(f"slot {slot.name} has no probe")
        if not slot.console.strip():
            raise ConfigurationError(f"slot {slot.name} has no console port")
        if slot.probe in seen_probes:
            raise ConfigurationError(f"probe {slot.probe} is given to two slots")
        seen_probes.add(slot.probe)


# ---- reading --------------------------------------------------------------------------------


def load_settings(path: Path) -> StationSettings:
    """The settings in ``path``; defaults when the file does not exist yet."""
    if not path.exists():
        return StationSettings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(str(path), f"cannot read the station settings: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(str(path), f"not valid TOML: {error}") from error
    return parse_settings(data, str(path), base_dir=path.parent)


def parse_settings(data: dict[str, Any], place: str, *, base_dir: Path) -> StationSettings:
    top = StrictTable(
        data, place, (),
        ["schema", "recipe", "work_order", "slots", "scanner", "idle_logout", "access", "recovery", "probe",
         "shift", "kiosk", "language", "sounds", "custody", "line"],
        error=SettingsError,
    )  # fmt: skip
    schema = top.integer("schema", required=False, default=SETTINGS_SCHEMA)
    if schema != SETTINGS_SCHEMA:
        raise top.error("schema", f"this station reads settings schema {SETTINGS_SCHEMA}, not {schema}")
    defaults = StationSettings()
    return StationSettings(
        recipe=_path(top.optional_string("recipe"), base_dir),
        work_order=(top.optional_string("work_order") or "").strip() or None,
        slots=_slots(top, base_dir),
        scanner=_scanner(top),
        idle_logout=_idle(top),
        access=_access(top),
        recovery=_recovery(top),
        probe=_probe(top),
        shift=_shift(top),
        kiosk=top.boolean("kiosk", default=defaults.kiosk),
        language=(top.optional_string("language") or "").strip() or None,
        sounds=top.boolean("sounds", default=defaults.sounds),
        custody=parse_custody(top, base_dir),
        line=parse_line(top),
    )


def _path(text: str | None, base_dir: Path) -> Path | None:
    """A file the settings name: relative to the settings file's folder; None when not given."""
    text = (text or "").strip()
    if not text:
        return None
    path = Path(text)
    return path if path.is_absolute() else base_dir / path


def _slots(top: StrictTable, base_dir: Path) -> tuple[SlotSettings, ...]:
    items = top.data.get("slots", [])
    if not isinstance(items, list):
        raise top.error("slots", "must be a list of [[slots]] tables")
    slots = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise top.error(f"slots[{index}]", "must be a table")
        table = StrictTable(item, top.label, (f"slots[{index}]",),
                            ["name", "probe", "console", "fixture_code", "recipe"], error=SettingsError)  # fmt: skip
        slots.append(
            SlotSettings(
                name=_text(table, "name"),
                probe=_text(table, "probe"),
                console=_text(table, "console"),
                fixture_code=(table.optional_string("fixture_code") or "").strip() or None,
                recipe=_path(table.optional_string("recipe"), base_dir),
            )
        )
    try:
        check_slots(tuple(slots))
    except ConfigurationError as error:
        raise top.error("slots", str(error)) from None
    return tuple(slots)


def _scanner(top: StrictTable) -> ScannerSettings:
    defaults = ScannerSettings()
    allowed = ["serial_port", "baud_rate", "keystroke_gap_ms", "minimum_length", "debounce_seconds"]
    table = top.table("scanner", allowed, required=False)
    if table is None:
        return defaults
    debounce = table.data.get("debounce_seconds", defaults.debounce_seconds)
    if isinstance(debounce, bool) or not isinstance(debounce, int | float) or debounce < 0:
        raise table.error("debounce_seconds", "must be a number of at least 0")
    return ScannerSettings(
        serial_port=(table.optional_string("serial_port") or "").strip() or None,
        baud_rate=table.integer("baud_rate", required=False, default=defaults.baud_rate, minimum=300),
        keystroke_gap_ms=table.integer("keystroke_gap_ms", required=False, default=defaults.keystroke_gap_ms,
                                       minimum=1),
        minimum_length=table.integer("minimum_length", required=False, default=defaults.minimum_length, minimum=1),
        debounce_seconds=float(debounce),
    )  # fmt: skip


def _idle(top: StrictTable) -> IdleSettings:
    defaults = IdleSettings()
    table = top.table("idle_logout", ROLES, required=False)
    if table is None:
        return defaults
    return IdleSettings(
        **{role: table.integer(role, required=False, default=defaults.minutes_for(role), minimum=0) for role in ROLES}
    )


def _access(top: StrictTable) -> AccessSettings:
    defaults = AccessSettings()
    table = top.table("access", ["pin_attempts", "lockout_minutes"], required=False)
    if table is None:
        return defaults
    return AccessSettings(
        pin_attempts=table.integer("pin_attempts", required=False, default=defaults.pin_attempts, minimum=1,
                                   maximum=100),
        lockout_minutes=table.integer("lockout_minutes", required=False, default=defaults.lockout_minutes,
                                      minimum=1, maximum=24 * 60),
    )  # fmt: skip


def _recovery(top: StrictTable) -> RecoverySettings:
    defaults = RecoverySettings()
    table = top.table("recovery", ["owner_lease_seconds"], required=False)
    if table is None:
        return defaults
    return RecoverySettings(
        owner_lease_seconds=table.integer("owner_lease_seconds", required=False,
                                          default=defaults.owner_lease_seconds, minimum=5, maximum=3600)
    )  # fmt: skip


def _probe(top: StrictTable) -> ProbeSettings:
    defaults = ProbeSettings()
    table = top.table("probe", ["swd_frequency_hz"], required=False)
    if table is None:
        return defaults
    lowest, highest = SWD_FREQUENCY_RANGE_HZ
    return ProbeSettings(
        swd_frequency_hz=table.integer("swd_frequency_hz", required=False, default=defaults.swd_frequency_hz,
                                       minimum=lowest, maximum=highest)
    )  # fmt: skip


def _shift(top: StrictTable) -> ShiftSchedule:
    table = top.table("shift", ["starts"], required=False)
    if table is None:
        return ShiftSchedule()
    items = table.data.get("starts")
    if not isinstance(items, list) or not items:
        raise table.error("starts", 'must be a non-empty array of local times such as ["06:00", "14:00", "22:00"]')
    starts: list[time] = []
    for item in items:
        match = _SHIFT_START.match(item) if isinstance(item, str) else None
        if match is None:
            shown = repr(item) if isinstance(item, str) else toml_type(item)
            raise table.error("starts", f"{shown} is not a time of day as HH:MM (00:00 to 23:59)")
        start = time(int(match[1]), int(match[2]))
        if start in starts:
            raise table.error("starts", f"{item} is given twice")
        starts.append(start)
    return ShiftSchedule(tuple(sorted(starts)))


def _text(table: StrictTable, key: str) -> str:
    value = table.string(key).strip()
    if not value:
        raise table.error(key, "must be a non-empty string")
    return value


# ---- writing --------------------------------------------------------------------------------


def save_settings(settings: StationSettings, path: Path) -> None:
    """Write the settings atomically (a crash leaves the old file or the new one, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".toml.tmp")
    temporary.write_text(render_settings(settings), encoding="utf-8")
    os.replace(temporary, path)


def render_settings(settings: StationSettings) -> str:
    lines = [
        "# Provisioning station settings (written by the engineer view; edit with care).",
        f"schema = {SETTINGS_SCHEMA}",
    ]
    if settings.recipe is not None:
        lines.append(f"recipe = {toml_quoted(str(settings.recipe))}")
    if settings.work_order:
        lines.append(f"work_order = {toml_quoted(settings.work_order)}")
    lines.append(f"kiosk = {_toml_bool(settings.kiosk)}")
    lines.append(f"sounds = {_toml_bool(settings.sounds)}")
    if settings.language:
        lines.append(f"language = {toml_quoted(settings.language)}")
    scanner = settings.scanner
    lines += ["", "[scanner]"]
    if scanner.serial_port:
        lines.append(f"serial_port = {toml_quoted(scanner.serial_port)}")
    lines += [
        f"baud_rate = {scanner.baud_rate}",
        f"keystroke_gap_ms = {scanner.keystroke_gap_ms}",
        f"minimum_length = {scanner.minimum_length}",
        f"debounce_seconds = {scanner.debounce_seconds!r}",
        "",
        "[idle_logout]  # minutes; 0 never",
    ]
    lines += [f"{role} = {settings.idle_logout.minutes_for(role)}" for role in ROLES]
    lines += [
        "",
        "[access]  # wrong PINs in a row lock the person out for lockout_minutes",
        f"pin_attempts = {settings.access.pin_attempts}",
        f"lockout_minutes = {settings.access.lockout_minutes}",
        "",
        "[recovery]  # another host's open attempt is settled when its heartbeat is older than this",
        f"owner_lease_seconds = {settings.recovery.owner_lease_seconds}",
        "",
        "[probe]  # the SWD clock in Hz: lower it on long cables or when flash writes get lost",
        f"swd_frequency_hz = {settings.probe.swd_frequency_hz}",
        "",
        "[shift]  # when shifts start (local time); a recipe's self-test valid for the shift counts from the latest",
        "starts = [" + ", ".join(toml_quoted(f"{start:%H:%M}") for start in settings.shift.starts) + "]",
    ]
    for slot in settings.slots:
        lines += ["", "[[slots]]", f"name = {toml_quoted(slot.name)}", f"probe = {toml_quoted(slot.probe)}",
                  f"console = {toml_quoted(slot.console)}"]
        if slot.fixture_code:
            lines.append(f"fixture_code = {toml_quoted(slot.fixture_code)}")
        if slot.recipe is not None:
            lines.append(f"recipe = {toml_quoted(str(slot.recipe))}")
    lines += render_custody(settings.custody)
    lines += render_line(settings.line)
    return "\n".join(lines) + "\n"


def _toml_bool(value: bool) -> str:
    return "true" if value else "false"
