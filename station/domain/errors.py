"""The station's one rooted exception tree.

Every failure the station can meet is a ``StationError`` with a stable ``code`` (stored with
the attempt and shown to operators next to the plain-words message) and structured fields
such as ``address``. Messages never carry secrets: callers pass fingerprints, not tokens.
"""

from __future__ import annotations


class StationError(Exception):
    """Base of every error the station raises on purpose."""

    code: str = "STATION"

    def __init__(self, message: str, *, code: str | None = None, address: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.address = address

    def __str__(self) -> str:
        if self.address is not None:
            return f"{self.message} (address 0x{self.address:08X})"
        return self.message


class FormatError(StationError):
    """A binary structure read from a unit (header, credential region) is not valid."""

    code = "FORMAT"


class ConfigurationError(StationError):
    """Station or recipe configuration is wrong; nothing was touched."""

    code = "CONFIG"


class SimulationError(StationError):
    """A simulated unit was asked for something it cannot do (unknown unit, bad fault spec)."""

    code = "SIM"
