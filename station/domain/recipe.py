"""Recipes: everything the station needs to know about one product, as immutable value types.

A recipe is written by an engineer as one TOML file (its layout and the loading rules are in
``station.domain.recipe_loader``), checked with ``station recipe check``, and identified by
``content_hash`` (SHA-256 of the file's bytes): an edited recipe is a new recipe, and the
hash is stored with every attempt that used it. A ``Recipe`` that exists has passed every
check: its images are loaded and their pinned hashes match, and every step has its policy.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from station.domain.errors import BindingError, CredentialError, RecipeError
from station.domain.identity import DeviceId, Serial
from station.domain.label import LabelSettings
from station.domain.scan import SerialRule
from station.domain.selftest import SelfTestSettings

SCHEMA_VERSION: Final = 1
PRODUCT_CODE_PATTERN: Final = re.compile(r"^[A-Z0-9]{2,16}-[A-Z0-9_][A-Z0-9_-]{0,47}$")
ENDPOINT_NAME_MAX_LENGTH: Final = 64  # X.509 upper bound for a common name


# --------------------------------------------------------------------------- value types


class RegionRole(enum.StrEnum):
    BOOTLOADER = "bootloader"
    APP_HEADER = "app_header"
    APPLICATION = "application"
    CREDENTIALS = "credentials"
    KEY_STORE = "key_store"
    KEEP = "keep"

    @property
    def is_protected(self) -> bool:
        """Regions that firmware programming must never write."""
        return self in (RegionRole.CREDENTIALS, RegionRole.KEY_STORE, RegionRole.KEEP)


@dataclass(frozen=True)
class FlashRegion:
    name: str
    role: RegionRole
    address: int
    size: int

    @property
    def end(self) -> int:
        """First address after the region."""
        return self.address + self.size

    def overlaps(self, address: int, end: int) -> bool:
        return self.address < end and address < self.end

    def contains(self, address: int, end: int) -> bool:
        return self.address <= address and end <= self.end


@dataclass(frozen=True)
class FlashGeometry:
    start: int
    size: int
    page_size: int
    regions: tuple[FlashRegion, ...]
    chip_erase: bool = True  # whether the station may erase the whole chip where that is cheaper

    @property
    def end(self) -> int:
        return self.start + self.size

    def regions_with_role(self, role: RegionRole) -> tuple[FlashRegion, ...]:
        return tuple(region for region in self.regions if region.role is role)

    def region(self, role: RegionRole) -> FlashRegion:
        """The one region with ``role`` (the loader guarantees at most one for non-keep roles)."""
        found = self.regions_with_role(role)
        if not found:
            raise RecipeError("recipe", f"it has no {role.value} region")
        return found[0]

    @property
    def credentials_region(self) -> FlashRegion:
        return self.region(RegionRole.CREDENTIALS)

    @property
    def key_store_region(self) -> FlashRegion | None:
        found = self.regions_with_role(RegionRole.KEY_STORE)
        return found[0] if found else None


class ImageFormat(enum.StrEnum):
    BIN = "bin"
    HEX = "hex"
    ELF = "elf"


@dataclass(frozen=True)
class ImageSegment:
    """Bytes to program at an address."""

    address: int
    data: bytes = field(repr=False)

    @property
    def end(self) -> int:
        return self.address + len(self.data)

    def __repr__(self) -> str:
        return f"ImageSegment(address=0x{self.address:08X}, length={len(self.data)})"


@dataclass(frozen=True)
class FirmwareImage:
    """One image of the recipe, loaded and checked; ``sha256`` is the pinned (and actual) hash."""

    name: str
    path: Path
    format: ImageFormat
    sha256: str
    segments: tuple[ImageSegment, ...]
    load_address: int | None = None  # BIN only

    @property
    def size(self) -> int:
        return sum(len(segment.data) for segment in self.segments)

    @property
    def start(self) -> int:
        return self.segments[0].address

    @property
    def end(self) -> int:
        return max(segment.end for segment in self.segments)


class CredentialPlan(enum.StrEnum):
    STATION_GENERATED = "station-generated"
    DEVICE_GENERATED = "device-generated"


class KeyType(enum.StrEnum):
    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"


@dataclass(frozen=True)
class CredentialSettings:
    """How a unit's production credential is made and what its bundle carries."""

    plan: CredentialPlan
    endpoint_name_template: str
    validity_days: int
    key_type: KeyType
    server_uri: str
    update_vendor_id: uuid.UUID | None = None
    update_class_id: uuid.UUID | None = None
    update_auth_certificate: bytes | None = field(default=None, repr=False)  # DER
    update_auth_certificate_path: Path | None = None

    def endpoint_name(self, serial: Serial | str, device_id: DeviceId | str) -> str:
        """The endpoint name (certificate CN) of one unit."""
        return render_endpoint_name(self.endpoint_name_template, str(serial), str(device_id))


class LockMethod(enum.StrEnum):
    NRF52_APPROTECT = "nrf52-approtect"
    STM32_RDP1 = "stm32-rdp1"
    STM32_RDP2 = "stm32-rdp2"
    KINETIS_FSEC = "kinetis-fsec"
    EFM32_DEBUG_LOCK_WORD = "efm32-debug-lock-word"


# Settings of ``[lock]`` that only one method reads; the loader refuses them under any other.
KINETIS_ONLY_LOCK_KEYS: Final = ("mass_erase", "backdoor")


@dataclass(frozen=True)
class LockSettings:
    """How the recipe locks its units' debug port, and what it accepts about that lock.

    ``permanent`` is the recipe's explicit consent to a lock that no erase can undo (STM32 RDP
    level 2; Kinetis with mass erase disabled): the loader refuses such a lock without it, and
    refuses the flag on a lock that is not permanent, so that nobody reads it as a promise.
    ``parts_ship_protected`` says that fresh parts arrive with the port locked (nRF52 parts
    with hardened APPROTECT): only then does the station erase a locked unit whose serial has
    no record anywhere, as the first step of its first attempt.
    """

    method: LockMethod
    permanent: bool = False
    parts_ship_protected: bool = False
    mass_erase: bool = True  # kinetis-fsec: FSEC MEEN; False disables mass erase for good
    backdoor: bool = False  # kinetis-fsec: FSEC KEYEN, the backdoor key the firmware image carries

    @property
    def is_permanent(self) -> bool:
        """Whether the lock, once latched, can never be undone by any erase."""
        return self.method is LockMethod.STM32_RDP2 or (self.method is LockMethod.KINETIS_FSEC and not self.mass_erase)

    @property
    def no_rework_reason(self) -> str | None:
        """Why units of this recipe are never offered rework (None: they may be)."""
        if not self.is_permanent:
            return None
        return f"units locked by {self.method.value} are locked for good: no erase reopens them, so no rework"


# The pyOCD target types (by prefix) each supported lock method is for: the station reads the
# device id, locks, confirms the lock and reworks only these (docs/targets.md lists them). The
# one place this is kept: the recipe loader checks recipes against it and the device profiles
# (station/drivers/profiles) take their targets from it.
_STM32F4_TARGETS: Final = ("stm32f412", "stm32f429", "stm32f439")  # RM0402/RM0090 flash interface
# Silicon Labs' Series 1 parts (the MSC at 0x400E0000, the debug lock word, the AAP), as their
# CMSIS packs name them: Series 0 (EFM32G, GG, LG, WG, TG1xx, ...) has another MSC layout and
# AAP, Series 2 (xG21 and later) locks through its secure element; neither is one of these.
_EFM32_SERIES_1_TARGETS: Final = (
    "efm32gg1", "efm32jg1", "efm32pg1", "efm32tg11", "efr32bg1", "efr32fg1", "efr32mg1", "efr32zg14",
)  # fmt: skip
LOCK_METHOD_TARGETS: Final[Mapping[LockMethod, tuple[str, ...]]] = {
    LockMethod.NRF52_APPROTECT: ("nrf52",),
    LockMethod.STM32_RDP1: _STM32F4_TARGETS,
    LockMethod.STM32_RDP2: _STM32F4_TARGETS,
    LockMethod.KINETIS_FSEC: ("k64f",),
    LockMethod.EFM32_DEBUG_LOCK_WORD: _EFM32_SERIES_1_TARGETS,
}
SUPPORTED_LOCK_METHODS: Final = frozenset(LOCK_METHOD_TARGETS)


@dataclass(frozen=True)
class DevicePack:
    """A CMSIS device family pack that describes the recipe's target, for pyOCD's ``pack``
    session option (a part beyond pyOCD's built-in targets). ``sha256`` pins the .pack file's
    bytes, as an image's hash pins its content; ``device`` and ``vendor`` are the pack's names
    for the part the target is (checked by the loader: see docs/targets.md)."""

    path: Path
    sha256: str
    device: str  # the .pdsc's Dname (or Dvariant), e.g. "nRF52840_xxAA"
    vendor: str = ""  # the family's Dvendor without its number, e.g. "Nordic Semiconductor"


class ReplyFormat(enum.StrEnum):
    TEXT = "text"  # a reply is the lines up to a success or failure line
    GECKO_MACHINE = "gecko-machine"  # a header "R<status><length>" then exactly <length> bytes




@dataclass(frozen=True)
class ConsoleCommands:
    version: str
    uuid: str
    endpoint: str
    certificate_fingerprint: str
    csr: str
    activate: str
    reboot: str
    # Asks the unit which product it is activated to: an answer is the product, an error reply
    # matching the dialect's ``not_activated`` means none. Optional: without it a unit resumed
    # after an unanswered activation is activated again.
    activation_status: str | None = None

    def csr_command(self, common_name: str, serial: str = "", device_id: str = "") -> str:
        return self.csr.format(common_name=common_name, serial=serial, device_id=device_id)

    def activate_command(self, token: str) -> str:
        """The activation command line. It holds the secret: send it, never log or store it."""
        return self.activate.format(token=token)


@dataclass(frozen=True)
class ConsoleDialect:
    baud_rate: int
    line_ending: str
    reply_format: ReplyFormat
    commands: ConsoleCommands
    banner: re.Pattern[str]
    success: re.Pattern[str]
    failure: re.Pattern[str]
    command_timeout_seconds: float
    boot_timeout_seconds: float
    activate_timeout_seconds: float
    not_activated: re.Pattern[str] = re.compile("(?i)not activated")


@dataclass(frozen=True)
class ActivationSettings:
    product: str  # the device-management service's production product
    token_pool: str  # the vault's product whose tokens activate to it


class StepName(enum.StrEnum):
    """Every step the station runs on a unit; each has its deadline and retries in the recipe."""

    CONNECT = "connect"
    FLASH = "flash"
    VERIFY = "verify"
    CREDENTIALS = "credentials"
    LOCK = "lock"
    LOCK_CONFIRM = "lock-confirm"
    ACTIVATE = "activate"
    IDENTITY = "identity"
    REWORK = "rework"


@dataclass(frozen=True)
class StepPolicy:
    """How long one try of a step may take, and how many more tries a transient fault earns."""

    name: StepName
    timeout_seconds: float
    retries: int


@dataclass(frozen=True)
class StepInstruction:
    """What the operator is told while a step runs ("place the unit in fixture 3, close the lid"):
    a short text and an optional picture, whose bytes are read (and checked to be a PNG or JPEG)
    when the recipe loads, so that what is shown is what was checked."""

    step: StepName
    text: str
    picture_path: Path | None = None
    picture: bytes = field(default=b"", repr=False, compare=False)


@dataclass(frozen=True)
class SerialBinding:
    """Serials bound to the device ids they must be found on (for pre-assigned labels)."""

    devices: tuple[tuple[str, str], ...]  # (serial, device id)
    require_listed: bool = True

    def expected_device_id(self, serial: Serial | str) -> str | None:
        key = str(serial)
        for bound_serial, device_id in self.devices:
            if bound_serial == key:
                return device_id
        return None

    def check(self, serial: Serial | str, device_id: DeviceId | str) -> None:
        """Raise ``BindingError`` if the recipe binds ``serial`` elsewhere (or not at all)."""
        expected = self.expected_device_id(serial)
        if expected is None:
            if self.require_listed:
                raise BindingError(f"serial {serial} is not listed in the recipe's binding")
            return
        if expected != str(device_id):
            raise BindingError(f"serial {serial} is bound to device {expected}, but this unit is {device_id}")


@dataclass(frozen=True)
class Recipe:
    path: Path
    content_hash: str  # SHA-256 hex of the recipe file's bytes
    product: str
    description: str
    target: str
    firmware_version: str
    flash: FlashGeometry
    images: tuple[FirmwareImage, ...]
    serial_rule: SerialRule
    credentials: CredentialSettings
    lock: LockSettings
    console: ConsoleDialect
    activation: ActivationSettings
    steps: tuple[StepPolicy, ...]
    binding: SerialBinding | None = None
    source_text: str = field(default="", repr=False, compare=False)
    instructions: tuple[StepInstruction, ...] = ()
    selftest: SelfTestSettings = field(default_factory=SelfTestSettings)
    pack: DevicePack | None = None  # the CMSIS pack the target comes from; None: a pyOCD built-in
    # People whose signatures a station in production needs ([approval] required): 1, the
    # engineer who signs; 2, and a second person who approves (station.domain.recipe_signature).
    signatures_required: int = 1
    label: LabelSettings | None = None  # [label]: what is printed after a PASS, and where

    @property
    def image_hashes(self) -> tuple[str, ...]:
        return tuple(image.sha256 for image in self.images)

    def instruction(self, step: str) -> StepInstruction | None:
        """The operator's instruction for a step, if the recipe gives one."""
        return next((instruction for instruction in self.instructions if instruction.step.value == step), None)

    def step(self, name: StepName | str) -> StepPolicy:
        wanted = StepName(name)
        for policy in self.steps:
            if policy.name is wanted:
                return policy
        raise RecipeError("recipe", f"it has no policy for step {wanted.value}")


def render_endpoint_name(template: str, serial: str, device_id: str) -> str:
    """Expand an endpoint-name template (validated by the loader) for one unit."""
    name = template.format(serial=serial, device_id=device_id)
    if not name or len(name) > ENDPOINT_NAME_MAX_LENGTH:
        raise CredentialError(
            f"endpoint name for serial {serial} is {len(name)} characters; 1 to {ENDPOINT_NAME_MAX_LENGTH} allowed"
        )
    return name

