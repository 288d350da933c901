"""Text that fits its place: type sized to the room, word wrap, and an ellipsis as the last resort.

At eight slots on a 1080-line screen a tile has about 300 px of height, and the longest
operator sentence in Spanish runs to four lines at the type a tile shows at three slots. Text
that did not fit was squeezed by its layout: a FAIL tile's sentence ran over the FAIL word and
lost its end. Here each label is given the largest type at which its text fits the room it
has -- word-wrapped labels by their height for the width, one-line labels by their width --
and only text that fits at no size is cut, with an ellipsis and the whole text as a tooltip.

Sizes are measured with the label's own font metrics and applied as the label's own style
sheet (``font-size``): a type size given with ``setFont`` was undone whenever the label was
polished again for a new verdict or step state (the application's style sheet sets every
widget's type), which a widget's own sheet survives. Each fit is checked with the label's own
``heightForWidth`` once applied, which is what Qt's layout (and a test) measures.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFont, QFontMetrics, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

ELLIPSIS = "…"
QWIDGETSIZE_MAX = (1 << 24) - 1  # Qt's largest widget size: no maximum
_TALL = 1_000_000


def pixel_font(label: QLabel, size: int) -> QFont:
    """The label's font (family and weight as its style gives them) at ``size`` pixels."""
    label.ensurePolished()  # a label not shown yet has not had its style's type (bold, family) yet
    font = QFont(label.font())
    font.setPixelSize(size)
    return font


def set_pixel_size(label: QLabel, size: int, style: str = "") -> None:
    """Give the label ``size``-pixel type through its own style sheet (``style`` adds more
    declarations, e.g. a family); nothing is done when it has that already."""
    sheet = f"font-size: {size}px;{style}"
    if label.styleSheet() != sheet:
        label.setStyleSheet(sheet)
        label.ensurePolished()


def _horizontal_room(label: QLabel, width: int) -> int:
    label.ensurePolished()  # its padding comes with its style
    margins = label.contentsMargins()
    return width - margins.left() - margins.right() - 2 * max(0, label.margin())


def wrapped_height(label: QLabel, font: QFont, text: str, width: int) -> int:
    """The height the word-wrapped ``label`` needs for ``text`` at ``width`` in ``font`` (as
    ``QLabel.heightForWidth`` computes it for plain text)."""
    margins = label.contentsMargins()
    flags = int(label.alignment().value) | int(Qt.TextFlag.TextWordWrap.value)
    room = max(1, _horizontal_room(label, width))
    rect = QFontMetrics(font).boundingRect(QRect(0, 0, room, _TALL), flags, text)
    return rect.height() + margins.top() + margins.bottom() + 2 * max(0, label.margin())


def line_width(label: QLabel, font: QFont, text: str) -> int:
    return QFontMetrics(font).horizontalAdvance(text)


def wrapped_fits(label: QLabel, width: int, height: int) -> bool:
    """The word-wrapped label's text, as it is shown now, fits ``width`` x ``height``."""
    return label.heightForWidth(width) <= height


def line_fits(label: QLabel, width: int) -> bool:
    """The one-line label's text, as it is shown now, fits ``width`` (its margins included)."""
    return QFontMetrics(label.font()).horizontalAdvance(label.text()) <= _horizontal_room(label, width)


def _largest(fits: Callable[[int], bool], largest: int, smallest: int) -> int:
    """The largest size in [smallest, largest] that fits (``smallest`` when none does); sizes
    that fit form a prefix, since text grows with its type."""
    low, high = smallest, largest
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def wrapped_size(label: QLabel, text: str, width: int, height: int, largest: int, smallest: int) -> int | None:
    """The largest pixel size at which ``text`` fits the word-wrapped label's room; None: none."""
    size = _largest(lambda size: wrapped_height(label, pixel_font(label, size), text, width) <= height,
                    largest, smallest)  # fmt: skip
    return size if wrapped_height(label, pixel_font(label, size), text, width) <= height else None


def fit_wrapped(
    label: QLabel, text: str, width: int, height: int, largest: int, smallest: int, style: str = ""
) -> bool:
    """Show ``text`` in the word-wrapped ``label`` at the largest pixel size in [smallest,
    largest] at which it fits ``width`` x ``height``; at ``smallest``, cut at a word with an
    ellipsis (the whole text in the tooltip) when even that does not fit. True when all fits."""
    width, height = max(1, width), max(1, height)
    size = wrapped_size(label, text, width, height, largest, smallest)
    if label.text() != text:
        label.setText(text)
    set_pixel_size(label, size if size is not None else smallest, style)
    while size is not None and size > smallest and not wrapped_fits(label, width, height):
        size -= 1  # the label's own measure has the last word
        set_pixel_size(label, size, style)
    if size is not None and wrapped_fits(label, width, height):
        label.setToolTip("")
        return True
    _cut_to_fit(label, text, lambda: wrapped_fits(label, width, height))
    return False


def fit_line(label: QLabel, text: str, width: int, largest: int, smallest: int, style: str = "") -> bool:
    """The one-line ``label`` shows ``text`` at the largest pixel size that fits ``width``; at
    ``smallest``, elided (the whole text in the tooltip). True when all of it fits."""
    room = _horizontal_room(label, width)
    size = _largest(lambda size: line_width(label, pixel_font(label, size), text) <= room, largest, smallest)
    if label.text() != text:
        label.setText(text)
    set_pixel_size(label, size, style)
    if line_fits(label, width):
        label.setToolTip("")
        return True
    return elide_line(label, text, width)


def elide_line(label: QLabel, text: str, width: int) -> bool:
    """Show ``text`` in the one-line ``label`` at its type now, elided at the right to fit
    ``width`` with the whole text as the tooltip; True when it fits whole."""
    room = max(0, _horizontal_room(label, width))
    shown = QFontMetrics(label.font()).elidedText(text, Qt.TextElideMode.ElideRight, room)
    if label.text() != shown:
        label.setText(shown)
    whole = shown == text
    label.setToolTip("" if whole else text)
    return whole


def _cut_to_fit(label: QLabel, text: str, fits: Callable[[], bool]) -> None:
    """The longest start of ``text`` (cut at a space where there is one) that, with an ellipsis, fits."""
    low, high = 0, len(text)
    while low < high:  # the longest prefix length that fits
        middle = (low + high + 1) // 2
        label.setText(_shortened(text, middle))
        if fits():
            low = middle
        else:
            high = middle - 1
    label.setText(_shortened(text, low))
    label.setToolTip(text)


def _shortened(text: str, length: int) -> str:
    if length >= len(text):
        return text
    cut = text[:length]
    space = cut.rfind(" ")
    if space > length // 2:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


class FittedLabel(QLabel):
    """A word-wrapped label as tall as its text needs and never taller than ``max_height``:
    the type shrinks (down to ``smallest``) before the text is cut. Its height is fixed to what
    it shows, so a long message takes room from its neighbours, never more than ``max_height``,
    and never grows the window (a banner once grew it past the screen's bottom edge)."""

    def __init__(self, largest: int, smallest: int, max_height: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.largest, self.smallest, self.max_height = largest, smallest, max_height
        self.full_text = ""
        self._fitted_for: tuple[int, str] | None = None

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        width = self.width()
        if width < 2 or self._fitted_for == (width, self.full_text):
            return
        self._fitted_for = (width, self.full_text)
        fit_fixed_height(self, self.full_text, width, self.max_height, self.largest, self.smallest)


def fit_fixed_height(label: QLabel, text: str, width: int, height: int, largest: int, smallest: int) -> None:
    """``fit_wrapped``, then the label's height fixed to what its text takes (at most ``height``).
    Its old fixed height is let go first: a label's height for a width is never less than its
    minimum height, which would keep a shorter text as tall as the last one."""
    label.setMinimumHeight(0)
    label.setMaximumHeight(QWIDGETSIZE_MAX)
    fit_wrapped(label, text, width, height, largest, smallest)
    label.setFixedHeight(max(0, min(height, label.heightForWidth(width))))
