"""Recipes: everything the station needs to know about one product, from one TOML file.

A recipe is written by an engineer, checked with ``station recipe check``, and identified by
``content_hash`` (SHA-256 of the file's bytes): an edited recipe is a new recipe, and the
hash is stored with every attempt that used it.

Loading is strict. Unknown keys are refused at every level, every value's type is checked,
and each error names its place, e.g.::

    recipe.toml: [images.application] sha256: image hash differs from the pinned one (...)

``load_recipe`` also reads every image, checks its pinned SHA-256, and checks where it
lands in flash, so that a recipe that loaded is safe to run before any unit is touched. The
loaded images are kept in memory (``FirmwareImage.segments``): the station programs those
bytes, not the file again, so a file swapped after the check is never programmed.

**Image hash.** ``sha256`` pins the image's *content*: the bytes that get programmed,
concatenated in ascending address order, without the gaps between them and without any
addresses. For a BIN file that is the file itself (``sha256sum`` gives it); for Intel HEX
the data records; for ELF the file bytes (``p_filesz``) of every ``PT_LOAD`` segment, at its
physical (load) address. So the same firmware as BIN, HEX and ELF has one hash. Where the
bytes go is checked separately: inside flash, inside a programmable region, never on a
credential, key-store or keep region, never on another image.

File layout (all addresses and sizes are integers, hex literals welcome)::

    schema = 1
    product = "ACME-TOASTER"             # customer code, dash, product name
    description = "..."                  # optional
    target = "nrf52840"                  # pyOCD target type
    firmware_version = "1.4.2"           # what the unit's `ver` must report
    pack = "Vendor.DFP.1.0.0.pack"       # optional: a CMSIS device pack (relative to the
                                         # recipe) that describes the target (docs/targets.md)
    pack_sha256 = "..."                  # required with pack: SHA-256 of the .pack file; the
                                         # pack must hold a top-level .pdsc with a device or
                                         # variant that pyOCD names like `target`

    [flash]            start, size, page_size, chip_erase (default true: the station may erase
                       the whole chip where that costs less than erasing page by page)
    [regions.NAME]     role (bootloader | app_header | application | credentials |
                       key_store | keep), address, size — page aligned, no overlaps
    [images.NAME]      file (relative to the recipe), format (bin | hex | elf; from the
                       extension when left out), address (BIN only), sha256
    [serial]           kind = "regex", pattern  |  kind = "gs1", application_identifier
                       (default "21"), gtin (optional), pattern (optional)
    [credentials]      plan (station-generated | device-generated), endpoint_name (template
                       over {serial} and {device_id}), validity_days, key_type (ec-p256 |
                       ec-p384), server_uri; optional update_vendor_id, update_class_id
                       (UUIDs) and update_auth_certificate (PEM or DER file) — all three or none
    [lock]             method (nrf52-approtect); permanent (default false: must be true
                       for a lock no erase undoes, and only then); parts_ship_protected
                       (default false: fresh parts arrive locked, and a locked unit whose
                       serial has no record anywhere is erased as its first step)
    [console]          baud_rate, line_ending (crlf | lf | cr), reply_format (text |
                       gecko-machine), banner, success, failure (regular expressions),
                       command_timeout_seconds, boot_timeout_seconds, activate_timeout_seconds,
                       not_activated (optional pattern, default "(?i)not activated")
    [console.commands] version, uuid, endpoint, certificate_fingerprint, csr (may use
                       {common_name}, {serial}, {device_id}), activate (must use {token}), reboot,
                       activation_status (optional: asks the product the unit is activated to;
                       the station asks before activating, so that no unit is activated twice)
    [activation]       product (device-management product code), token_pool (vault product;
                       defaults to the activation product)
    [steps.NAME]       timeout_seconds, retries — required for every step: connect, flash,
                       verify, credentials, lock, lock-confirm, activate, identity, rework.
                       The timeout bounds one try (a watchdog ends a blocked call at it);
                       retries are further tries after a transient fault (probe, console)
    [binding]          require_listed (default true); [binding.devices] "SERIAL" = "DEVICEID"
    [instructions.STEP] optional, per step: text (what the operator does, shown on the slot's
                       tile while the step runs), picture (optional PNG or JPEG file, relative
                       to the recipe); see ``station.domain.recipe_instructions``
    [selftest]         optional: golden (array of the golden units' serials or device ids),
                       required (default false: true refuses production scans until a station
                       self-test on a golden unit passed), valid_for ("shift", the default: the
                       current shift of the station settings' [shift]; or a duration such as
                       "8h", "90m", "1h30m"); see ``station.domain.selftest``
    [approval]         optional: required = 1 (default: an engineer of the station signs the
                       recipe) or 2 (and a second person, a supervisor or another engineer,
                       approves it); checked where a station in production loads the recipe,
                       see ``station.domain.recipe_signature``
    [label]            optional: template (ZPL file), template_sha256, printer (tcp://HOST:PORT
                       or cups:QUEUE), copies, gtin, timeout_seconds: the label printed after a
                       PASS; see ``station.domain.label``
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
import tomllib
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from station.domain.errors import RecipeError, RecipeProblemsError
from station.domain.firmware_images import image_content_sha256, read_image
from station.domain.label import read_label
from station.domain.recipe import (
    ENDPOINT_NAME_MAX_LENGTH,
    PRODUCT_CODE_PATTERN,
    SCHEMA_VERSION,
    CredentialPlan,
    CredentialSettings,
    FirmwareImage,
    FlashGeometry,
    FlashRegion,
    ImageFormat,
    KeyType,
    Recipe,
    RegionRole,
)
from station.domain.recipe_instructions import read_instructions
from station.domain.recipe_sections import (
    check_template,
    read_activation,
    read_binding,
    read_console,
    read_lock,
    read_pack,
    read_selftest,
    read_serial_rule,
    read_steps,
)
from station.domain.recipe_signature import read_approval
from station.domain.strict_toml import Problems, StrictTable, toml_key

_TARGET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]{1,63}$")
_SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_IMAGE_EXTENSIONS: Final = {".bin": "bin", ".hex": "hex", ".ihex": "hex", ".elf": "elf", ".axf": "elf"}
_TOP_LEVEL_KEYS: Final = (
    "schema", "product", "description", "target", "firmware_version", "pack", "pack_sha256", "flash", "regions",
    "images", "serial", "credentials", "lock", "console", "activation", "steps", "binding", "instructions",
    "selftest", "approval", "label",
)  # fmt: skip


def load_recipe(path: Path | str) -> Recipe:
    """Read, validate and return a recipe, with every image loaded and checked.

    Raises ``RecipeError`` naming the place of the first problem. Writes nothing.
    """
    recipe_path = Path(path)
    label = recipe_path.name or str(recipe_path)
    try:
        raw = recipe_path.read_bytes()
    except FileNotFoundError:
        raise RecipeError(str(recipe_path), "recipe file does not exist") from None
    except OSError as error:
        raise RecipeError(str(recipe_path), f"cannot read the recipe: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RecipeError(label, "recipe is not UTF-8 text") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RecipeError(label, f"not valid TOML: {error}") from None
    return _RecipeLoader(recipe_path, label).load(document, text, hashlib.sha256(raw).hexdigest())


def _span(start: int, end: int) -> str:
    return f"0x{start:08X}-0x{end:08X}"


# --------------------------------------------------------------------------- the loader


class _RecipeLoader:
    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self.base = path.parent

    def load(self, document: Mapping[str, Any], text: str, content_hash: str) -> Recipe:
        """Every table is read even after another was refused, so that ``recipe check`` names
        every problem at once (``RecipeProblemsError``); only a wrong schema stops the reading, since
        the schema decides what the rest means. Tables that depend on a refused one are checked
        as far as they can be without it (images without flash: their files and hashes)."""
        top = StrictTable(document, self.label, (), None)
        schema = top.integer("schema")
        if schema != SCHEMA_VERSION:
            raise top.error("schema", f"this station reads recipe schema {SCHEMA_VERSION}, not {schema}")
        problems = Problems(RecipeError)
        problems.add(top.unknown_keys(_TOP_LEVEL_KEYS))
        product = problems.read(lambda: self._product(top))
        description = problems.read(lambda: top.string("description", required=False, default=""))
        target = problems.read(lambda: self._target(top))
        firmware_version = problems.read(lambda: self._firmware_version(top))
        pack = problems.read(lambda: read_pack(top, self.base, target))
        credentials = problems.read(lambda: self._credentials(top))
        plan = None if credentials is None else credentials.plan
        flash = problems.read(lambda: self._flash(top, plan, problems))
        images = problems.read(lambda: self._images(top, flash, problems))
        serial_rule = problems.read(lambda: read_serial_rule(top))
        lock = problems.read(lambda: read_lock(top, target))
        console = problems.read(lambda: read_console(top))
        activation = problems.read(lambda: read_activation(top, product or ""))
        steps = problems.read(lambda: read_steps(top))
        binding = problems.read(lambda: read_binding(top))
        instructions = problems.read(lambda: read_instructions(top, self.base))
        selftest = problems.read(lambda: read_selftest(top))
        signatures_required = problems.read(lambda: read_approval(top))
        label = problems.read(lambda: read_label(top, self.base))
        problems.raise_found(RecipeProblemsError)
        assert product is not None and description is not None and target is not None  # no problem: all read
        assert firmware_version is not None and credentials is not None and flash is not None
        assert images is not None and serial_rule is not None and lock is not None and console is not None
        assert activation is not None and steps is not None and instructions is not None and selftest is not None
        assert signatures_required is not None
        return Recipe(
            path=self.path,
            content_hash=content_hash,
            product=product,
            description=description,
            target=target,
            firmware_version=firmware_version,
            flash=flash,
            images=images,
            serial_rule=serial_rule,
            credentials=credentials,
            lock=lock,
            console=console,
            activation=activation,
            steps=steps,
            binding=binding,
            source_text=text,
            instructions=instructions,
            selftest=selftest,
            pack=pack,
            signatures_required=signatures_required,
            label=label,
        )

    @staticmethod
    def _product(top: StrictTable) -> str:
        product = top.string("product")
        if not PRODUCT_CODE_PATTERN.match(product):
            raise top.error(
                "product",
                f"{product!r} is not a product code (customer code, dash, name in capitals, e.g. ACME-TOASTER)",
            )
        return product

    @staticmethod
    def _target(top: StrictTable) -> str:
        target = top.string("target")
        if not _TARGET_PATTERN.match(target):
            raise top.error("target", f"{target!r} is not a pyOCD target type (e.g. nrf52840)")
        return target

    @staticmethod
    def _firmware_version(top: StrictTable) -> str:
        firmware_version = top.string("firmware_version")
        if not firmware_version or len(firmware_version.encode("utf-8")) > 32 or not firmware_version.isprintable():
            raise top.error("firmware_version", "must be 1 to 32 bytes of printable text")
        return firmware_version

    # -- flash geometry

    def _flash(self, top: StrictTable, plan: CredentialPlan | None, problems: Problems) -> FlashGeometry | None:
        """The geometry and its regions; each region's problem is noted and the next one read. None
        (the problems noted) when a region was refused: images cannot be placed without it."""
        table = top.required_table("flash", ["start", "size", "page_size", "chip_erase"])
        start = table.integer("start", minimum=0, maximum=0xFFFF_FFFF)
        size = table.integer("size", minimum=1, maximum=0x1_0000_0000)
        page_size = table.integer("page_size", minimum=1, maximum=0x10_0000)
        chip_erase = table.boolean("chip_erase", default=True)
        if page_size & (page_size - 1):
            raise table.error("page_size", f"must be a power of two, not 0x{page_size:X}")
        for key, value in (("start", start), ("size", size)):
            if value % page_size:
                raise table.error(key, f"0x{value:X} is not a multiple of the page size 0x{page_size:X}")
        if start + size > 0x1_0000_0000:
            raise table.error("size", "flash runs past the 32-bit address space")

        regions_table = top.required_table("regions", None)
        if not regions_table.data:
            raise regions_table.error(None, "no regions defined")
        regions: list[FlashRegion] = []
        refused = len(problems.found)
        for name in regions_table.data:
            earlier = FlashGeometry(start, size, page_size, tuple(regions))
            region = problems.read(functools.partial(self._region, regions_table, name, earlier))
            if region is not None:
                regions.append(region)
        if len(problems.found) > refused:
            return None

        counts = {role: sum(1 for region in regions if region.role is role) for role in RegionRole}
        for role in (RegionRole.APPLICATION, RegionRole.CREDENTIALS):
            if counts[role] == 0:
                raise regions_table.error(None, f"no region with role {role.value!r} (exactly one is required)")
        for role in RegionRole:
            if role is not RegionRole.KEEP and counts[role] > 1:
                raise regions_table.error(None, f"more than one region with role {role.value!r}")
        if plan is CredentialPlan.DEVICE_GENERATED and counts[RegionRole.KEY_STORE] == 0:
            raise regions_table.error(
                None, "the device-generated plan needs a region with role 'key_store' where the unit keeps its key"
            )
        return FlashGeometry(start, size, page_size, tuple(regions), chip_erase)

    @staticmethod
    def _region(regions_table: StrictTable, name: str, flash: FlashGeometry) -> FlashRegion:
        """One region, checked against the flash and the regions before it (``flash.regions``)."""
        start, end, page_size = flash.start, flash.end, flash.page_size
        entry = regions_table.required_table(name, ["role", "address", "size"])
        role = RegionRole(entry.choice("role", RegionRole))
        address = entry.integer("address", minimum=0, maximum=0xFFFF_FFFF)
        region_size = entry.integer("size", minimum=1, maximum=0x1_0000_0000)
        region = FlashRegion(name, role, address, region_size)
        if address < start or region.end > end:
            raise entry.error(
                None, f"lies outside flash ({_span(address, region.end)} is not within {_span(start, end)})"
            )
        if address % page_size or region_size % page_size:
            raise entry.error(
                "address" if address % page_size else "size",
                f"region {_span(address, region.end)} is not aligned to the page size 0x{page_size:X} "
                "(erasing one region would erase part of another)",
            )
        for other in flash.regions:
            if other.overlaps(region.address, region.end):
                raise entry.error(
                    None,
                    f"overlaps region [regions.{toml_key(other.name)}] "
                    f"({other.role.value}, {_span(other.address, other.end)})",
                )
        return region

    # -- images

    def _images(
        self, top: StrictTable, flash: FlashGeometry | None, problems: Problems
    ) -> tuple[FirmwareImage, ...] | None:
        """Every image, each checked on its own (its problem noted, the next one read); placed in
        flash only when the flash was read. None (the problems noted) when one was refused."""
        images_table = top.required_table("images", None)
        if not images_table.data:
            raise images_table.error(None, "no images defined")
        images: list[FirmwareImage] = []
        refused = len(problems.found)
        for name in images_table.data:
            image = problems.read(functools.partial(self._placed_image, images_table, name, flash, images))
            if image is not None:
                images.append(image)
        return None if len(problems.found) > refused else tuple(images)

    def _placed_image(
        self, images_table: StrictTable, name: str, flash: FlashGeometry | None, earlier: list[FirmwareImage]
    ) -> FirmwareImage:
        entry = images_table.required_table(name, ["file", "format", "address", "sha256"])
        image = self._image(entry, name)
        if flash is not None:
            self._check_placement(entry, image, flash, earlier)
        return image

    def _image(self, entry: StrictTable, name: str) -> FirmwareImage:
        file_name = entry.string("file")
        if not file_name:
            raise entry.error("file", "must name a file")
        path = self.base / file_name
        if entry.has("format"):
            image_format = ImageFormat(entry.choice("format", ImageFormat))
        else:
            guessed = _IMAGE_EXTENSIONS.get(path.suffix.lower())
            if guessed is None:
                raise entry.error(
                    "format",
                    f"cannot tell the format of {file_name!r} from its extension; set format = bin, hex or elf",
                )
            image_format = ImageFormat(guessed)
        load_address: int | None = None
        if image_format is ImageFormat.BIN:
            load_address = entry.integer("address", minimum=0, maximum=0xFFFF_FFFF)
        elif entry.has("address"):
            raise entry.error("address", "only BIN images take an address; HEX and ELF images carry their own")
        pinned = entry.string("sha256").lower()
        if not _SHA256_PATTERN.match(pinned):
            raise entry.error("sha256", "must be 64 hex digits (the SHA-256 of the image content)")

        if not path.is_file():
            raise entry.error("file", f"image file {path} does not exist")
        try:
            segments = read_image(path, image_format, load_address)
        except OSError as error:
            raise entry.error("file", f"cannot read {path}: {error.strerror or error}") from None
        except ValueError as error:
            kind = image_format.value.upper()
            raise entry.error("file", f"{path.name} is not a valid {kind} image: {error}") from None
        if not segments:
            raise entry.error("file", f"{path.name} holds no bytes to program")
        actual = image_content_sha256(segments)
        if actual != pinned:
            raise entry.error(
                "sha256", f"image hash differs from the pinned one (file {actual}, pinned {pinned})"
            )
        return FirmwareImage(name, path, image_format, actual, segments, load_address)

    def _check_placement(
        self, entry: StrictTable, image: FirmwareImage, flash: FlashGeometry, earlier: list[FirmwareImage]
    ) -> None:
        writable = [region for region in flash.regions if not region.role.is_protected]
        for segment in image.segments:
            if segment.address < flash.start or segment.end > flash.end:
                raise entry.error(
                    None,
                    f"image lies outside flash ({_span(segment.address, segment.end)} is not within "
                    f"{_span(flash.start, flash.end)})",
                )
            for region in flash.regions:
                if region.role.is_protected and region.overlaps(segment.address, segment.end):
                    raise entry.error(
                        None,
                        f"image overlaps the {region.role.value} region [regions.{toml_key(region.name)}] "
                        f"({_span(segment.address, segment.end)} meets {_span(region.address, region.end)}); "
                        "programming must never write there",
                    )
            uncovered = _uncovered(segment.address, segment.end, writable)
            if uncovered is not None:
                raise entry.error(
                    None, f"image bytes at {_span(*uncovered)} are in no programmable region of [regions]"
                )
        for segment_index, segment in enumerate(image.segments[1:], start=1):
            previous = image.segments[segment_index - 1]
            if segment.address < previous.end:
                raise entry.error("file", f"image segments overlap at 0x{segment.address:08X}")
        for other in earlier:
            for mine in image.segments:
                for theirs in other.segments:
                    if mine.address < theirs.end and theirs.address < mine.end:
                        raise entry.error(
                            None,
                            f"image overlaps image [images.{toml_key(other.name)}] at "
                            f"{_span(max(mine.address, theirs.address), min(mine.end, theirs.end))}",
                        )

    # -- serial rule

    def _credentials(self, top: StrictTable) -> CredentialSettings:
        table = top.required_table(
            "credentials",
            ["plan", "endpoint_name", "validity_days", "key_type", "server_uri", "update_vendor_id",
             "update_class_id", "update_auth_certificate"],
        )
        plan = CredentialPlan(table.choice("plan", CredentialPlan))
        template = table.string("endpoint_name")
        check_template(table, "endpoint_name", template, {"serial", "device_id"}, set())
        if "{serial}" not in template and "{device_id}" not in template:
            raise table.error("endpoint_name", "must contain {serial} or {device_id} so that every unit gets its own")
        sample = template.format(serial="S" * 20, device_id="0" * 16)
        if len(sample) > ENDPOINT_NAME_MAX_LENGTH:
            raise table.error(
                "endpoint_name",
                f"is {len(sample)} characters for a 20-character serial; "
                f"at most {ENDPOINT_NAME_MAX_LENGTH} fit a certificate",
            )
        validity_days = table.integer("validity_days", minimum=1, maximum=40 * 366)
        key_type = KeyType(table.choice("key_type", KeyType, default=KeyType.EC_P256.value))
        server_uri = table.string("server_uri")
        parts = urlsplit(server_uri)
        if not parts.scheme or not parts.netloc or any(character.isspace() for character in server_uri):
            raise table.error("server_uri", f"{server_uri!r} is not a URI with a scheme and a host")

        vendor = self._uuid(table, "update_vendor_id")
        device_class = self._uuid(table, "update_class_id")
        certificate: bytes | None = None
        certificate_path: Path | None = None
        certificate_name = table.optional_string("update_auth_certificate")
        if certificate_name is not None:
            certificate_path = self.base / certificate_name
            certificate = self._certificate_file(table, "update_auth_certificate", certificate_path)
        given = [value is not None for value in (vendor, device_class, certificate)]
        if any(given) and not all(given):
            raise table.error(
                None,
                "firmware update needs update_auth_certificate, update_vendor_id and update_class_id together",
            )
        return CredentialSettings(
            plan=plan,
            endpoint_name_template=template,
            validity_days=validity_days,
            key_type=key_type,
            server_uri=server_uri,
            update_vendor_id=vendor,
            update_class_id=device_class,
            update_auth_certificate=certificate,
            update_auth_certificate_path=certificate_path,
        )

    @staticmethod
    def _uuid(table: StrictTable, key: str) -> uuid.UUID | None:
        text = table.optional_string(key)
        if text is None:
            return None
        try:
            return uuid.UUID(text)
        except ValueError:
            raise table.error(key, f"{text!r} is not a UUID") from None

    @staticmethod
    def _certificate_file(table: StrictTable, key: str, path: Path) -> bytes:
        """DER bytes of a PEM or DER certificate file (parsed properly in station.security)."""
        if not path.is_file():
            raise table.error(key, f"certificate file {path} does not exist")
        data = path.read_bytes()
        if b"-----BEGIN CERTIFICATE-----" in data:
            match = re.search(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", data, re.DOTALL)
            if match is None:
                raise table.error(key, f"{path.name} has no complete PEM certificate")
            try:
                data = base64.b64decode(b"".join(match.group(1).split()), validate=True)
            except binascii.Error:
                raise table.error(key, f"{path.name} holds a damaged PEM certificate") from None
        if len(data) < 64 or data[0] != 0x30:
            raise table.error(key, f"{path.name} is not a certificate (PEM or DER)")
        return data


def _uncovered(start: int, end: int, regions: list[FlashRegion]) -> tuple[int, int] | None:
    """The first sub-range of [start, end) that no region covers, or None."""
    position = start
    for region in sorted(regions, key=lambda item: item.address):
        if region.end <= position:
            continue
        if region.address > position:
            return position, min(region.address, end)
        position = region.end
        if position >= end:
            return None
    return (position, end) if position < end else None
