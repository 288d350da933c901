"""Labels on PASS: the recipe's label printed for each passed unit, once, and reprints audited.

The label is made only after the PASSED row is committed (``Units``' provisioning job calls
:meth:`Labels.after_pass` with the committed outcome): the job is recorded pending first, then
rendered and sent. A printer that is offline, out of media or slow leaves the unit PASSED and
its label pending; the next pass, :meth:`Labels.retry_pending` (the front ends' retry) or
:meth:`Labels.retry` for one unit prints it, once: a job is marked printed in the store and a
printed job is never sent again. Any further label is a supervisor's reprint (their PIN,
``People.approve``), a job of its own that names the one it repeats, audited.

The label's content comes from the attempt's record (serial, device id, PASS date) and its
recipe (product, firmware, template), so a retry or reprint sends the same label.
"""

from __future__ import annotations

import hashlib
import logging
import threading

from station.domain.errors import LabelError, PrinterError, StationError
from station.domain.label import LabelJobRecord, LabelSettings, LabelState, parse_printer
from station.domain.outcome import AttemptOutcome
from station.domain.recipe import Recipe
from station.domain.records import AttemptRecord, AttemptResult
from station.domain.zpl import LabelData, render_label
from station.drivers.printer import LabelPrinter, NetworkPrinter
from station.operations.people import SUPERVISOR, People
from station.operations.production import Production
from station.store import Database

LOG = logging.getLogger(__name__)


class Labels:
    """The station's labels: printed after a PASS, retried while pending, reprinted by a supervisor."""

    def __init__(
        self, database: Database, production: Production, people: People, printer: LabelPrinter | None = None
    ) -> None:
        self._database = database
        self._production = production
        self._people = people
        self._printer: LabelPrinter = printer or NetworkPrinter()
        # One send at a time in this process: two slots passing at once and a retry never send
        # the same pending job twice.
        self._sending = threading.Lock()

    def after_pass(self, outcome: AttemptOutcome, recipe: Recipe) -> LabelJobRecord | None:
        """The committed PASS's label (None when the recipe prints none), then any label still
        pending while the printer answers. Never raises: the unit is PASSED whatever the printer."""
        if recipe.label is None or not outcome.passed or outcome.record is None:
            return None
        try:
            job = self._database.labels.create(outcome.record.id, str(recipe.label.printer))
            job = self._send(job, outcome.record, recipe)
            if job.state is LabelState.PRINTED:
                self.retry_pending()
            return job
        except StationError as error:
            LOG.warning("label for %s not printed: %s", outcome.serial, error)
            return None
        except Exception:  # a fault in labelling must not turn a committed PASS into a crash
            LOG.exception("label for %s", outcome.serial)
            return None

    def retry_pending(self) -> list[LabelJobRecord]:
        """Send every pending label whose recipe this station runs, oldest first; stop at the first
        printer that does not answer (the rest would wait for it too). The jobs as they end up."""
        done = []
        for job in self._database.labels.pending():
            recipe = self._recipe_of(self._database.attempts.get_attempt(job.attempt_id))
            if recipe is None:
                continue  # another recipe's label: a station running it prints it
            job = self._send(job, self._database.attempts.get_attempt(job.attempt_id), recipe)
            done.append(job)
            if job.state is LabelState.PENDING:
                break
        return done

    def retry(self, serial: str) -> list[LabelJobRecord]:
        """Send the unit's pending labels now; LabelError when none is pending."""
        waiting = (LabelState.PENDING, LabelState.PRINTING)  # a claim of a process that died goes stale
        pending = [job for job in self._database.labels.for_serial(serial) if job.state in waiting]
        if not pending:
            raise LabelError(f"unit {serial} has no label pending")
        done = []
        for job in pending:
            attempt = self._database.attempts.get_attempt(job.attempt_id)
            done.append(self._send(job, attempt, self._required_recipe(attempt)))
        return done

    def reprint(self, serial: str, supervisor: str, pin: str) -> LabelJobRecord:
        """Another label for a passed unit that had one: only with a supervisor's PIN; audited."""
        attempt = self._database.attempts.latest_attempt(serial)
        if attempt is None or attempt.result is not AttemptResult.PASSED:
            raise LabelError(f"unit {serial} has not passed: it gets no label")
        recipe = self._required_recipe(attempt)
        user = self._people.approve(supervisor, pin, SUPERVISOR, f"reprint of the label of {serial}")
        settings = _settings(recipe)
        job = self._database.labels.create_reprint(attempt.id, str(settings.printer), user.name, actor=user.actor)
        return self._send(job, attempt, recipe)

    def jobs(self, serial: str) -> list[LabelJobRecord]:
        return self._database.labels.for_serial(serial)

    def pending(self) -> list[LabelJobRecord]:
        return self._database.labels.pending()

    def jobs_by_id(self, job_ids: list[int]) -> list[LabelJobRecord]:
        """The label jobs with these ids as recorded now (a tile following the ones it shows)."""
        return [job for job in map(self._database.labels.get, job_ids) if job is not None]

    # ---- sending ------------------------------------------------------------------------------

    def _send(self, job: LabelJobRecord, attempt: AttemptRecord, recipe: Recipe) -> LabelJobRecord:
        settings = _settings(recipe)
        with self._sending:
            claimed = self._database.labels.claim(job.id)
            if claimed is None:  # printed, given up, or being sent by another process: never sent twice
                return self._database.labels.get(job.id) or job
            try:
                data = render_label(settings.template, label_data(attempt, recipe), copies=settings.copies)
            except LabelError as error:  # this unit's data cannot be put on this label: retrying cannot help
                return self._database.labels.mark_try_failed(job.id, str(error), None, give_up=True)
            digest = hashlib.sha256(data).hexdigest()
            try:
                self._printer.send(parse_printer(job.printer), data, timeout_seconds=settings.timeout_seconds)
            except PrinterError as error:
                LOG.warning("label job %s for %s pending: %s", job.id, job.serial, error)
                return self._database.labels.mark_try_failed(job.id, str(error), digest)
            return self._database.labels.mark_printed(job.id, digest)

    def _recipe_of(self, attempt: AttemptRecord) -> Recipe | None:
        found = [recipe for recipe in self._production.recipes_in_use() if recipe.content_hash == attempt.recipe_hash]
        return found[0] if found and found[0].label is not None else None

    def _required_recipe(self, attempt: AttemptRecord) -> Recipe:
        recipe = self._recipe_of(attempt)
        if recipe is None:
            raise LabelError(
                f"attempt {attempt.id} ran recipe {attempt.recipe_hash[:12]}…, which this station does not run "
                "now or which prints no label: its label is printed where that recipe runs"
            )
        return recipe


def label_data(attempt: AttemptRecord, recipe: Recipe) -> LabelData:
    """What the label of a passed attempt says: the record's serial, device id and PASS date, the
    recipe's product, firmware and GTIN."""
    settings = _settings(recipe)
    passed = attempt.ended_at or attempt.started_at
    return LabelData(
        serial=attempt.serial, device_id=attempt.device_id or "", product=recipe.product,
        firmware=recipe.firmware_version, passed_on=passed.date(), gtin=settings.gtin or recipe.serial_rule.gtin,
    )  # fmt: skip


def _settings(recipe: Recipe) -> LabelSettings:
    if recipe.label is None:
        raise LabelError(f"recipe {recipe.path.name} prints no label (it has no [label] table)")
    return recipe.label
