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


class StoreError(StationError):
    """The traceability store refused or failed an operation (schema, constraint, limit)."""

    code = "STORE"


class RecipeError(ConfigurationError):
    """A recipe (or a file it names) is invalid; ``place`` says where: file, table and key."""

    code = "RECIPE"

    def __init__(self, place: str, message: str) -> None:
        super().__init__(f"{place}: {message}")
        self.place = place
        self.detail = message


class ScanError(StationError):
    """A scanned text does not satisfy the recipe's serial-number rule; the unit is not touched."""

    code = "SCAN"


class BindingError(StationError):
    """The recipe binds this serial to another device id (or to none)."""

    code = "BINDING"


class CredentialError(StationError):
    """A credential cannot be issued or a credential region read back is not what was issued."""

    code = "CREDENTIAL"


class CaError(StationError):
    """The factory CA cannot be created or opened (exists already, wrong passphrase, missing)."""

    code = "CA"


class StationKeyError(StationError):
    """The station's signing key file cannot be read or is not an Ed25519 key."""

    code = "STATION_KEY"


class VaultError(StationError):
    """The activation-token vault refuses: wrong passphrase, bad import, no token left, tampering.

    Messages name tokens by fingerprint and import lines by number, never by their text.
    """

    code = "VAULT"


class PassphraseError(ConfigurationError):
    """No passphrase could be obtained (no environment variable and no terminal), or they differ."""

    code = "PASSPHRASE"


# ---- Errors met while working on a unit: each becomes a FAILED step with its code. ----------


class UnitError(StationError):
    """Something went wrong with the unit, the probe or the console during an attempt."""

    code = "UNIT"


class ProbeError(UnitError):
    """The debug probe cannot be opened or lost the unit (cable, power, USB)."""

    code = "PROBE"


class UnitLockedError(UnitError):
    """The unit's debug port is locked: it is never erased here; a supervisor decides (rework)."""

    code = "UNIT_LOCKED"


class DevelopmentUnitError(UnitError):
    """The unit was erased through its debug port once: a development unit for life, never shipped."""

    code = "DEVELOPMENT_UNIT"


class FlashError(UnitError):
    """Programming failed (flash algorithm error, timeout, transfer fault)."""

    code = "FLASH"


class VerifyError(UnitError):
    """What was read back differs from what was programmed."""

    code = "VERIFY_MISMATCH"


class LockError(UnitError):
    """The lock could not be applied or was not confirmed after a reset."""

    code = "LOCK"


class ConsoleError(UnitError):
    """The unit's serial console failed: port, timeout, garbled reply or a refused command."""

    code = "CONSOLE"


class ConsoleTimeoutError(ConsoleError):
    code = "CONSOLE_TIMEOUT"


class ConsoleProtocolError(ConsoleError):
    """A reply that does not parse: wrong framing, wrong length, not text."""

    code = "CONSOLE_GARBLED"


class ConsoleCommandError(ConsoleError):
    """The unit answered, and the answer was a failure (its status and body are kept)."""

    code = "CONSOLE_REFUSED"

    def __init__(self, message: str, *, status: int, body: str, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.body = body


class ActivationError(ConsoleCommandError):
    """The device-management service refused the activation (400/401/403 style)."""

    code = "ACTIVATION_REFUSED"


class IdentityError(UnitError):
    """After a reset the unit's identity (device id, endpoint, certificate) is not what was injected."""

    code = "IDENTITY_MISMATCH"


class StepTimeoutError(UnitError):
    """A step took longer than the recipe allows."""

    code = "STEP_TIMEOUT"
