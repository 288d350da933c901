"""Small dialogs: type an operator id, sign in with a PIN, confirm an action with a PIN.

PIN and passphrase fields never echo, and their text is cleared as soon as it was used. A scan
never lands in any of their fields: the window's scan filter watches each dialog's window too
(``MainWindow.watch_input``), so a badge scanned into the sign-in dialog fills in the name, a
unit's serial starts the unit, and neither is typed into a field.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from station.domain.errors import StationError
from station.gui.line import StationLine

LOG = logging.getLogger(__name__)


def secret_field(placeholder: str = "") -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    field.setPlaceholderText(placeholder)
    field.setMinimumWidth(260)
    return field


class _Form(QDialog):
    def __init__(self, title: str, intro: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(True)
        layout = QVBoxLayout(self)
        self.intro = QLabel(intro)
        self.intro.setWordWrap(True)
        layout.addWidget(self.intro)
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        layout.addLayout(self.form)
        self.message = QLabel()
        self.message.setObjectName("actionMessage")
        self.message.setProperty("level", "error")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._ok_pressed)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def _ok_pressed(self) -> None:
        """OK: the form's own refusals are shown by ``_submit``; anything else is a station
        problem, reported where every error becomes a message, and said in the dialog too."""
        try:
            self._submit()
        except Exception as error:
            # Not self.tr: PySide6 looks a string up under the class of the object (SignInDialog…),
            # never under this base class, so the base class names its context itself.
            self.message.setText(QCoreApplication.translate(
                "Dialogs", "This did not work: a station problem. Try again, or call an engineer."))
            self._report(error)

    def _report(self, error: Exception) -> None:
        LOG.error("%s: unexpected error", self.windowTitle(), exc_info=error)

    def _submit(self) -> None:
        raise NotImplementedError


class OperatorIdDialog(_Form):
    """For a badge that does not scan: the operator types their id."""

    def __init__(self, line: StationLine, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Log in"), self.tr("Type your operator id."), parent)
        self._line = line
        self.id_field = QLineEdit()
        self.form.addRow(self.tr("Operator id"), self.id_field)
        line.session_changed.connect(self._session_changed)

    def _report(self, error: Exception) -> None:
        self._line.error_sink.report(self.windowTitle(), error)

    def _session_changed(self) -> None:
        """A badge scanned while this dialog is open has logged someone in: nothing left to type."""
        if self._line.user is not None and self.isVisible():
            self.accept()

    def _submit(self) -> None:
        try:
            self._line.login_with_badge(self.id_field.text())
        except StationError as error:
            self.message.setText(str(error))
            return
        self.accept()


class SignInDialog(_Form):
    """Supervisors and engineers: name (or badge scan) and PIN. Registers the first engineer."""

    def __init__(self, line: StationLine, name: str = "", parent: QWidget | None = None) -> None:
        self._first = line.needs_first_engineer()
        if self._first:
            title = self.tr("Register the first engineer")
            intro = self.tr("This station has no engineer yet. Choose your name and a PIN of 4 to 12 digits.")
        else:
            title = self.tr("Supervisor or engineer sign-in")
            intro = self.tr("Scan your badge or type your name, then type your PIN.")
        super().__init__(title, intro, parent)
        self._line = line
        self.name_field = QLineEdit(name)
        self.pin_field = secret_field()
        self.form.addRow(self.tr("Name"), self.name_field)
        self.form.addRow(self.tr("PIN"), self.pin_field)
        self.repeat_field = secret_field()
        if self._first:
            self.form.addRow(self.tr("PIN again"), self.repeat_field)
        if name:
            self.pin_field.setFocus(Qt.FocusReason.OtherFocusReason)

    def set_name(self, name: str) -> None:
        """A badge scanned while the dialog is open: its name, and the PIN next."""
        self.name_field.setText(name)
        self.pin_field.clear()
        self.repeat_field.clear()
        self.message.clear()
        self.pin_field.setFocus(Qt.FocusReason.OtherFocusReason)

    def _report(self, error: Exception) -> None:
        self._line.error_sink.report(self.windowTitle(), error)

    def _submit(self) -> None:
        pin = self.pin_field.text()
        self.pin_field.clear()
        repeat = self.repeat_field.text()
        self.repeat_field.clear()
        try:
            if self._first:
                if pin != repeat:
                    self.message.setText(self.tr("The two PINs differ."))
                    return
                self._line.create_first_engineer(self.name_field.text().strip(), pin)
            else:
                self._line.sign_in(self.name_field.text(), pin)
        except StationError as error:
            self.message.setText(str(error))
            return
        self.accept()


class PinDialog(_Form):
    """Asks the signed-in person's PIN again before a guarded action; ``pin`` holds it after OK."""

    def __init__(self, what: str, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Confirm with your PIN"), what, parent)
        self.pin_field = secret_field()
        self.form.addRow(self.tr("PIN"), self.pin_field)
        self.pin_field.setFocus(Qt.FocusReason.OtherFocusReason)  # the PIN is typed at once, not after a click
        self.pin = ""

    def _submit(self) -> None:
        self.pin = self.pin_field.text()
        self.pin_field.clear()
        self.accept()
