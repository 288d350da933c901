"""One slot's tile: serial, device id, the steps as they go, flash progress, time, and the result.

The tile only draws its ``SlotState``; it keeps nothing of its own. The result stays until
the next scan of that slot starts a new unit there.
"""

from __future__ import annotations

import functools

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont, QIcon, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from station.domain.recipe import StepName
from station.domain.text import escape_text
from station.gui.resources import icon_path
from station.gui.slot_instruction import InstructionPanel
from station.gui.slot_states import DISPLAY_STEPS, SlotState, StepState, Verdict
from station.gui.tile_fit import TileFitter
from station.gui.wording import label_words, step_title, verdict_fail, verdict_pass, verdict_reworked

STEP_ICON_SIZE = QSize(24, 24)
VERDICT_ICON_SIZE = QSize(84, 84)
# Holds everything a tile's pages show (their type sized to it: station.gui.tile_fit), and two
# rows of eight slots' tiles fit a 1080 line screen with the window, a banner and the training
# bar around them (a test checks both).
TILE_MINIMUM_SIZE = QSize(360, 280)


def repolish(widget: QWidget) -> None:
    """Re-apply the style sheet after a dynamic property changed."""
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)
    widget.update()


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


@functools.cache
def _verdict_pixmap(name: str) -> QPixmap:
    """The large result icon, rendered once per kind (rendering it took longer than the tile)."""
    return QIcon(str(icon_path(name))).pixmap(VERDICT_ICON_SIZE)


class SlotTile(QFrame):
    def __init__(self, slot_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slot_name = slot_name
        self.product = ""  # on a line of mixed products, what this slot makes
        self.setObjectName("slotTile")
        self.setProperty("verdict", "idle")
        # The operator view's TileGrid gives every tile an equal cell whatever it shows, never
        # less than this; its contents ask for no size of their own. Sizes are set here rather
        # than by overriding sizeHint: Qt asks for a hint at every relayout, and each answer
        # from Python waits for the interpreter while the slots' threads run.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(TILE_MINIMUM_SIZE)
        # Rendered once: drawing an icon's pixmap costs more than everything else in an update.
        self._step_pixmaps = {
            state: QIcon(str(icon_path(f"step-{state.value}"))).pixmap(STEP_ICON_SIZE) for state in StepState
        }
        self._shown: dict[str, object] = {}  # what the widgets show now, by _changed's keys

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 16)
        layout.setSpacing(6)

        top = QHBoxLayout()
        self.name_label = QLabel()
        self.name_label.setObjectName("slotName")
        self.elapsed_label = QLabel()
        self.elapsed_label.setObjectName("elapsed")
        # Where the next scan goes: the first free slot, or the one a fixture label chose.
        self.next_marker = QLabel()
        self.next_marker.setObjectName("nextMarker")
        self.next_marker.hide()
        top.addWidget(self.name_label)
        top.addSpacing(8)
        top.addWidget(self.next_marker)
        top.addStretch(1)
        top.addWidget(self.elapsed_label)
        layout.addLayout(top)
        # The product the slot makes, on its own row: only on a line of mixed products.
        self.product_label = QLabel()
        self.product_label.setObjectName("slotProduct")
        self.product_label.setMinimumWidth(1)  # cut rather than widen the tile
        self.product_label.hide()
        layout.addWidget(self.product_label)

        self.serial_label = QLabel()
        self.serial_label.setObjectName("serial")
        self.serial_label.setMinimumWidth(1)  # its type shrinks to fit instead of widening the tile
        serial_font = QFont("DejaVu Sans Mono")
        serial_font.setStyleHint(QFont.StyleHint.Monospace)
        serial_font.setBold(True)
        self.serial_label.setFont(serial_font)
        self.serial_label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.device_label = QLabel()
        self.device_label.setObjectName("deviceId")
        layout.addWidget(self.serial_label)
        layout.addWidget(self.device_label)

        self.pages = QStackedLayout()
        layout.addLayout(self.pages, 1)

        # idle
        self.idle_hint = QLabel()
        self.idle_hint.setObjectName("idleHint")
        self.idle_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.idle_hint.setWordWrap(True)
        self.pages.addWidget(self.idle_hint)

        # running
        running = QWidget()
        running_layout = QVBoxLayout(running)
        running_layout.setContentsMargins(0, 2, 0, 0)
        steps_grid = QGridLayout()
        steps_grid.setHorizontalSpacing(12)
        steps_grid.setVerticalSpacing(3)
        self.step_icons: dict[str, QLabel] = {}
        self.step_labels: dict[str, QLabel] = {}
        for row, step in enumerate(DISPLAY_STEPS):
            icon = QLabel()
            icon.setFixedSize(STEP_ICON_SIZE)
            label = QLabel()
            label.setObjectName("stepLabel")
            steps_grid.addWidget(icon, row, 0)
            steps_grid.addWidget(label, row, 1)
            self.step_icons[step], self.step_labels[step] = icon, label
        steps_grid.setColumnStretch(1, 1)
        self.steps_box = QWidget()
        steps_grid.setContentsMargins(0, 0, 0, 0)
        self.steps_box.setLayout(steps_grid)
        running_layout.addWidget(self.steps_box)
        # The recipe's instruction for the step running now, in place of the step list.
        self.instruction_panel = InstructionPanel()
        self.instruction_panel.hide()
        running_layout.addWidget(self.instruction_panel, 1)
        running_layout.addStretch(1)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        keep_place = self.progress_bar.sizePolicy()
        keep_place.setRetainSizeWhenHidden(True)  # shown and hidden per step without a relayout
        self.progress_bar.setSizePolicy(keep_place)
        running_layout.addWidget(self.progress_bar)
        self.pages.addWidget(running)

        # result
        self.verdict_panel = QFrame()
        self.verdict_panel.setObjectName("verdictPanel")
        verdict_layout = QVBoxLayout(self.verdict_panel)
        verdict_layout.setContentsMargins(14, 10, 14, 14)
        verdict_layout.addStretch(1)
        word_row = QHBoxLayout()
        self.verdict_icon = QLabel()
        self.verdict_icon.setFixedSize(VERDICT_ICON_SIZE)
        self.verdict_word = QLabel()
        self.verdict_word.setObjectName("verdictWord")
        self.verdict_word.setMinimumWidth(1)
        verdict_font = self.verdict_word.font()
        verdict_font.setWeight(QFont.Weight.Black)
        self.verdict_word.setFont(verdict_font)
        word_row.addStretch(1)
        word_row.addWidget(self.verdict_icon)
        word_row.addSpacing(12)
        word_row.addWidget(self.verdict_word)
        word_row.addStretch(1)
        verdict_layout.addLayout(word_row)
        self.verdict_reason = QLabel()
        self.verdict_reason.setObjectName("verdictReason")
        self.verdict_reason.setWordWrap(True)
        self.verdict_reason.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.verdict_code = QLabel()
        self.verdict_code.setObjectName("verdictCode")
        self.verdict_code.setWordWrap(True)
        self.verdict_code.setAlignment(Qt.AlignmentFlag.AlignCenter)
        verdict_layout.addWidget(self.verdict_reason)
        verdict_layout.addWidget(self.verdict_code)
        verdict_layout.addStretch(2)
        self.pages.addWidget(self.verdict_panel)

        self._state: SlotState | None = None
        self._size = (0, 0)  # kept by resizeEvent
        self._words = 0  # counts retranslations
        self.fitter = TileFitter(self)
        self.training = False  # the training window: the idle tile says how to start a unit there
        self.unlabelled = False  # units without a label: the fixture's scan starts them
        self.retranslate()

    # ---- size ----------------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._size = (event.size().width(), event.size().height())
        self._fit_type()

    def _fit_type(self) -> None:
        """Large type, as large as the tile allows: readable from three metres, never clipped
        nor overlapping (``station.gui.tile_fit``). Measured again only when the tile's size or
        words may have changed -- told by what the tile keeps, without asking Qt -- not on every
        progress step."""
        outcome = self._state.outcome if self._state is not None else None
        self.fitter.fit((self._size, self._words, self._shown.get("next"), self._shown.get("page"),
                         self._shown.get("serial"), outcome))  # fmt: skip

    # ---- drawing -------------------------------------------------------------------------

    def retranslate(self) -> None:
        self._words += 1  # every text is set again, maybe in another language
        self._show_name()
        self.next_marker.setText(self.tr("Next scan →"))
        if self.unlabelled:  # the work order's rule gives the serial: the fixture's scan starts the unit
            self.idle_hint.setText(self.tr("Ready. Put a unit in and scan this slot's fixture label."))
        else:
            self.idle_hint.setText(self.tr("Ready. Scan a unit, or press Simulate scan.") if self.training
                                   else self.tr("Ready. Scan a unit."))  # fmt: skip
        for step, label in self.step_labels.items():
            label.setText(step_title(step))
        self._shown.pop("device id", None)  # its words are translated
        if self._state is not None:
            self.show_state(self._state, 0.0)

    def set_product(self, product: str) -> None:
        """Say which product the slot makes (a line of mixed products), or nothing ("")."""
        if product != self.product:
            self.product = product
            self.product_label.setText(product)
            self.product_label.setVisible(bool(product))
            self._words += 1  # the rows below the top one have less room
            self._fit_type()

    def _show_name(self) -> None:
        self.name_label.setText(self.tr("Slot {name}").format(name=self.slot_name))

    def set_training(self, training: bool) -> None:
        self.training = training
        self.retranslate()

    def set_unlabelled(self, unlabelled: bool) -> None:
        """Units come without a label (the work order has a serial rule): the idle tile says so."""
        if unlabelled != self.unlabelled:
            self.unlabelled = unlabelled
            self.retranslate()

    def set_next(self, is_next: bool) -> None:
        """Mark (or unmark) this slot as the one the next scan goes to: the marker and a frame."""
        if not self._changed("next", is_next):
            return
        self.next_marker.setVisible(is_next)
        self.setProperty("next", is_next)
        repolish(self)
        self._fit_type()  # its frame is thicker, and the mark takes room on the top row

    def _changed(self, key: str, value: object) -> bool:
        """True, and remembered, when ``value`` is not what the tile shows for ``key`` yet.

        Every call into Qt hands the interpreter over and waits to get it back, which, with
        eight slots' threads running, is what kept the window from answering; so the tile
        makes none that would change nothing.
        """
        if key in self._shown and self._shown[key] == value:
            return False
        self._shown[key] = value
        return True

    def show_state(self, state: SlotState, now: float) -> None:
        self._state = state
        serial = state.serial or "\u00a0"  # keeps its height while empty
        if self._changed("serial", serial):
            self.serial_label.setText(serial)
        if self._changed("device id", state.device_id):
            self.device_label.setText(
                self.tr("Device {device_id}").format(device_id=state.device_id) if state.device_id else ""
            )
        self.update_elapsed(now)
        if state.running:
            self._show_running(state)
            verdict = "running"
        elif state.verdict is not None:
            self._show_verdict(state)
            verdict = state.verdict.value
        else:
            if self._changed("page", 0):
                self.pages.setCurrentIndex(0)
            verdict = "idle"
        if self._changed("verdict", verdict):
            self.setProperty("verdict", verdict)
            repolish(self)
        self._fit_type()

    def update_elapsed(self, now: float) -> None:
        state = self._state
        elapsed = format_seconds(state.elapsed(now)) if state is not None else ""
        if self._changed("elapsed", elapsed):
            self.elapsed_label.setText(elapsed)

    def _show_running(self, state: SlotState) -> None:
        if self._changed("page", 1):
            self.pages.setCurrentIndex(1)
        for step in DISPLAY_STEPS:
            step_state = state.steps.get(step, StepState.PENDING)
            if self._changed(f"step {step}", step_state):
                label = self.step_labels[step]
                self.step_icons[step].setPixmap(self._step_pixmaps[step_state])
                label.setProperty("state", step_state.value)
                repolish(label)
        instruction = state.instruction
        if self._changed("instruction", instruction):
            self.instruction_panel.show_instruction(instruction)
            self.steps_box.setVisible(instruction is None)
            self.instruction_panel.setVisible(instruction is not None)
        flashing = state.current_step == StepName.FLASH.value and state.progress is not None
        verifying = state.current_step == StepName.VERIFY.value
        if self._changed("progress shown", flashing or verifying):
            self.progress_bar.setVisible(flashing or verifying)
        if flashing and state.progress is not None and self._changed("progress", round(state.progress * 100)):
            self.progress_bar.setValue(round(state.progress * 100))
        elif verifying and self._changed("progress", 100):
            self.progress_bar.setValue(100)

    def _show_verdict(self, state: SlotState) -> None:
        if self._changed("page", 2):
            self.pages.setCurrentIndex(2)
        verdict = state.verdict
        words = {
            Verdict.PASS: verdict_pass(),
            Verdict.FAIL: verdict_fail(),
            Verdict.NEEDS_PERSON: verdict_fail(),
            Verdict.REWORKED: verdict_reworked(),
            Verdict.ALREADY_PASSED: verdict_pass(),  # the unit's PASS stays: it is a good unit
        }
        icons = {Verdict.PASS: "pass", Verdict.FAIL: "fail", Verdict.NEEDS_PERSON: "attention",
                 Verdict.REWORKED: "attention", Verdict.ALREADY_PASSED: "pass"}
        assert verdict is not None
        self.verdict_word.setText(words[verdict])
        self._shown["verdict word"] = words[verdict]
        self.verdict_icon.setPixmap(_verdict_pixmap(icons[verdict]))
        if verdict is Verdict.PASS:
            self.verdict_reason.setText(self.tr("Move the unit on."))
            self.verdict_code.setText("" if state.label is None else label_words(state.label))
        elif verdict is Verdict.ALREADY_PASSED:  # calm: it passed before and was not touched now
            self.verdict_reason.setText(state.headline)
            self.verdict_code.setText("")
        else:
            self.verdict_reason.setText(state.headline)
            step = step_title(state.failure_step) if state.failure_step else ""
            self.verdict_code.setText(
                self.tr("Code {code} at step {step}").format(code=state.failure_code or "?", step=step)
                if step else self.tr("Code {code}").format(code=state.failure_code or "?")
            )
        self.verdict_code.setToolTip(escape_text(state.detail))
        self._show_label_state(state.label.state.value if verdict is Verdict.PASS and state.label is not None else "")
        if self.verdict_panel.property("verdict") != verdict.value:
            self.verdict_panel.setProperty("verdict", verdict.value)
            repolish(self.verdict_panel)
            for child in self.verdict_panel.findChildren(QLabel):
                repolish(child)

    def _show_label_state(self, label: str) -> None:
        """Under a PASS the code's line says what became of the unit's label: a pending one
        stands out (amber), as the operator must see that the unit has no label yet."""
        if self.verdict_code.property("label") != label:
            self.verdict_code.setProperty("label", label)
            repolish(self.verdict_code)
