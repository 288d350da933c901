"""The station settings the operator application runs with: recipe, work order, slots, scanner.

One TOML file per station (``station.toml`` in the data directory by default), written by the
engineer view and read at start. Unknown keys are refused with the place they were found, so
that a typo never silently falls back to a default on a production line. Nothing secret lives
here: passphrases and PINs are never settings.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from station.domain.errors import ConfigurationError

SETTINGS_FILE_NAME = "station.toml"
SETTINGS_SCHEMA = 1
SLOT_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,23}$")
ROLES = ("operator", "supervisor", "engineer")


@dataclass(frozen=True)
class SlotSettings:
    """One place a unit sits: its debug probe, its console port, and an optional fixture label.

    Scanning ``fixture_code`` (the label on the fixture) sends the next unit scan to this slot.
    """

    name: str
    probe: str
    console: str
    fixture_code: str | None = None


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
class StationSettings:
    recipe: Path | None = None
    work_order: str | None = None
    slots: tuple[SlotSettings, ...] = ()
    scanner: ScannerSettings = field(default_factory=ScannerSettings)
    idle_logout: IdleSettings = field(default_factory=IdleSettings)
    kiosk: bool = False
    language: str | None = None  # "zh_CN", "es"; None: the system's
    sounds: bool = True

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
        raise ConfigurationError(f"cannot read station settings {path}: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{path}: not valid TOML: {error}") from error
    return parse_settings(data, str(path), base_dir=path.parent)


def parse_settings(data: dict[str, Any], place: str, *, base_dir: Path) -> StationSettings:
    _only(data, place, {"schema", "recipe", "work_order", "slots", "scanner", "idle_logout", "kiosk", "language",
                        "sounds"})
    schema = data.get("schema", SETTINGS_SCHEMA)
    if schema != SETTINGS_SCHEMA:
        raise ConfigurationError(f"{place}: schema {schema!r} is not {SETTINGS_SCHEMA}")
    recipe_text = _optional_string(data, place, "recipe")
    recipe = None
    if recipe_text:
        recipe = Path(recipe_text)
        if not recipe.is_absolute():
            recipe = base_dir / recipe
    slots_data = data.get("slots", [])
    if not isinstance(slots_data, list):
        raise ConfigurationError(f"{place}: slots must be a list of [[slots]] tables")
    slots = []
    for index, item in enumerate(slots_data):
        where = f"{place}: slots[{index}]"
        if not isinstance(item, dict):
            raise ConfigurationError(f"{where} must be a table")
        _only(item, where, {"name", "probe", "console", "fixture_code"})
        slots.append(
            SlotSettings(
                name=_string(item, where, "name"),
                probe=_string(item, where, "probe"),
                console=_string(item, where, "console"),
                fixture_code=_optional_string(item, where, "fixture_code") or None,
            )
        )
    check_slots(tuple(slots))
    scanner = ScannerSettings()
    if "scanner" in data:
        table = _table(data, place, "scanner")
        where = f"{place}: scanner"
        _only(table, where, {"serial_port", "baud_rate", "keystroke_gap_ms", "minimum_length", "debounce_seconds"})
        scanner = ScannerSettings(
            serial_port=_optional_string(table, where, "serial_port") or None,
            baud_rate=_integer(table, where, "baud_rate", scanner.baud_rate, minimum=300),
            keystroke_gap_ms=_integer(table, where, "keystroke_gap_ms", scanner.keystroke_gap_ms, minimum=1),
            minimum_length=_integer(table, where, "minimum_length", scanner.minimum_length, minimum=1),
            debounce_seconds=_number(table, where, "debounce_seconds", scanner.debounce_seconds),
        )
    idle = IdleSettings()
    if "idle_logout" in data:
        table = _table(data, place, "idle_logout")
        where = f"{place}: idle_logout"
        _only(table, where, set(ROLES))
        idle = IdleSettings(
            **{role: _integer(table, where, role, idle.minutes_for(role), minimum=0) for role in ROLES}
        )
    return StationSettings(
        recipe=recipe,
        work_order=_optional_string(data, place, "work_order") or None,
        slots=tuple(slots),
        scanner=scanner,
        idle_logout=idle,
        kiosk=_boolean(data, place, "kiosk", False),
        language=_optional_string(data, place, "language") or None,
        sounds=_boolean(data, place, "sounds", True),
    )


def _only(table: dict[str, Any], place: str, allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        allowed_keys = ", ".join(sorted(allowed))
        raise ConfigurationError(f"{place}: unknown key(s) {', '.join(unknown)} (allowed: {allowed_keys})")


def _table(data: dict[str, Any], place: str, key: str) -> dict[str, Any]:
    value = data[key]
    if not isinstance(value, dict):
        raise ConfigurationError(f"{place}: {key} must be a table")
    return value


def _string(data: dict[str, Any], place: str, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{place}: {key} must be a non-empty string")
    return value.strip()


def _optional_string(data: dict[str, Any], place: str, key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"{place}: {key} must be a string")
    return value.strip()


def _integer(data: dict[str, Any], place: str, key: str, default: int, *, minimum: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{place}: {key} must be a whole number of at least {minimum}")
    return value


def _number(data: dict[str, Any], place: str, key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigurationError(f"{place}: {key} must be a number of at least 0")
    return float(value)


def _boolean(data: dict[str, Any], place: str, key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ConfigurationError(f"{place}: {key} must be true or false")
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
        lines.append(f"recipe = {_quoted(str(settings.recipe))}")
    if settings.work_order:
        lines.append(f"work_order = {_quoted(settings.work_order)}")
    lines.append(f"kiosk = {_toml_bool(settings.kiosk)}")
    lines.append(f"sounds = {_toml_bool(settings.sounds)}")
    if settings.language:
        lines.append(f"language = {_quoted(settings.language)}")
    scanner = settings.scanner
    lines += ["", "[scanner]"]
    if scanner.serial_port:
        lines.append(f"serial_port = {_quoted(scanner.serial_port)}")
    lines += [
        f"baud_rate = {scanner.baud_rate}",
        f"keystroke_gap_ms = {scanner.keystroke_gap_ms}",
        f"minimum_length = {scanner.minimum_length}",
        f"debounce_seconds = {scanner.debounce_seconds!r}",
        "",
        "[idle_logout]  # minutes; 0 never",
    ]
    lines += [f"{role} = {settings.idle_logout.minutes_for(role)}" for role in ROLES]
    for slot in settings.slots:
        lines += ["", "[[slots]]", f"name = {_quoted(slot.name)}", f"probe = {_quoted(slot.probe)}",
                  f"console = {_quoted(slot.console)}"]
        if slot.fixture_code:
            lines.append(f"fixture_code = {_quoted(slot.fixture_code)}")
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(character if character >= " " else f"\\u{ord(character):04x}" for character in escaped)
    return f'"{escaped}"'


def _toml_bool(value: bool) -> str:
    return "true" if value else "false"
