"""The recipe's instruction for the step a slot's unit is at: its words, and its picture scaled.

A recipe may tell the operator what to do at a step ("place the unit in fixture 3, close the
lid"), with a picture. While that step runs, the slot's tile shows this panel in place of its
step list: the operator's next action is then the largest thing on the tile. The text comes
from the recipe file, so it is shown escaped and as plain text (never as markup); its type is
fitted to the room, and the picture takes what is left, in proportion.
"""

from __future__ import annotations

import functools

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from station.domain.recipe import StepInstruction
from station.domain.text import escape_text
from station.gui.fitting import fit_fixed_height
from station.gui.wording import step_title

INSTRUCTION_PIXELS = (26, 13)  # largest and smallest type of the instruction's words
TEXT_SHARE_WITH_PICTURE = 0.45  # of the panel's height, when a picture shares it


@functools.lru_cache(maxsize=16)
def _decoded(data: bytes) -> QPixmap:
    """The picture, decoded once per recipe picture (bytes keep their hash once computed)."""
    pixmap = QPixmap()
    pixmap.loadFromData(QByteArray(data))
    return pixmap


class ScaledPicture(QLabel):
    """A picture scaled to the room the layout gives it, in proportion; it asks for no room."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._source = QPixmap()

    def set_picture(self, pixmap: QPixmap | None) -> None:
        self._source = QPixmap() if pixmap is None else pixmap
        self._rescale()

    @property
    def has_picture(self) -> bool:
        return not self._source.isNull()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._source.isNull() or self.width() < 2 or self.height() < 2:
            self.clear()
            return
        mode = Qt.TransformationMode.SmoothTransformation
        self.setPixmap(self._source.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio, mode))


class InstructionPanel(QFrame):
    """The step's title, the recipe's words for it, and its picture."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("instructionPanel")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(4)
        self.step_label = QLabel()
        self.step_label.setObjectName("instructionStep")
        self.step_label.setTextFormat(Qt.TextFormat.PlainText)
        self.text_label = QLabel()
        self.text_label.setObjectName("instructionText")
        self.text_label.setTextFormat(Qt.TextFormat.PlainText)  # recipe text: never markup
        self.text_label.setWordWrap(True)
        self.text_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.text_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.picture = ScaledPicture()
        layout.addWidget(self.step_label)
        layout.addWidget(self.text_label)
        layout.addWidget(self.picture, 1)
        self.instruction: StepInstruction | None = None
        self._fitted_for: tuple[int, int, str] | None = None

    def show_instruction(self, instruction: StepInstruction | None) -> None:
        self.instruction = instruction
        if instruction is None:
            self.picture.set_picture(None)
            return
        self.step_label.setText(step_title(instruction.step.value))
        self.picture.set_picture(_decoded(instruction.picture) if instruction.picture else None)
        self.picture.setVisible(self.picture.has_picture)
        self._fitted_for = None
        self._fit()

    @property
    def shown_text(self) -> str:
        """The recipe's words as shown (escaped; cut only when no type size fits them)."""
        return self.text_label.text()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        instruction = self.instruction
        if instruction is None or self.width() < 2:
            return
        text = escape_text(instruction.text)
        if self._fitted_for == (self.width(), self.height(), text):
            return
        self._fitted_for = (self.width(), self.height(), text)
        margins = self.contentsMargins()
        layout = self.layout()
        inner = layout.contentsMargins() if layout is not None else margins
        width = self.width() - margins.left() - margins.right() - inner.left() - inner.right()
        room = (self.height() - margins.top() - margins.bottom() - inner.top() - inner.bottom()
                - self.step_label.sizeHint().height() - 8)  # fmt: skip
        if self.picture.has_picture:
            room = int(room * TEXT_SHARE_WITH_PICTURE)
        fit_fixed_height(self.text_label, text, width, max(1, room), *INSTRUCTION_PIXELS)
