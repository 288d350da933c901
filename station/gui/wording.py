"""What the operator reads: failure codes in plain words, step names, verdicts; all translatable.

The flow's messages are precise English for engineers and the record. Operators get one short
sentence per failure code saying what happened and what to do, in their language, next to
the code itself (which is what a supervisor or engineer looks up).
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from station.domain.errors import (
    ActivationError,
    AlreadyPassedError,
    AttemptInterruptedError,
    BindingError,
    CaError,
    ConsoleCommandError,
    ConsoleError,
    ConsoleProtocolError,
    ConsoleTimeoutError,
    CredentialError,
    DevelopmentUnitError,
    DeviceAlreadyPassedError,
    DeviceInProgressError,
    FirmwareVersionError,
    FlashError,
    IdentityError,
    InternalError,
    InterruptedLockedError,
    LabelError,
    LineConflictError,
    LineOfflineError,
    LockError,
    MayBeLockedError,
    NoLeasedSerialError,
    NoProbeError,
    NoRecipeError,
    PrinterError,
    ProbeError,
    RecoveryRunningError,
    ResultNotRecordedError,
    ScanError,
    SelfTestRequiredError,
    SerialAllocationError,
    SerialInProgressError,
    SerialRangeExhaustedError,
    SlotBusyError,
    SlotError,
    StationError,
    StepTimeoutError,
    StoreError,
    UnitAlreadyRunningError,
    UnitLockedError,
    UnitReworkedError,
    VaultError,
    VerifyError,
    WorkOrderCompleteError,
    error_class_for,
)
from station.domain.label import LabelJobRecord, LabelState
from station.domain.recipe import StepName
from station.domain.text import escape_text

CONTEXT = "OperatorMessages"


def _messages() -> dict[str, str]:
    # Spelled out call by call so that pyside6-lupdate finds every string.
    translate = QCoreApplication.translate
    return {
        UnitLockedError.code: translate(
            "OperatorMessages", "The unit is locked. It was not touched. Put it aside for a supervisor."
        ),
        VaultError.code: translate("OperatorMessages", "The token vault is locked or empty. Call a supervisor."),
        LineOfflineError.code: translate(
            "OperatorMessages", "The line database does not answer: no new unit until it does. Call a supervisor."
        ),
        LineConflictError.code: translate(
            "OperatorMessages", "This station and the line database disagree. Call a supervisor."
        ),
        ProbeError.code: translate("OperatorMessages", "No connection to the unit. Check the probe, cable and power."),
        NoProbeError.code: translate("OperatorMessages", "No probe for this slot. Call an engineer."),
        FlashError.code: translate("OperatorMessages", "Programming failed. Reseat the unit and scan it again."),
        VerifyError.code: translate("OperatorMessages", "Flash check failed. Reseat the unit and scan it again."),
        CredentialError.code: translate("OperatorMessages", "Credentials could not be written. Scan the unit again."),
        LockError.code: translate("OperatorMessages", "Locking failed. Put the unit aside for a supervisor."),
        ConsoleError.code: translate(
            "OperatorMessages", "The unit does not answer. Check its console cable, then scan it again."
        ),
        ConsoleTimeoutError.code: translate(
            "OperatorMessages", "The unit does not answer. Check its console cable, then scan it again."
        ),
        ConsoleProtocolError.code: translate(
            "OperatorMessages", "The unit answers with garbage. Check its console cable, then scan it again."
        ),
        ConsoleCommandError.code: translate(
            "OperatorMessages", "The unit refused a command. Put it aside for a supervisor."
        ),
        ActivationError.code: translate("OperatorMessages", "Activation refused. Put the unit aside for a supervisor."),
        IdentityError.code: translate(
            "OperatorMessages", "The unit's identity is wrong after restart. Put it aside for a supervisor."
        ),
        FirmwareVersionError.code: translate(
            "OperatorMessages", "The unit runs the wrong firmware. Put it aside for a supervisor."
        ),
        DevelopmentUnitError.code: translate(
            "OperatorMessages", "This is a development unit. It must never ship: put it in the reject bin."
        ),
        AlreadyPassedError.code: translate("OperatorMessages", "This unit has already passed. Move it on."),
        SerialInProgressError.code: translate(
            "OperatorMessages", "This unit is being provisioned at another station. Leave it there."
        ),
        WorkOrderCompleteError.code: translate(
            "OperatorMessages", "This work order is complete. Put the unit aside and call a supervisor."
        ),
        DeviceInProgressError.code: translate(
            "OperatorMessages", "This board is being provisioned under another label. Put it aside for a supervisor."
        ),
        DeviceAlreadyPassedError.code: translate(
            "OperatorMessages", "This board already passed under another label. Put it aside for a supervisor."
        ),
        ScanError.code: translate(
            "OperatorMessages", "This label is not a serial of this product. Scan the serial label."
        ),
        BindingError.code: translate(
            "OperatorMessages", "Serial label and unit do not belong together. Put it aside for a supervisor."
        ),
        StepTimeoutError.code: translate("OperatorMessages", "A step took too long. Scan the unit again."),
        UnitReworkedError.code: translate(
            "OperatorMessages", "Erased by rework: a development unit now. It never ships."
        ),
        AttemptInterruptedError.code: translate(
            "OperatorMessages", "The station stopped during this unit. Scan it again."
        ),
        InterruptedLockedError.code: translate(
            "OperatorMessages", "The station stopped during this unit. Scan it again."
        ),
        MayBeLockedError.code: translate("OperatorMessages", "The unit may be locked. A supervisor must inspect it."),
        CaError.code: translate("OperatorMessages", "The factory CA is not loaded. Call an engineer."),
        SelfTestRequiredError.code: translate(
            "OperatorMessages", "The station self-test has not passed this shift. A supervisor must run it first."
        ),
        StoreError.code: translate("OperatorMessages", "The station cannot save its records. Call an engineer."),
        ResultNotRecordedError.code: translate(
            "OperatorMessages", "The unit finished, but its result could not be saved. It is not passed: scan it again."
        ),
        InternalError.code: translate("OperatorMessages", "Station problem. Call an engineer."),
        PrinterError.code: translate(
            "OperatorMessages", "The label printer did not take it. Check that the printer is on, connected and has "
            "labels: the label prints once it does."
        ),
        LabelError.code: translate(
            "OperatorMessages", "The label cannot be made for this unit. Put the unit aside and call an engineer."
        ),
        SerialAllocationError.code: translate(
            "OperatorMessages", "No serial number could be given to this unit. Put it aside and call a supervisor."
        ),
        SerialRangeExhaustedError.code: translate(
            "OperatorMessages", "This work order has no serial numbers left. Call a supervisor."
        ),
        NoLeasedSerialError.code: translate(
            "OperatorMessages", "This station has no serial numbers left and the line database does not answer. "
            "Call a supervisor."
        ),
    }


def plain_words(code: str | None) -> str:
    """One sentence an operator understands, for a failure code (a code of the records).

    A code without a sentence of its own gets its nearest ancestor's in the error tree: every
    ACTIVATION_4xx the refused activation's, every CONSOLE_* the console's.
    """
    messages = _messages()
    if code is None:
        return QCoreApplication.translate("OperatorMessages", "Station problem. Call an engineer.")
    for kind in error_class_for(code).__mro__:
        known = getattr(kind, "code", None)
        if known in messages:
            return messages[known]
    return QCoreApplication.translate("OperatorMessages", "The unit failed. Put it aside for a supervisor.")


def error_words(error: StationError) -> str:
    """The operator's sentence for an error the station met, with where it happened when it says."""
    translate = QCoreApplication.translate
    if isinstance(error, SerialInProgressError):
        return translate(
            "OperatorMessages", "This unit is being provisioned at {where}. Leave it there and take the next unit."
        ).format(where=error.holder)
    return plain_words(error.code)


def label_words(job: LabelJobRecord) -> str:
    """What the PASS tile says of the unit's label: printed, pending (and what to check), or
    not made at all. The printer's own words (an address, a socket error) are for the tooltip."""
    translate = QCoreApplication.translate
    if job.state is LabelState.PRINTED:
        return translate("OperatorMessages", "Label printed.")
    if job.state is LabelState.FAILED:
        return translate("OperatorMessages", "No label: {why}").format(why=plain_words(LabelError.code))
    return translate("OperatorMessages", "LABEL PENDING. {why}").format(why=plain_words(PrinterError.code))


def readiness_words(problem: StationError) -> str:
    """What keeps the station from starting a unit, and who to call."""
    translate = QCoreApplication.translate
    if isinstance(problem, NoRecipeError):
        return translate("StationLine", "No recipe is chosen. Call an engineer.")
    if isinstance(problem, VaultError):
        return translate("StationLine", "The token vault is locked. A supervisor must unlock it for the shift.")
    if isinstance(problem, NoProbeError):
        return translate("StationLine", "No slot is set up. Call an engineer.")
    if isinstance(problem, RecoveryRunningError):
        return translate("StationLine", "The station is checking unfinished units. Wait a moment.")
    return plain_words(problem.code)


def refusal_words(refusal: SlotError) -> str:
    """Why the scanned unit does not start now."""
    translate = QCoreApplication.translate
    if isinstance(refusal, UnitAlreadyRunningError):
        return translate("StationLine", "This unit is already running in slot {slot}.").format(slot=refusal.slot)
    if isinstance(refusal, SlotBusyError):
        return translate("StationLine", "Slot {slot} is still working. Wait for its result.").format(slot=refusal.slot)
    return translate("StationLine", "All slots are working. Wait for a result.")


SCAN_SHOWN_LENGTH = 40  # of a scan shown back to the operator; a banner never grows with a long label


def shown_scan(text: str, limit: int = SCAN_SHOWN_LENGTH) -> str:
    """What a scanner read, as a banner may show it: shortened, then its control characters escaped."""
    return escape_text(text if len(text) <= limit else text[: limit - 1] + "…")


def invalid_scan_words(text: str) -> str:
    """A label that is not a unit's serial: the operator sees what was read (a wrong label, a
    garbled read, a scanner set to add a prefix)."""
    return QCoreApplication.translate(
        "StationLine", "This label is not a serial of this product (read: {scan}). Scan the serial label."
    ).format(scan=shown_scan(text))


def sound_problem_words() -> str:
    """The station cannot be heard: results must be watched, and an engineer should know (the
    log says why)."""
    return QCoreApplication.translate(
        "StationLine", "This computer cannot play the station's sounds. Watch the screen for results, and tell an "
        "engineer."
    )


def station_error_words(where: str, shown: str) -> str:
    """An unexpected error, as the operator reads it: where, what (the type, or the station's own
    words), that the station goes on, and what to do."""
    return QCoreApplication.translate(
        "StationLine",
        "Something went wrong in {where} ({what}). The station keeps running: try again, and call an "
        "engineer if it happens again. The log has the details.",
    ).format(where=where, what=shown)


def step_title(step: str) -> str:
    translate = QCoreApplication.translate
    titles = {
        StepName.CONNECT.value: translate("OperatorMessages", "Connect"),
        StepName.FLASH.value: translate("OperatorMessages", "Program"),
        StepName.VERIFY.value: translate("OperatorMessages", "Verify"),
        StepName.CREDENTIALS.value: translate("OperatorMessages", "Credentials"),
        StepName.LOCK.value: translate("OperatorMessages", "Lock"),
        StepName.ACTIVATE.value: translate("OperatorMessages", "Activate"),
        StepName.IDENTITY.value: translate("OperatorMessages", "Identity check"),
        "scan": translate("OperatorMessages", "Scan"),
        "rework": translate("OperatorMessages", "Rework erase"),
        "recovery": translate("OperatorMessages", "Recovery"),
        "internal": translate("OperatorMessages", "Station"),
    }
    return titles.get(step, step)


def verdict_pass() -> str:
    return QCoreApplication.translate("OperatorMessages", "PASS")


def verdict_fail() -> str:
    return QCoreApplication.translate("OperatorMessages", "FAIL")


def verdict_reworked() -> str:
    return QCoreApplication.translate("OperatorMessages", "ERASED")


def units_per_hour_text(value: float | None) -> str:
    """Units per hour as the operator's header and the Reports view both show it: one figure, one form."""
    return "—" if value is None else f"{value:.0f}"
