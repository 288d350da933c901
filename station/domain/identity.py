"""Who a unit is: the serial number printed on it and the device id burnt into its silicon.

Both are small validated value types so that a string that was never checked cannot be
passed where an identity is expected. The serial comes from a scan (see ``scan.py``), the
device id from the chip through its device profile (nRF52: FICR DEVICEID, 16 hex digits;
STM32: UID, 24; Kinetis: SIM_UID, 32) and is written in uppercase hex, the convention the
device-management service checks in certificates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from station.domain.errors import DeviceIdError, ScanError

SERIAL_MAX_LENGTH = 64
# Printable ASCII without spaces: serials end up in certificate subjects, endpoint names,
# console commands and file names, where whitespace and control characters do harm.
_SERIAL_PATTERN = re.compile(r"^[\x21-\x7e]+$")
# 64, 96 or 128 bits: nRF52 FICR DEVICEID, STM32 UID, Kinetis SIM_UID (the device profiles).
DEVICE_ID_DIGITS: Final = (16, 24, 32)
_DEVICE_ID_PATTERN = re.compile(r"^(?:0[xX])?((?:[0-9A-Fa-f]{8}){2,4})$")
_DEVICE_ID_WORDING: Final = "16, 24 or 32 hex digits"


@dataclass(frozen=True)
class Serial:
    """A unit's serial number, checked against the recipe's rule; ``gtin`` when the scan had one."""

    value: str
    gtin: str | None = None

    def __post_init__(self) -> None:
        if not self.value:
            raise ScanError("the serial number is empty")
        if len(self.value) > SERIAL_MAX_LENGTH:
            raise ScanError(f"the serial number is longer than {SERIAL_MAX_LENGTH} characters")
        if not _SERIAL_PATTERN.match(self.value):
            raise ScanError("the serial number may only hold printable characters without spaces")

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class DeviceId:
    """The chip's unique id in uppercase hex, as its device profile reads it: 16 digits (nRF52
    FICR DEVICEID[1]:DEVICEID[0]), 24 (STM32 UID) or 32 (Kinetis SIM_UID), most significant first."""

    value: str

    def __post_init__(self) -> None:
        if len(self.value) not in DEVICE_ID_DIGITS or not re.fullmatch(r"[0-9A-F]+", self.value):
            raise DeviceIdError(f"device id {self.value!r} is not {_DEVICE_ID_WORDING} in upper case")

    @classmethod
    def parse(cls, text: str) -> DeviceId:
        """Accept hex in any case, with or without ``0x``; keep the canonical uppercase form."""
        match = _DEVICE_ID_PATTERN.match(text.strip())
        if match is None:
            raise DeviceIdError(f"device id {text!r} is not {_DEVICE_ID_WORDING}")
        return cls(match.group(1).upper())

    @classmethod
    def from_int(cls, number: int, digits: int = 16) -> DeviceId:
        """The id of a ``digits``-digit chip (16 for nRF52) from its number."""
        if digits not in DEVICE_ID_DIGITS or not 0 <= number < 1 << (4 * digits):
            raise DeviceIdError(f"device id {number} does not fit in {digits} hex digits")
        return cls(f"{number:0{digits}X}")

    def __str__(self) -> str:
        return self.value
