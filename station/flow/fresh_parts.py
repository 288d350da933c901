"""Factory-fresh parts that leave their maker with the debug port locked.

nRF52 parts of later build codes (hardened APPROTECT) arrive protected: blank, yet locked
until a recovery erase. The station never erases a locked unit on its own judgement, with
this one exception, and only where the recipe says its parts ship protected
(``[lock] parts_ship_protected``): a locked unit whose scanned serial has no record anywhere
in the journal (no earlier attempt, no credential, not a development unit; the journal is the
line's when the station works on one) cannot hold a production credential, so erasing it
destroys nothing. It is erased as the first act of its first attempt, recorded as a fresh
part (never a rework: it does not become a development unit), and refused at once if the
device id read after the erase is known under another serial -- a relabelled unit, whose
label lied about it being new. A locked unit with any record is refused untouched, as before.
"""

from __future__ import annotations

from station.domain.errors import RelabelledUnitError
from station.flow.run import UnitRun


def why_not_fresh(run: UnitRun) -> str | None:
    """Why a unit that arrived locked must not be erased as a fresh part (None: it may be)."""
    if not run.recipe.lock.parts_ship_protected:
        return "the recipe does not say its parts ship protected"
    journal = run.journal
    earlier = [attempt for attempt in journal.attempts.history(run.serial) if attempt.id != run.attempt_id]
    if earlier:
        return f"serial {run.serial} has {len(earlier)} earlier attempt(s) on record"
    if journal.credentials.credentials_for_serial(run.serial):
        return f"serial {run.serial} has a credential on record"
    unit = journal.units.get_unit(run.serial)
    if unit is not None and unit.is_development:
        return f"serial {run.serial} is a development unit"
    return None


def erase_fresh_part(run: UnitRun) -> str:
    """Erase the locked, unrecorded unit through its debug port, keeping the port open for the
    rest of production. The intent is in the audit trail before the erase, so that a crash in
    between still leaves the record of why the part was erased."""
    run.journal.audit.append_audit(
        run.context.operator,
        "unit.fresh_erase",
        f"serial {run.serial}: arrived locked with no record anywhere and the recipe's parts ship protected; "
        f"erasing it through its debug port as a fresh part (attempt {run.attempt_id}), not a rework",
    )
    erased = run.slot.probe.recovery_erase()
    run.fresh_part_erase = f"fresh part: arrived locked with no record anywhere, erased ({erased})"
    return run.fresh_part_erase


def refuse_if_relabelled(run: UnitRun, device_id: str) -> None:
    """A fresh part's device id must be new: one known under another serial was relabelled.

    Its id could only be read after the erase; if the device had passed under another serial,
    that erase took its production credential, so it is a development unit from now on.
    """
    others = [serial for serial in run.journal.attempts.serials_of_device(device_id) if serial != run.serial]
    if not others:
        return
    shipped_as = run.journal.attempts.passed_serial_of_device(device_id)
    consequence = ""
    if shipped_as is not None and shipped_as != run.serial:
        run.journal.units.mark_development(shipped_as)
        consequence = f"; it had passed as {shipped_as} and the erase took its credential: a development unit now"
    run.journal.audit.append_audit(
        run.context.operator,
        "unit.relabelled",
        f"device {device_id} arrived locked labelled {run.serial} but is on record as {', '.join(others)}"
        f"{consequence}",
    )
    raise RelabelledUnitError(
        f"device {device_id} arrived locked as fresh serial {run.serial}, but is on record as serial "
        f"{others[0]}: a relabelled unit; set it aside for a supervisor{consequence}"
    )
