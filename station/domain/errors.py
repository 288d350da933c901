"""The station's one rooted exception tree.

Every failure the station can meet or record is a class here with a stable ``code`` (stored
with the attempt and shown to operators next to the plain-words message) and structured
fields such as ``address``. A code is defined once, by one class: no layer compares another
layer's error by its text or builds a code from a string. ``error_class_for`` turns a code
read back from the records into its class. Messages never carry secrets: callers pass
fingerprints, not tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

_CLASSES_BY_CODE: dict[str, type[StationError]] = {}


class StationError(Exception):
    """Base of every error the station raises on purpose."""

    code: ClassVar[str] = "STATION"
    # The station needs a supervisor or an engineer before it can go on (an amber tile), rather
    # than the operator's next try or the next unit.
    needs_person: ClassVar[bool] = False

    def __init__(self, message: str, *, address: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.address = address

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            _register(cls)

    def __str__(self) -> str:
        if self.address is not None:
            return f"{self.message} (address 0x{self.address:08X})"
        return self.message


def _register(cls: type[StationError]) -> None:
    existing = _CLASSES_BY_CODE.get(cls.code)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise TypeError(f"error code {cls.code} is defined twice: {existing.__qualname__} and {cls.__qualname__}")
    _CLASSES_BY_CODE[cls.code] = cls


_CLASSES_BY_CODE[StationError.code] = StationError


def error_class_for(code: str | None) -> type[StationError]:
    """The class that defines ``code`` (a code from the records); StationError for one unknown here."""
    if code is None:
        return StationError
    return _CLASSES_BY_CODE.get(code, StationError)


def known_codes() -> frozenset[str]:
    """Every failure code the station can record."""
    return frozenset(_CLASSES_BY_CODE)


class FormatError(StationError):
    """A binary structure read from a unit (header, credential region) is not valid."""

    code = "FORMAT"


class DeviceIdError(FormatError):
    """A device id is not the 64-bit value the station expects."""

    code = "DEVICE_ID"


class ConfigurationError(StationError):
    """Station or recipe configuration is wrong; nothing was touched."""

    code = "CONFIG"


class NoProbeError(ConfigurationError):
    """A slot has no probe or console to work with; an engineer must set it up."""

    code = "NO_PROBE"
    needs_person = True


class NoRecipeError(ConfigurationError):
    """No recipe is chosen (or the configured one was refused): an engineer must choose one."""

    code = "NO_RECIPE"
    needs_person = True


class RecoveryRunningError(StationError):
    """The station is settling attempts a restart left open: units wait until it is done."""

    code = "RECOVERY"


class SimulationError(StationError):
    """A simulated unit was asked for something it cannot do (unknown unit, bad fault spec)."""

    code = "SIM"


class StoreError(StationError):
    """The traceability store refused or failed an operation (schema, constraint, limit)."""

    code = "STORE"


class LineDatabaseError(StoreError):
    """The line database does not answer, or refused what a station forwarded; or a station's
    chain and the line's copy of it disagree (a conflict is reported, never merged)."""

    code = "LINE_DATABASE"


class LineConflictError(LineDatabaseError):
    """The station's chain and the line's copy of it disagree (a station database behind the line,
    another history under the same station name, a changed outbox row): a supervisor looks;
    nothing is merged."""

    code = "LINE_CONFLICT"
    needs_person = True


class LineOfflineError(LineDatabaseError):
    """The line's policy is ``stop`` and the line database has been away longer than its grace."""

    code = "LINE_OFFLINE"
    needs_person = True


class AttemptFinishedError(StoreError):
    """A change to an attempt that has ended (by its owner, or by another process's recovery)."""

    code = "ATTEMPT_FINISHED"


class ResultNotRecordedError(StoreError):
    """Every step passed but the pass could not be committed: the unit is not passed; the
    attempt stays open until the next scan (or start) settles it by asking the unit."""

    code = "NOT_RECORDED"


class RecipeError(ConfigurationError):
    """A recipe (or a file it names) is invalid; ``place`` says where: file, table and key."""

    code = "RECIPE"

    def __init__(self, place: str, message: str) -> None:
        super().__init__(f"{place}: {message}")
        self.place = place
        self.detail = message


class RecipeProblemsError(RecipeError):
    """Every problem found in one recipe, so that an engineer fixes them in one pass: ``problems``
    are the single errors, each naming its file, table and key; the message lists them a line each."""

    def __init__(self, problems: Sequence[ConfigurationError]) -> None:
        ConfigurationError.__init__(self, "\n".join(str(problem) for problem in problems))
        self.problems = tuple(problems)
        first = self.problems[0]
        self.place = first.place if isinstance(first, RecipeError) else ""
        self.detail = first.detail if isinstance(first, RecipeError) else str(first)


class SettingsError(ConfigurationError):
    """The station settings file is invalid; ``place`` says where: file, table and key."""

    code = "SETTINGS"

    def __init__(self, place: str, message: str) -> None:
        super().__init__(f"{place}: {message}")
        self.place = place
        self.detail = message


class ScanError(StationError):
    """A scanned text does not satisfy the recipe's serial-number rule; the unit is not touched."""

    code = "SCAN"


class GtinError(ScanError):
    """A GS1 barcode whose GTIN or element strings do not parse."""

    code = "GTIN"


class LabelError(StationError):
    """A unit's label cannot be made or printed as asked (not passed, labelled already, data a
    code cannot carry); the unit's record is unchanged."""

    code = "LABEL"


class PrinterError(LabelError):
    """The label printer did not take the label (offline, refused, timed out, no such queue):
    the unit stays PASSED and its label pending."""

    code = "PRINTER"


class BindingError(StationError):
    """The recipe binds this serial to another device id (or to none)."""

    code = "BINDING"


class SerialInProgressError(StationError):
    """Another attempt, whose owner is alive, holds this serial: the unit is refused untouched.
    ``holder`` says where and since when (``station-b/2 since 2026-12-06 08:00:00 UTC``)."""

    code = "SERIAL_IN_PROGRESS"
    needs_person = True

    def __init__(self, holder: str) -> None:
        super().__init__(f"this serial is being provisioned at {holder}")
        self.holder = holder


class WorkOrderCompleteError(StationError):
    """The work order has no place left for another unit: its ``quantity`` units have passed or
    are in progress. Refused before the unit is touched; a supervisor raises the quantity or
    the line moves to the next work order."""

    code = "WORK_ORDER_COMPLETE"
    needs_person = True

    def __init__(self, work_order: str, quantity: int, taken: int) -> None:
        super().__init__(
            f"work order {work_order} is complete: {taken} of {quantity} units passed or in progress"
        )
        self.work_order = work_order
        self.quantity = quantity
        self.taken = taken


class SerialRuleError(ConfigurationError):
    """A work order's serial rule (template, range, check digit) is malformed, or makes serials
    the recipe's scan rule would not accept; nothing is stored."""

    code = "SERIAL_RULE"


class SerialAllocationError(StoreError):
    """A serial cannot be allocated, bound, released, used or scrapped as asked (another
    station's lease, a state that does not allow it); nothing is changed."""

    code = "SERIAL_ALLOCATION"


class SerialRangeExhaustedError(SerialAllocationError):
    """Every running number of the work order's range is leased and none is free or returned:
    a supervisor extends the range or the line moves to the next work order."""

    code = "SERIAL_RANGE_EXHAUSTED"
    needs_person = True


class NoLeasedSerialError(SerialAllocationError):
    """A station on a line has handed out every serial of its leased blocks and the line
    database did not lease it another (it does not answer): no unlabelled unit until it does."""

    code = "NO_LEASED_SERIAL"


class DeviceInProgressError(StationError):
    """Another open attempt holds this device (the same board under another label)."""

    code = "DEVICE_IN_PROGRESS"
    needs_person = True

    def __init__(self, device_id: str, holder: str) -> None:
        super().__init__(f"device {device_id} is being provisioned {holder}")
        self.holder = holder


class DeviceAlreadyPassedError(StationError):
    """This device already passed under another serial: one device never ships under two labels."""

    code = "DEVICE_ALREADY_PASSED"
    needs_person = True


class AlreadyPassedError(StationError):
    """The unit already passed: it is refused before it is touched; only a rework opens it again."""

    code = "ALREADY_PASSED"


class CredentialError(StationError):
    """A credential cannot be issued or a credential region read back is not what was issued."""

    code = "CREDENTIAL"


class CaError(StationError):
    """The factory CA cannot be created or opened (exists already, wrong passphrase, missing)."""

    code = "CA"
    needs_person = True


class StationKeyError(StationError):
    """The station's signing key file cannot be read or is not an Ed25519 key."""

    code = "STATION_KEY"


class KeyStoreError(StationError):
    """A key held in a hardware token (PKCS#11) cannot be reached or used: the module does not
    load, an operation of the token failed, a key of that label exists already.

    Messages name tokens and keys by label, serial and URI (without any PIN), never a PIN.
    """

    code = "KEY_STORE"
    needs_person = True


class KeyStoreUriError(KeyStoreError):
    """A PKCS#11 URI (RFC 7512) is malformed, or carries what it must not (``pin-value``)."""

    code = "KEY_STORE_URI"


class TokenPinError(KeyStoreError):
    """The token's PIN is wrong or locked, or its source is unusable (a PIN file others can read)."""

    code = "TOKEN_PIN"


class TokenNotFoundError(KeyStoreError):
    """No token (or more than one) matches what the URI names: not plugged in, or another token."""

    code = "TOKEN_NOT_FOUND"


class TokenKeyNotFoundError(KeyStoreError):
    """The token has no key of the label (and type) asked for."""

    code = "TOKEN_KEY_NOT_FOUND"


class VaultError(StationError):
    """The activation-token vault refuses: wrong passphrase, bad import, no token left, tampering.

    Messages name tokens by fingerprint and import lines by number, never by their text.
    """

    code = "VAULT"
    needs_person = True


class TokenLimitError(VaultError):
    """The token has no use left: another slot may have taken its last one."""

    code = "TOKEN_LIMIT"


class PassphraseError(ConfigurationError):
    """No passphrase could be obtained (no environment variable and no terminal), or they differ."""

    code = "PASSPHRASE"


class BackupError(StationError):
    """A backup cannot be made, or an archive cannot be restored: damaged or cut short, a wrong
    passphrase or token key, a target that is not empty. Messages never hold the passphrase."""

    code = "BACKUP"
    needs_person = True


# ---- Signed, approved recipes (station.operations.recipe_signing) ---------------------------------


class SigningKeyError(ConfigurationError):
    """A person's signing key cannot be made, read or registered (wrong passphrase, a key file
    others may read, a key registered already). Messages name files and fingerprints only."""

    code = "SIGNING_KEY"


class RecipeSignatureError(ConfigurationError):
    """A recipe's signature document is unreadable, or the recipe cannot be signed or approved
    as asked. Every refusal of a signed recipe is one of this class's family; the recipe is not
    run (nothing is touched)."""

    code = "RECIPE_SIGNATURE"
    needs_person = True


class RecipeUnsignedError(RecipeSignatureError):
    """The recipe has no signature: a station in production runs only signed recipes."""

    code = "RECIPE_UNSIGNED"


class RecipeSignerError(RecipeSignatureError):
    """The signer (or approver) is not someone this station trusts for it: unknown here, not an
    engineer (approver: not a supervisor or engineer), or the key is not theirs or revoked."""

    code = "RECIPE_SIGNER"


class RecipeSignatureInvalidError(RecipeSignatureError):
    """A signature in the document does not verify over what the document says was signed."""

    code = "RECIPE_SIGNATURE_INVALID"


class RecipeChangedError(RecipeSignatureError):
    """The recipe, or a file it makes the station use, differs from what was signed."""

    code = "RECIPE_CHANGED"


class RecipeApprovalMissingError(RecipeSignatureError):
    """The recipe asks for two people ([approval] required = 2) and no second person approved it."""

    code = "RECIPE_APPROVAL_MISSING"


class RecipeSelfApprovalError(RecipeSignatureError):
    """The approval is by the person (or with the key) that signed: two people means two people."""

    code = "RECIPE_SELF_APPROVAL"


# ---- The golden-unit self-test ------------------------------------------------------------------


class SelfTestRequiredError(StationError):
    """The recipe requires a passed station self-test (on its golden unit) in the current shift, or
    within its validity, before production scans: the unit is refused untouched until one passes."""

    code = "SELFTEST_REQUIRED"
    needs_person = True


class NotGoldenError(StationError):
    """A self-test was asked for on a unit that is not a golden unit of this recipe (or has no
    recorded reference): refused before the unit is touched, nothing recorded."""

    code = "NOT_GOLDEN"


class GoldenReferenceError(ConfigurationError):
    """A golden unit's reference cannot be taken: no probe was given and the unit has no PASS
    attempt to take it from, or the unit on the probe is not the unit named."""

    code = "GOLDEN_REFERENCE"


# ---- Slots ------------------------------------------------------------------------------------


class SlotError(StationError):
    """A unit cannot start in a slot now; ``slot`` names it (when there is one)."""

    code = "SLOT"

    def __init__(self, message: str, *, slot: str | None = None) -> None:
        super().__init__(message)
        self.slot = slot


class UnitAlreadyRunningError(SlotError):
    """The scanned unit is being provisioned in a slot already."""

    code = "ALREADY_RUNNING"


class SlotBusyError(SlotError):
    """The slot chosen for the unit is still working on another one."""

    code = "SLOT_BUSY"


class NoFreeSlotError(SlotError):
    """Every slot is working: the next unit waits for a result."""

    code = "NO_FREE_SLOT"


class WrongSlotError(SlotError):
    """The chosen slot runs a recipe whose labels this scan is not (a line of mixed products)."""

    code = "WRONG_SLOT"


# ---- People and their permissions ----------------------------------------------------------


class AccessError(StationError):
    """A login, PIN or permission check failed; the message never holds the PIN."""

    code = "ACCESS"


class PinRequiredError(AccessError):
    """A supervisor's action was asked for without a way to give the PIN (no terminal, no PIN file)."""

    code = "PIN_REQUIRED"


class LockedOutError(AccessError):
    """Too many wrong PINs: the person may not sign in or approve anything until ``until``."""

    code = "LOCKED_OUT"

    def __init__(self, message: str, *, until: datetime) -> None:
        super().__init__(message)
        self.until = until


# ---- Errors met while working on a unit: each becomes a FAILED step with its code. ----------


class UnitError(StationError):
    """Something went wrong with the unit, the probe or the console during an attempt."""

    code = "UNIT"


class InternalError(UnitError):
    """A bug of the station met while working on a unit: recorded, never a crash of the station."""

    code = "INTERNAL"


class ProbeError(UnitError):
    """The debug probe cannot be opened or lost the unit (cable, power, USB)."""

    code = "PROBE"
    needs_person = True


class UnitLockedError(UnitError):
    """The unit's debug port is locked: it is never erased here; a supervisor decides (rework)."""

    code = "UNIT_LOCKED"
    needs_person = True


class PermanentLockError(StationError):
    """The recipe's lock is permanent (STM32 RDP level 2, say): its units can never be reworked."""

    code = "PERMANENT_LOCK"


class RelabelledUnitError(UnitError):
    """A unit that looked factory-fresh (locked, its serial unknown) turned out, once erased, to be
    a device the station knows under another serial: a relabelled unit, never provisioned twice."""

    code = "RELABELLED_UNIT"
    needs_person = True


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

    def __init__(self, message: str, *, status: int, body: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ActivationError(ConsoleCommandError):
    """The device-management service refused the activation, for a reason it did not number."""

    code = "ACTIVATION_REFUSED"


class ActivationBadRequestError(ActivationError):
    """400: no or corrupt credentials on the unit, or its identity does not match them."""

    code = "ACTIVATION_400"


class ActivationUnauthorizedError(ActivationError):
    """401: the service does not know the activation token."""

    code = "ACTIVATION_401"


class ActivationForbiddenError(ActivationError):
    """403: a development unit, a unit activated to another product, or not a production product."""

    code = "ACTIVATION_403"


_ACTIVATION_BY_STATUS: dict[str, type[ActivationError]] = {
    "400": ActivationBadRequestError,
    "401": ActivationUnauthorizedError,
    "403": ActivationForbiddenError,
}


def activation_refusal(body: str, *, status: int) -> ActivationError:
    """The error for a refused activation, by the service's HTTP-style code heading the reply
    (``403 Forbidden: device is a development unit``)."""
    kind = _ACTIVATION_BY_STATUS.get(body.split(" ", 1)[0], ActivationError)
    return kind(f"activation refused: {body}", status=status, body=body)


class IdentityError(UnitError):
    """After a reset the unit's identity (device id, endpoint, certificate) is not what was injected."""

    code = "IDENTITY_MISMATCH"


class FirmwareVersionError(IdentityError):
    """The unit reports another firmware version than the recipe's image."""

    code = "FIRMWARE_VERSION"


class StepTimeoutError(UnitError):
    """A step took longer than the recipe allows; ``step`` and ``deadline_seconds`` say which and how long."""

    code = "STEP_TIMEOUT"

    def __init__(self, step: str, deadline_seconds: float) -> None:
        super().__init__(f"step {step} did not finish within its deadline of {deadline_seconds:g} s")
        self.step = step
        self.deadline_seconds = deadline_seconds


class UnitReworkedError(UnitError):
    """The attempt was a supervisor's rework: the unit was erased and is a development unit for life."""

    code = "REWORKED"


class AttemptInterruptedError(UnitError):
    """The station stopped during the attempt (crash, power); recovery settled it by asking the unit."""

    code = "INTERRUPTED"


class InterruptedLockedError(AttemptInterruptedError):
    """The station stopped after the unit was locked: a rescan resumes it at activation."""

    code = "INTERRUPTED_LOCKED"


class MayBeLockedError(AttemptInterruptedError):
    """The station stopped near the lock and could not ask the unit: a supervisor must inspect it."""

    code = "MAY_BE_LOCKED"
    needs_person = True
