"""The engineer's actions in the window: recipe, work order, CA, tokens, slots, people.

Each checks that an engineer is signed in, calls the station's operations (slow ones on the
line's chores thread) and tells the views through the line's signals. The rules are in
``station.operations``; what is here is who may, and when the window is told.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication

from station.config.settings import SlotSettings
from station.gui.slot_states import ActionResult
from station.operations.people import ENGINEER
from station.operations.production import read_token_file

if TYPE_CHECKING:
    from station.gui.line import StationLine

ResultCallback = Callable[[ActionResult], None]


class EngineerActions:
    def __init__(self, line: StationLine) -> None:
        self._line = line

    def check_recipe_file(self, path: Path) -> str:
        """The recipe check an engineer reads before choosing a recipe, with its signature as this
        station sees it (changes nothing)."""
        return self._line.station.production.check_recipe_file(path)

    def select_recipe(self, path: Path) -> None:
        line = self._line
        engineer = line.session.require(ENGINEER)
        line.require_idle()
        line.station.use_recipe(path, engineer.actor)
        training = line.station.training
        if training is not None:
            line.open_ca_for_recipe(training.ca_passphrase, None)
        line.production_changed.emit()

    def set_work_order(self, code: str) -> None:
        line = self._line
        engineer = line.session.require(ENGINEER)
        line.station.set_work_order(code, engineer.actor)
        line.production_changed.emit()

    def open_ca(self, passphrase: str, on_result: ResultCallback) -> None:
        self._line.session.require(ENGINEER)
        self._line.open_ca_for_recipe(passphrase, on_result)

    def create_ca(self, common_name: str, passphrase: str, on_result: ResultCallback) -> None:
        line = self._line
        line.session.require(ENGINEER)
        production, actor = line.station.production, line.session.actor

        def done(_: Any) -> None:
            if line.recipe is None:
                on_result(ActionResult(True, QCoreApplication.translate(
                    "StationLine", "The factory CA was created. Choose a recipe, then open the CA.")))  # fmt: skip
                return
            line.open_ca_for_recipe(passphrase, on_result)

        line.run_chore("create the factory CA", lambda: production.create_ca(common_name, passphrase, actor), done,
                       on_result)  # fmt: skip

    def ca_exists(self) -> bool:
        return self._line.station.production.ca_exists()

    def ca_in_token(self) -> bool:
        """The CA's key is in a token: it opens with the token's PIN (the station's PIN file or
        credential), and no passphrase is asked."""
        return self._line.station.production.ca_in_token()

    def import_tokens(
        self, path: Path, product: str, use_limit: int | None, passphrase: str, on_result: ResultCallback
    ) -> None:
        line = self._line
        line.session.require(ENGINEER)
        production, actor = line.station.production, line.session.actor

        def work() -> Any:
            return production.import_tokens(read_token_file(path), product, use_limit, passphrase, actor)

        def done(summary: Any) -> None:
            done_text = QCoreApplication.translate("StationLine", "{added} new token(s) imported for {product}.")
            on_result(ActionResult(True, done_text.format(added=summary.added, product=summary.product)))

        line.run_chore("import tokens", work, done, on_result)

    def discover(self, on_found: Callable[[list[tuple[str, str]], list[tuple[str, str]]], None]) -> None:
        """Probes (pyOCD) and serial ports (pyserial) on this PC, for slot setup."""
        self._line.session.require(ENGINEER)

        def work() -> Any:
            from station.drivers.console import list_serial_ports
            from station.drivers.probe import list_probes

            return list_probes(), list_serial_ports()

        self._line.chores.run("discover probes and ports", work, lambda found: on_found(found[0], found[1]))

    def apply_slots(self, slots: tuple[SlotSettings, ...]) -> None:
        line = self._line
        engineer = line.session.require(ENGINEER)
        line.require_idle()
        line.station.set_slots(slots, engineer.actor)
        line.replace_slots(slots)

    def add_person(self, name: str, role: str, pin: str | None) -> None:
        line = self._line
        engineer = line.session.require(ENGINEER)
        line.station.people.add(name, role, pin)
        line.station.audit.append_audit(engineer.actor, "people.add", f"{name} registered as {role}")
