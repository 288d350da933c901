"""Reading the recipe's tables that stand on their own: serial rule, lock, console, activation,
steps and binding. ``recipe_loader`` reads the rest (flash, regions, images, credentials, which
depend on each other and on the recipe's folder) and calls these.
"""

from __future__ import annotations

import hashlib
import io
import re
import string
import zipfile
from pathlib import Path
from typing import Final
from xml.etree import ElementTree

import biip
from biip.gs1_application_identifiers import GS1ApplicationIdentifier

from station.domain.errors import ScanError, StationError
from station.domain.identity import DeviceId, Serial
from station.domain.recipe import (
    KINETIS_ONLY_LOCK_KEYS,
    LOCK_METHOD_TARGETS,
    PRODUCT_CODE_PATTERN,
    SUPPORTED_LOCK_METHODS,
    ActivationSettings,
    ConsoleCommands,
    ConsoleDialect,
    DevicePack,
    LockMethod,
    LockSettings,
    ReplyFormat,
    SerialBinding,
    StepName,
    StepPolicy,
)
from station.domain.scan import SerialRule, SerialRuleKind, normalize_gtin
from station.domain.selftest import VALID_FOR_SHIFT, SelfTestSettings, parse_validity
from station.domain.strict_toml import StrictTable, toml_key, toml_type

_LINE_ENDINGS: Final = {"crlf": "\r\n", "lf": "\n", "cr": "\r"}
_SHA256_HEX: Final = re.compile(r"^[0-9a-f]{64}$")
_PDSC_MAX_BYTES: Final = 64 * 1024 * 1024  # the largest vendors' descriptions are a few MiB


def template_fields(template: str) -> list[tuple[str, str | None, str | None]]:
    """(field name, conversion, format spec) of every replacement field; ValueError if malformed."""
    found = []
    for _, field_name, format_spec, conversion in string.Formatter().parse(template):
        if field_name is not None:
            found.append((field_name, conversion, format_spec or None))
    return found


def check_template(table: StrictTable, key: str, template: str, allowed: set[str], required: set[str]) -> None:
    try:
        fields = template_fields(template)
    except ValueError as error:
        raise table.error(key, f"malformed template: {error} (write {{{{ and }}}} for literal braces)") from None
    names = set()
    for name, conversion, format_spec in fields:
        if name not in allowed:
            shown = ", ".join("{" + item + "}" for item in sorted(allowed)) or "none"
            raise table.error(key, f"unknown placeholder {{{name}}} (allowed: {shown})")
        if conversion is not None or format_spec is not None:
            raise table.error(key, f"placeholder {{{name}}} may not carry a conversion or format spec")
        names.add(name)
    missing = required - names
    if missing:
        raise table.error(key, f"must contain {', '.join('{' + item + '}' for item in sorted(missing))}")
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in template):
        raise table.error(key, "may not contain control characters (line endings come from line_ending)")





def read_serial_rule(top: StrictTable) -> SerialRule:
    table = top.required_table("serial", ["kind", "pattern", "application_identifier", "gtin"])
    kind = SerialRuleKind(table.choice("kind", SerialRuleKind))
    pattern_text = table.optional_string("pattern")
    if pattern_text is not None:
        table.pattern("pattern")
    if kind is SerialRuleKind.REGEX:
        if pattern_text is None:
            raise table.error("pattern", "missing (required for kind = \"regex\")")
        for key in ("application_identifier", "gtin"):
            if table.has(key):
                raise table.error(key, "only for kind = \"gs1\"")
        if table.pattern("pattern").fullmatch("") is not None:
            raise table.error("pattern", "matches an empty scan")
        return SerialRule(kind, pattern=pattern_text)
    ai = table.string("application_identifier", required=False, default="21")
    try:
        known = GS1ApplicationIdentifier.extract(ai)
    except biip.ParseError:
        raise table.error("application_identifier", f"({ai}) is not a GS1 application identifier") from None
    if known.ai != ai:
        raise table.error("application_identifier", f"({ai}) is not a GS1 application identifier")
    gtin = table.optional_string("gtin")
    if gtin is not None:
        try:
            normalize_gtin(gtin)
        except StationError as error:
            raise table.error("gtin", f"not a valid GTIN: {error}") from None
    return SerialRule(kind, pattern=pattern_text, application_identifier=ai, gtin=gtin)

# -- credentials


def read_lock(top: StrictTable, target: str | None) -> LockSettings:
    """The ``[lock]`` table: the method, whether it fits the target (not checked when the
    target was refused), and the consent a permanent lock needs."""
    table = top.required_table("lock", ["method", "permanent", "parts_ship_protected", *KINETIS_ONLY_LOCK_KEYS])
    text = table.string("method")
    try:
        method = LockMethod(text)
    except ValueError:
        known = ", ".join(member.value for member in LockMethod)
        raise table.error("method", f"unknown lock method {text!r} (known: {known})") from None
    if method not in SUPPORTED_LOCK_METHODS:
        supported = ", ".join(sorted(item.value for item in SUPPORTED_LOCK_METHODS))
        raise table.error(
            "method", f"lock method {text!r} is not supported by this station yet (supported: {supported})"
        )
    prefixes = LOCK_METHOD_TARGETS.get(method, ())
    if prefixes and target is not None and not target.startswith(prefixes):
        fitting = ", ".join(f"{prefix}*" for prefix in prefixes)
        raise table.error("method", f"lock method {text!r} is for {fitting} targets, not {target!r}")
    if method is not LockMethod.KINETIS_FSEC:
        for key in KINETIS_ONLY_LOCK_KEYS:
            if table.has(key):
                raise table.error(key, f"only the kinetis-fsec lock reads it, not {text}")
    settings = LockSettings(
        method,
        permanent=table.boolean("permanent", default=False),
        parts_ship_protected=table.boolean("parts_ship_protected", default=False),
        mass_erase=table.boolean("mass_erase", default=True),
        backdoor=table.boolean("backdoor", default=False),
    )
    if settings.is_permanent and not settings.permanent:
        raise table.error(
            "permanent",
            f"this {text} lock can never be undone (no erase reopens the unit, rework is impossible): "
            "the recipe must say permanent = true to write it",
        )
    if settings.permanent and not settings.is_permanent:
        raise table.error("permanent", f"permanent = true, but this {text} lock is undone by a rework erase")
    return settings


def read_console(top: StrictTable) -> ConsoleDialect:
    table = top.required_table(
        "console",
        ["baud_rate", "line_ending", "reply_format", "banner", "success", "failure", "command_timeout_seconds",
         "boot_timeout_seconds", "activate_timeout_seconds", "not_activated", "commands"],
    )
    baud_rate = table.integer("baud_rate", minimum=300, maximum=12_000_000)
    ending_name = table.string("line_ending", required=False, default="crlf")
    if ending_name not in _LINE_ENDINGS:
        raise table.error("line_ending", f"{ending_name!r} is not one of: {', '.join(_LINE_ENDINGS)}")
    reply_format = ReplyFormat(table.choice("reply_format", ReplyFormat, default=ReplyFormat.TEXT.value))
    banner = table.pattern("banner")
    success = table.pattern("success")
    failure = table.pattern("failure")
    if success.pattern == failure.pattern:
        raise table.error("failure", "is the same pattern as success")
    command_timeout = table.seconds("command_timeout_seconds", default=5.0)
    boot_timeout = table.seconds("boot_timeout_seconds", default=10.0)
    activate_timeout = table.seconds("activate_timeout_seconds", default=30.0)

    not_activated = table.pattern("not_activated", required=False, default="(?i)not activated")
    commands_table = table.required_table(
        "commands",
        ["version", "uuid", "endpoint", "certificate_fingerprint", "csr", "activate", "reboot", "activation_status"],
    )
    placeholders: dict[str, tuple[set[str], set[str]]] = {
        "version": (set(), set()),
        "uuid": (set(), set()),
        "endpoint": (set(), set()),
        "certificate_fingerprint": (set(), set()),
        "csr": ({"common_name", "serial", "device_id"}, set()),
        "activate": ({"token"}, {"token"}),
        "reboot": (set(), set()),
    }
    values: dict[str, str] = {}
    for key, (allowed, required) in placeholders.items():
        value = commands_table.string(key)
        if not value.strip():
            raise commands_table.error(key, "must not be empty")
        check_template(commands_table, key, value, allowed, required)
        values[key] = value
    activation_status = commands_table.string("activation_status", required=False, default="").strip() or None
    if activation_status is not None:
        check_template(commands_table, "activation_status", activation_status, set(), set())
    return ConsoleDialect(
        baud_rate=baud_rate,
        line_ending=_LINE_ENDINGS[ending_name],
        reply_format=reply_format,
        commands=ConsoleCommands(**values, activation_status=activation_status),
        banner=banner,
        success=success,
        failure=failure,
        command_timeout_seconds=command_timeout,
        boot_timeout_seconds=boot_timeout,
        activate_timeout_seconds=activate_timeout,
        not_activated=not_activated,
    )


def read_activation(top: StrictTable, product: str) -> ActivationSettings:
    table = top.required_table("activation", ["product", "token_pool"])
    activation_product = table.string("product")
    if not PRODUCT_CODE_PATTERN.match(activation_product):
        raise table.error("product", f"{activation_product!r} is not a product code (e.g. ACME-TOASTER)")
    pool = table.string("token_pool", required=False, default=activation_product)
    if not PRODUCT_CODE_PATTERN.match(pool):
        raise table.error("token_pool", f"{pool!r} is not a product code (e.g. ACME-TOASTER)")
    return ActivationSettings(activation_product, pool)


def read_steps(top: StrictTable) -> tuple[StepPolicy, ...]:
    """Every step's deadline and retries, stated by the recipe: no step runs on a default."""
    names = [name.value for name in StepName]
    table = top.table("steps", names, required=False)
    missing = [name for name in names if table is None or not table.has(name)]
    if missing:
        example = f"[steps.{missing[0]}] timeout_seconds = 30, retries = 0"
        raise top.error(
            "steps", f"no policy for step(s) {', '.join(missing)}: every step needs one (e.g. {example})"
        )
    assert table is not None
    policies = []
    for name in StepName:
        entry = table.required_table(name.value, ["timeout_seconds", "retries"])
        timeout = entry.seconds("timeout_seconds")
        retries = entry.integer("retries", minimum=0, maximum=10)
        policies.append(StepPolicy(name, timeout, retries))
    return tuple(policies)


def read_binding(top: StrictTable) -> SerialBinding | None:
    table = top.table("binding", ["require_listed", "devices"], required=False)
    if table is None:
        return None
    require_listed = table.boolean("require_listed", default=True)
    devices_table = table.required_table("devices", None)
    devices: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for serial_text, device_text in devices_table.data.items():
        try:
            serial = Serial(serial_text)
        except ScanError as error:
            raise devices_table.error(toml_key(serial_text), str(error)) from None
        if not isinstance(device_text, str):
            raise devices_table.error(toml_key(serial_text), f"must be a string, not {toml_type(device_text)}")
        try:
            device_id = DeviceId.parse(device_text)
        except StationError as error:
            raise devices_table.error(toml_key(serial_text), str(error)) from None
        if device_id.value in seen:
            raise devices_table.error(
                toml_key(serial_text), f"device {device_id} is already bound to serial {seen[device_id.value]}"
            )
        seen[device_id.value] = serial.value
        devices.append((serial.value, device_id.value))
    return SerialBinding(tuple(devices), require_listed)


def read_selftest(top: StrictTable) -> SelfTestSettings:
    """The ``[selftest]`` table: the recipe's golden units (serials or device ids), whether a
    passed station self-test is required before production scans, and for how long a pass counts."""
    table = top.table("selftest", ["golden", "required", "valid_for"], required=False)
    if table is None:
        return SelfTestSettings()
    entries = table.data.get("golden", [])
    if not isinstance(entries, list):
        raise table.error("golden", f"must be an array of serials or device ids, not {toml_type(entries)}")
    golden: list[str] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, str):
            raise table.error("golden", f"entry {index + 1} must be a string (a serial or a device id), "
                              f"not {toml_type(entry)}")  # fmt: skip
        try:
            name = Serial(entry.strip()).value
        except ScanError as error:
            raise table.error("golden", f"entry {index + 1} ({entry!r}) is not a serial or a device id: "
                              f"{error}") from None
        if name.upper() in (existing.upper() for existing in golden):
            raise table.error("golden", f"{name} is named twice")
        golden.append(name)
    required = table.boolean("required", default=False)
    if required and not golden:
        raise table.error("required", "a required self-test needs its golden unit: name it in golden = [\"SERIAL\"]")
    validity_text = table.string("valid_for", required=False, default=VALID_FOR_SHIFT)
    try:
        valid_for = parse_validity(validity_text)
    except ValueError as error:
        raise table.error("valid_for", str(error)) from None
    return SelfTestSettings(tuple(golden), required, valid_for)


# -- CMSIS device pack


def pack_target_name(part_number: str) -> str:
    """The pyOCD target type a pack's part number becomes. pyOCD's rule
    (``pyocd.target.normalise_target_type_name``), kept here because the domain imports no
    pyOCD: ASCII letters and digits lower-cased, ``_`` kept, every run of other characters one
    ``_`` ("nRF52840_xxAA" -> "nrf52840_xxaa", "EFR32MG12P433F1024GM68" -> "efr32mg12p433f1024gm68")."""
    result: list[str] = []
    replacing = False
    for character in part_number:
        if character.isascii() and (character.isalnum() or character == "_"):
            result.append(character.lower())
            replacing = False
        elif not replacing:
            result.append("_")
            replacing = True
    return "".join(result)


def read_pack(top: StrictTable, base: Path, target: str | None) -> DevicePack | None:
    """The top-level ``pack`` (a CMSIS device pack file, relative to the recipe) and
    ``pack_sha256`` (its pinned SHA-256). The pack must be a zip with its .pdsc at the top level
    that describes a device (or variant) pyOCD names like the recipe's target (not matched when
    the target was refused). The bytes hashed are the bytes read: a file swapped in between
    cannot pass. None when the recipe names no pack (the target is one of pyOCD's own)."""
    name = top.optional_string("pack")
    if name is None:
        if top.has("pack_sha256"):
            raise top.error("pack_sha256", "pins a pack, but the recipe names no pack")
        return None
    if not name:
        raise top.error("pack", "must name a CMSIS pack file (.pack)")
    if not top.has("pack_sha256"):
        raise top.error(
            "pack_sha256", "missing (required with pack: the SHA-256 of the .pack file, as sha256sum gives it)"
        )
    pinned = top.string("pack_sha256").lower()
    if not _SHA256_HEX.match(pinned):
        raise top.error("pack_sha256", "must be 64 hex digits (the SHA-256 of the .pack file)")
    path = base / name
    if not path.is_file():
        raise top.error("pack", f"pack file {path} does not exist")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise top.error("pack", f"cannot read {path}: {error.strerror or error}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != pinned:
        raise top.error("pack_sha256", f"pack hash differs from the pinned one (file {actual}, pinned {pinned})")
    devices = _pack_devices(top, path.name, data)
    if target is None:
        return None
    for device, vendor in devices:
        if pack_target_name(device) == target:
            return DevicePack(path, actual, device, vendor)
    named = ", ".join(f"{device} ({pack_target_name(device)})" for device, _ in devices[:8])
    more = f" and {len(devices) - 8} more" if len(devices) > 8 else ""
    raise top.error(
        "pack", f"{path.name} describes no device that pyOCD names {target!r} (it describes {named}{more})"
    )


def _pack_devices(top: StrictTable, file_name: str, data: bytes) -> list[tuple[str, str]]:
    """(part number, vendor) of every device and variant the pack's .pdsc describes, found as
    pyOCD finds them (``pyocd.target.pack.cmsis_pack``): the first ``*.pdsc`` in the zip, each
    ``family`` and, below it through ``subFamily``, ``device`` and ``variant`` elements, a part
    number being ``Dname``, else a variant's ``Dvariant``."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise top.error("pack", f"{file_name} is not a CMSIS pack: not a zip file") from None
    with archive:
        entry = next((info for info in archive.infolist() if info.filename.endswith(".pdsc")), None)
        if entry is None:
            raise top.error("pack", f"{file_name} is not a CMSIS pack: it holds no .pdsc file")
        if "/" in entry.filename.strip("/"):
            raise top.error(
                "pack", f"{file_name} is not a CMSIS pack: its .pdsc ({entry.filename}) is not at its top level"
            )
        if entry.file_size > _PDSC_MAX_BYTES:
            raise top.error("pack", f"{entry.filename} in {file_name} is {entry.file_size} bytes: too large a .pdsc")
        try:
            description = archive.read(entry)
        except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as error:
            raise top.error("pack", f"cannot read {entry.filename} from {file_name}: {error}") from None
    try:
        root = ElementTree.fromstring(description)
    except ElementTree.ParseError as error:
        raise top.error("pack", f"{entry.filename} in {file_name} is not valid XML: {error}") from None
    devices: list[tuple[str, str]] = []

    def collect(element: ElementTree.Element, vendor: str) -> None:
        for child in element:
            if child.tag not in ("subFamily", "device", "variant"):
                continue
            part = child.get("Dname") or (child.get("Dvariant") if child.tag == "variant" else None)
            if part:
                devices.append((part, vendor))
            collect(child, vendor)

    for family in root.iter("family"):
        collect(family, (family.get("Dvendor") or "").split(":")[0])
    if not devices:
        raise top.error("pack", f"{entry.filename} in {file_name} describes no device")
    return devices
