"""Who a unit is: the serial number printed on it and the device id burnt into its silicon.

Both are small validated value types so that a string that was never checked cannot be
passed where an identity is expected. The serial comes from a scan (see ``scan.py``), the
device id from the chip (nRF52: FICR DEVICEID) and is written as 16 uppercase hex digits,
the convention the device-management service checks in certificates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from station.domain.errors import DeviceIdError, ScanError

SERIAL_MAX_LENGTH = 64
# Printable ASCII without spaces: serials end up in certificate subjects, endpoint names,
# console commands and file names, where whitespace and control characters do harm.
_SERIAL_PATTERN = re.compile(r"^[\x21-\x7e]+$")
_DEVICE_ID_PATTERN = re.compile(r"^(?:0[xX])?([0-9A-Fa-f]{16})$")


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
    """The chip's unique id as 16 uppercase hex digits (nRF52: FICR DEVICEID[1]:DEVICEID[0])."""

    value: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9A-F]{16}", self.value):
            raise DeviceIdError(f"device id {self.value!r} is not 16 uppercase hex digits")

    @classmethod
    def parse(cls, text: str) -> DeviceId:
        """Accept hex in any case, with or without ``0x``; keep the canonical uppercase form."""
        match = _DEVICE_ID_PATTERN.match(text.strip())
        if match is None:
            raise DeviceIdError(f"device id {text!r} is not 16 hex digits")
        return cls(match.group(1).upper())

    @classmethod
    def from_int(cls, number: int) -> DeviceId:
        if not 0 <= number < 1 << 64:
            raise DeviceIdError(f"device id {number} does not fit in 64 bits")
        return cls(f"{number:016X}")

    def __str__(self) -> str:
        return self.value
