"""A slot tile's words sized to the tile, whatever its size, so that nothing is cut or overlaps.

A tile is as large as the window allows: at three slots on a wide screen about 600 x 800 px,
at eight slots on a 1080-line screen with a banner showing about 460 x 300. Its parts are sized
top down from the room it has:

- the top row's "Next scan" mark shrinks to what the slot's name and clock leave;
- the serial is as large as the width allows (smaller when the tile is short);
- the running page's steps go in one column, or in two when seven rows do not fit the height;
- the result page gives the PASS/FAIL word (and its icon) the largest size at which the
  sentence under it still fits whole at a readable size; the sentence and the code wrap;
- the idle words wrap and shrink to their page.

Everything is measured with the labels' own font metrics (``station.gui.fitting``) and sized
again only when the tile's size or words change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QGridLayout, QLabel

from station.gui.fitting import (
    fit_line,
    fit_wrapped,
    line_width,
    pixel_font,
    set_pixel_size,
    wrapped_height,
)

if TYPE_CHECKING:
    from station.gui.slot_tile import SlotTile

SERIAL_STYLE = 'font-family: "DejaVu Sans Mono", "Noto Sans Mono", monospace; font-weight: bold;'
WORD_STYLE = "font-weight: 900;"
SERIAL_PIXELS = (40, 16)  # largest and smallest type of the serial
SHORT_SERIAL_PIXELS = 30  # the serial's largest type on a short tile
SHORT_TILE = 360  # a tile's height inside its frame below which it is short (eight slots, 1080 lines)
ROOMY_MARGINS, SHORT_MARGINS = (16, 12, 16, 16), (12, 8, 12, 10)  # the tile's, left top right bottom
ROOMY_SPACING, SHORT_SPACING = 6, 4
ROOMY_PANEL_MARGINS, SHORT_PANEL_MARGINS = (14, 10, 14, 14), (10, 6, 10, 8)  # the result panel's
MARK_PIXELS = (17, 11)
STEP_PIXELS = (21, 13)
STEP_COLUMN_GAP = 16
IDLE_PIXELS = (26, 14)
# The result page: word (and icon) sizes tried from large to small, until the sentence fits.
WORD_PIXELS = (96, 84, 72, 64, 56, 48, 42, 36, 30, 26)
ICON_PIXELS = (84, 28)
REASON_PIXELS = (30, 16)  # the sentence's type
REASON_READABLE = (22, 19, 16)  # the sentence's smallest type, tried in turn before a smaller word
REASON_LAST_RESORT = 12  # below this the sentence is cut (with a tooltip) rather than made smaller
CODE_PIXELS = (20, 13)


class TileFitter:
    """Sizes one tile's words; remembers what it sized them for, and the whole texts.

    A label's text may be cut to fit (the last resort); the whole text is kept here, and a text
    the tile sets anew (a new verdict, a new language) is taken as the new whole text.
    """

    def __init__(self, tile: SlotTile) -> None:
        self.tile = tile
        self.step_columns = 1
        self._fitted_for: tuple[object, ...] | None = None
        self._told: tuple[object, ...] | None = None
        self._whole: dict[int, str] = {}
        self._shown: dict[int, str] = {}
        tile.verdict_icon.setScaledContents(True)  # its picture follows the size it is given

    def whole(self, label: QLabel) -> str:
        """The label's whole text: what the tile last set, even where the label shows it cut."""
        shown = label.text()
        if self._shown.get(id(label)) != shown:
            self._whole[id(label)] = shown
        return self._whole.get(id(label), shown)

    def fit(self, told: tuple[object, ...]) -> None:
        """Size every word of the tile to the tile as it is now, when its size or words changed.

        ``told`` is what the tile keeps of its size and words; while it is the same, nothing
        is asked of Qt (a tile is drawn up to ten times a second with eight slots running).
        """
        if told == self._told:
            return
        self._told = told
        tile = self.tile
        labels = self._labels()
        inside = tile.contentsRect().size()  # the frame is thicker on the marked tile
        key = (inside.width(), inside.height(), *(self.whole(label) for label in labels))
        if key == self._fitted_for or tile.width() < 2:
            return
        fit_tile(tile, self)
        for label in labels:
            self._shown[id(label)] = label.text()
        self._fitted_for = (inside.width(), inside.height(), *(self.whole(label) for label in labels))

    def _labels(self) -> list[QLabel]:
        tile = self.tile
        return [tile.name_label, tile.next_marker, tile.product_label, tile.serial_label, tile.idle_hint,
                tile.verdict_word, tile.verdict_reason, tile.verdict_code, *tile.step_labels.values()]  # fmt: skip


def fit_tile(tile: SlotTile, fitter: TileFitter) -> None:
    """Size every word of the tile to the tile as it is now."""
    layout = tile.layout()
    if layout is None or tile.width() < 2:
        return
    contents = tile.contentsRect()
    short = contents.height() < SHORT_TILE
    layout.setContentsMargins(*(SHORT_MARGINS if short else ROOMY_MARGINS))
    layout.setSpacing(SHORT_SPACING if short else ROOMY_SPACING)
    panel = tile.verdict_panel.layout()
    if panel is not None:
        panel.setContentsMargins(*(SHORT_PANEL_MARGINS if short else ROOMY_PANEL_MARGINS))
    margins = layout.contentsMargins()
    width = contents.width() - margins.left() - margins.right()
    height = contents.height() - margins.top() - margins.bottom()
    spacing = layout.spacing()
    _fit_top_row(tile, fitter, width)
    serial_largest = SHORT_SERIAL_PIXELS if short else SERIAL_PIXELS[0]
    serial = fitter.whole(tile.serial_label)
    fit_line(tile.serial_label, serial, width - 8, serial_largest, SERIAL_PIXELS[1], SERIAL_STYLE)
    if tile.product:
        fit_line(tile.product_label, fitter.whole(tile.product_label), width, *MARK_PIXELS)
    top = (
        max(tile.name_label.sizeHint().height(), tile.elapsed_label.sizeHint().height(),
            tile.next_marker.sizeHint().height())
        + tile.serial_label.sizeHint().height()
        + tile.device_label.sizeHint().height()
        + 3 * spacing
        + (tile.product_label.sizeHint().height() + spacing if tile.product else 0)
    )  # fmt: skip
    page = QSize(width, height - top)
    fit_wrapped(tile.idle_hint, fitter.whole(tile.idle_hint), page.width(), page.height(), *IDLE_PIXELS)
    _fit_steps(tile, fitter, page)
    _fit_verdict(tile, fitter, page)


def _fit_top_row(tile: SlotTile, fitter: TileFitter, width: int) -> None:
    """The mark gets what the name and the clock (room for "00:00") leave on the row."""
    tile.name_label.ensurePolished()  # measured with their style's type, shown yet or not
    tile.elapsed_label.ensurePolished()
    clock = QFontMetrics(tile.elapsed_label.font()).horizontalAdvance("00:00")
    layout = tile.layout()  # the top row's spacing is the tile's
    gaps = 3 * (layout.spacing() if layout is not None else ROOMY_SPACING) + 8
    room = width - tile.name_label.sizeHint().width() - clock - gaps
    marker = tile.next_marker
    fit_line(marker, fitter.whole(marker), room, *MARK_PIXELS)  # elided (with a tooltip) at the last
    marker.setMaximumWidth(max(0, room))


def _fit_steps(tile: SlotTile, fitter: TileFitter, page: QSize) -> None:
    """One column of steps when seven rows fit the page at a readable type, else two."""
    running_page = tile.pages.widget(1)
    running = running_page.layout() if running_page is not None else None
    grid = tile.steps_box.layout()
    if running is None or not isinstance(grid, QGridLayout):
        return
    margins = running.contentsMargins()
    progress = tile.progress_bar.sizeHint().height()
    room = page.height() - margins.top() - margins.bottom() - progress - 2 * running.spacing()
    labels = list(tile.step_labels.values())
    icon = max(icon.height() for icon in tile.step_icons.values())
    rows_gap = grid.verticalSpacing()

    def font_for(columns: int) -> int | None:
        """The largest step type that fits ``columns`` columns in the page, or None. The columns
        share the width by their widest words (Qt's grid gives each its own first)."""
        rows = -(-len(labels) // columns)
        text_room = page.width() - columns * (icon + grid.horizontalSpacing()) - (columns - 1) * STEP_COLUMN_GAP
        in_columns = [labels[start : start + rows] for start in range(0, len(labels), rows)]
        for size in range(STEP_PIXELS[0], STEP_PIXELS[1] - 1, -1):
            font = pixel_font(labels[0], size)
            font.setBold(True)  # the running step is bold: the widest it gets
            line = QFontMetrics(font).height()
            if rows * max(icon, line) + (rows - 1) * rows_gap > room:
                continue
            widest = sum(max(line_width(label, font, label.text()) for label in column) for column in in_columns)
            if widest <= text_room:
                return size
        return None

    columns, size = 1, font_for(1)
    if size is None or size < 17:
        two = font_for(2)
        if two is not None and (size is None or two > size):
            columns, size = 2, two
    _arrange_steps(tile, fitter, grid, columns)
    for label in labels:
        set_pixel_size(label, size if size is not None else STEP_PIXELS[1])


def _arrange_steps(tile: SlotTile, fitter: TileFitter, grid: QGridLayout, columns: int) -> None:
    if fitter.step_columns == columns:
        return
    fitter.step_columns = columns
    steps = list(tile.step_labels)
    rows = -(-len(steps) // columns)
    for step in steps:
        grid.removeWidget(tile.step_icons[step])
        grid.removeWidget(tile.step_labels[step])
    for index, step in enumerate(steps):
        column, row = divmod(index, rows)
        grid.addWidget(tile.step_icons[step], row, 3 * column)
        grid.addWidget(tile.step_labels[step], row, 3 * column + 1)
    for column in range(6):
        grid.setColumnStretch(column, 1 if column % 3 == 1 and column // 3 < columns else 0)
        grid.setColumnMinimumWidth(column, STEP_COLUMN_GAP if column % 3 == 2 and column // 3 < columns - 1 else 0)


def _fit_verdict(tile: SlotTile, fitter: TileFitter, page: QSize) -> None:
    """The largest word (and icon) at which the sentence under it still fits whole at a size
    read from a distance; failing that, at a smaller one. The code under the sentence is set
    smaller than the sentence: it is for whoever the operator calls."""
    panel = tile.verdict_panel
    layout = panel.layout()
    if layout is None:
        return
    margins = layout.contentsMargins()
    width = page.width() - margins.left() - margins.right()
    height = page.height() - margins.top() - margins.bottom()
    spacing = max(0, layout.spacing())
    word, reason, code = tile.verdict_word, tile.verdict_reason, tile.verdict_code
    word_text, reason_text, code_text = fitter.whole(word), fitter.whole(reason), fitter.whole(code)
    code.setVisible(bool(code_text))  # an empty line would still take its height (PASS has no code)
    gaps = (2 if code_text else 1) * spacing

    def words_height(size: int) -> int:
        """The sentence at ``size`` and the code at its size under it."""
        sentence = wrapped_height(reason, pixel_font(reason, size), reason_text, width) if reason_text else 0
        under = wrapped_height(code, pixel_font(code, code_size(size)), code_text, width) if code_text else 0
        return sentence + under

    chosen: tuple[int, int, int] | None = None  # word size, icon size, sentence size
    for readable in REASON_READABLE:
        for size in WORD_PIXELS:
            font = pixel_font(word, size)
            line = QFontMetrics(font).height()
            icon = max(ICON_PIXELS[1], min(ICON_PIXELS[0], line))
            if line_width(word, font, word_text) > width - icon - 12 - 8:
                continue
            room = height - max(line, icon) - gaps
            if words_height(readable) > room:
                continue
            sentence = readable
            while sentence < REASON_PIXELS[0] and words_height(sentence + 1) <= room:
                sentence += 1
            chosen = (size, icon, sentence)
            break
        if chosen is not None:
            break
    size, icon, sentence = chosen if chosen is not None else (WORD_PIXELS[-1], ICON_PIXELS[1], REASON_LAST_RESORT)
    tile.verdict_icon.setFixedSize(icon, icon)
    fit_line(word, word_text, width - icon - 12 - 8, size, WORD_PIXELS[-1], WORD_STYLE)
    line = max(word.sizeHint().height(), icon)
    under = code_size(sentence)
    if code_text:
        fit_wrapped(code, code_text, width, max(1, height - line - gaps), under, CODE_PIXELS[1])
    room = height - line - (code.heightForWidth(width) if code_text else 0) - gaps
    fit_wrapped(reason, reason_text, width, room, sentence, min(sentence, REASON_LAST_RESORT))


def code_size(sentence: int) -> int:
    """The code's type for a sentence's: three quarters of it, within CODE_PIXELS."""
    return max(CODE_PIXELS[1], min(CODE_PIXELS[0], round(sentence * 0.75)))
