"""What the operator reads: failure codes in plain words, step names, verdicts; all translatable.

The flow's messages are precise English for engineers and the record. Operators get one short
sentence per failure code saying what happened and what to do, in their language, next to
the code itself (which is what a supervisor or engineer looks up).
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from station.domain.recipe import StepName

CONTEXT = "OperatorMessages"


def _messages() -> dict[str, str]:
    # Spelled out call by call so that pyside6-lupdate finds every string.
    translate = QCoreApplication.translate
    return {
        "UNIT_LOCKED": translate(
            "OperatorMessages", "The unit is locked. It was not touched. Put it aside for a supervisor."
        ),
        "VAULT": translate("OperatorMessages", "The token vault is locked or empty. Call a supervisor."),
        "PROBE": translate("OperatorMessages", "No connection to the unit. Check the probe, cable and power."),
        "NO_PROBE": translate("OperatorMessages", "No probe for this slot. Call an engineer."),
        "FLASH": translate("OperatorMessages", "Programming failed. Reseat the unit and scan it again."),
        "VERIFY_MISMATCH": translate("OperatorMessages", "Flash check failed. Reseat the unit and scan it again."),
        "CREDENTIAL": translate("OperatorMessages", "Credentials could not be written. Scan the unit again."),
        "LOCK": translate("OperatorMessages", "Locking failed. Put the unit aside for a supervisor."),
        "CONSOLE": translate(
            "OperatorMessages", "The unit does not answer. Check its console cable, then scan it again."
        ),
        "CONSOLE_TIMEOUT": translate(
            "OperatorMessages", "The unit does not answer. Check its console cable, then scan it again."
        ),
        "CONSOLE_GARBLED": translate(
            "OperatorMessages", "The unit answers with garbage. Check its console cable, then scan it again."
        ),
        "CONSOLE_REFUSED": translate("OperatorMessages", "The unit refused a command. Put it aside for a supervisor."),
        "ACTIVATION_REFUSED": translate("OperatorMessages", "Activation refused. Put the unit aside for a supervisor."),
        "IDENTITY_MISMATCH": translate(
            "OperatorMessages", "The unit's identity is wrong after restart. Put it aside for a supervisor."
        ),
        "FIRMWARE_VERSION": translate(
            "OperatorMessages", "The unit runs the wrong firmware. Put it aside for a supervisor."
        ),
        "DEVELOPMENT_UNIT": translate(
            "OperatorMessages", "This is a development unit. It must never ship: put it in the reject bin."
        ),
        "ALREADY_PASSED": translate("OperatorMessages", "This unit has already passed. Move it on."),
        "SCAN": translate("OperatorMessages", "This label is not a serial of this product. Scan the serial label."),
        "BINDING": translate(
            "OperatorMessages", "Serial label and unit do not belong together. Put it aside for a supervisor."
        ),
        "STEP_TIMEOUT": translate("OperatorMessages", "A step took too long. Scan the unit again."),
        "REWORKED": translate("OperatorMessages", "Erased by rework: a development unit now. It never ships."),
        "INTERRUPTED": translate("OperatorMessages", "The station stopped during this unit. Scan it again."),
        "INTERRUPTED_LOCKED": translate("OperatorMessages", "The station stopped during this unit. Scan it again."),
        "MAY_BE_LOCKED": translate("OperatorMessages", "The unit may be locked. A supervisor must inspect it."),
        "CA": translate("OperatorMessages", "The factory CA is not loaded. Call an engineer."),
        "STORE": translate("OperatorMessages", "The station cannot save its records. Call an engineer."),
        "INTERNAL": translate("OperatorMessages", "Station problem. Call an engineer."),
    }


def plain_words(code: str | None) -> str:
    """One sentence an operator understands, for a failure code."""
    messages = _messages()
    if code is None:
        return QCoreApplication.translate("OperatorMessages", "Station problem. Call an engineer.")
    if code in messages:
        return messages[code]
    if code.startswith("ACTIVATION_"):
        return messages["ACTIVATION_REFUSED"]
    if code.startswith("CONSOLE"):
        return messages["CONSOLE"]
    return QCoreApplication.translate("OperatorMessages", "The unit failed. Put it aside for a supervisor.")


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
