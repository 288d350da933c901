"""The operator's screen: what runs where, the results, the shift counters, and the login.

Nothing here needs a click to work: scans arrive through the scan filter and the serial
scanner, and the view follows the ``StationLine``. Buttons are for the few things a scan
cannot say (typing an id when a badge does not scan, a supervisor signing in).
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from station.gui.fitting import FittedLabel
from station.gui.line import BannerLevel, StationLine
from station.gui.resources import icon_path
from station.gui.slot_tile import TILE_MINIMUM_SIZE, SlotTile, repolish
from station.gui.wording import units_per_hour_text
from station.operations.counters import CounterFigures

ELAPSED_REFRESH_MS = 500
TILE_FRAME_MS = 100  # slot tiles are redrawn at most ten times a second
# The tiles of one frame are drawn this far apart: a window's repaint may wait up to 5 ms to
# gather changes (QWindow.requestUpdate), so each tile is painted before the next one is drawn.
TILE_SLICE_MS = 6
MAX_COLUMNS = 4
BANNER_PIXELS = (26, 15)  # the banner's largest and smallest type
BANNER_MAX_HEIGHT = 88  # two lines of its largest type, with its padding
COUNTER_MINIMUM_SIZE = QSize(120, 0)


def tile_columns(slots: int) -> int:
    """Columns for the slot tiles: one row up to three slots, then two rows up to eight, then
    rows of four. Eight slots as two rows of four fit a 1080 line screen with the training bar
    and a banner showing (their type sized to the tiles: station.gui.tile_fit); three rows made
    the window 1,600 px tall."""
    if slots <= 3:
        return max(1, slots)
    rows = 2 if slots <= 2 * MAX_COLUMNS else -(-slots // MAX_COLUMNS)
    return -(-slots // rows)


class CounterBox(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("counter")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 4, 12, 6)
        layout.setSpacing(0)
        self.value = QLabel("0")
        self.value.setObjectName("counterValue")
        self.value.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.name = QLabel()
        self.name.setObjectName("counterName")
        self.name.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.value)
        layout.addWidget(self.name)

    COUNTER_ROOM = "00000"  # the widest figure a shift's counter shows

    def set_name(self, name: str) -> None:
        """Name the counter and fix the box's size to its words and the widest figure.

        A box that grew with its figure had the window laid out, and all of it repainted,
        at every unit's result; a fixed-size box keeps a new figure's layout inside itself.
        """
        self.ensurePolished()  # the style sheet's type sizes apply from here
        self.name.setText(name)
        shown = self.value.text()
        self.value.setText(self.COUNTER_ROOM)
        self.setFixedSize(self.sizeHint().expandedTo(self.minimumSizeHint()).expandedTo(COUNTER_MINIMUM_SIZE))
        self.value.setText(shown)


class TileGrid(QWidget):
    """The slot tiles in equal cells, placed by this widget alone.

    A grid layout sized each row by its tiles' contents (word-wrapped text asks for a height
    for its width), so a tile whose words changed moved its neighbours and had the whole
    window laid out and repainted again, dozens of times a second with eight slots running.
    Here a tile's contents never change any tile's place or size; only a resize does.
    """

    SPACING = 12

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tiles: list[QWidget] = []
        self._columns = 1

    def set_tiles(self, tiles: list[QWidget], columns: int) -> None:
        self._tiles, self._columns = list(tiles), max(1, columns)
        rows = max(1, -(-len(self._tiles) // self._columns))
        minimum = TILE_MINIMUM_SIZE
        self.setMinimumSize(
            self._columns * minimum.width() + (self._columns - 1) * self.SPACING,
            rows * minimum.height() + (rows - 1) * self.SPACING,
        )
        for tile in self._tiles:
            tile.setParent(self)
            tile.show()
        self._place()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._place()

    def _place(self) -> None:
        if not self._tiles:
            return
        rows = -(-len(self._tiles) // self._columns)
        cell_width = (self.width() - (self._columns - 1) * self.SPACING) / self._columns
        cell_height = (self.height() - (rows - 1) * self.SPACING) / rows
        for index, tile in enumerate(self._tiles):
            row, column = divmod(index, self._columns)
            left, top = round(column * (cell_width + self.SPACING)), round(row * (cell_height + self.SPACING))
            right = round(column * (cell_width + self.SPACING) + cell_width)
            bottom = round(row * (cell_height + self.SPACING) + cell_height)
            tile.setGeometry(QRect(left, top, right - left, bottom - top))


class OperatorView(QWidget):
    type_id_requested = Signal()
    sign_in_requested = Signal()

    def __init__(self, line: StationLine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.line = line
        self.tiles: dict[str, SlotTile] = {}
        self.training = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 12)
        layout.setSpacing(10)

        # product, work order, counters
        self.context_bar = QFrame()
        self.context_bar.setObjectName("contextBar")
        context_layout = QHBoxLayout(self.context_bar)
        context_layout.setContentsMargins(16, 8, 16, 8)
        product_column = QVBoxLayout()
        self.product_label = QLabel()
        self.product_label.setObjectName("productLabel")
        self.work_order_label = QLabel()
        self.work_order_label.setObjectName("workOrderLabel")
        product_column.addWidget(self.product_label)
        product_column.addWidget(self.work_order_label)
        context_layout.addLayout(product_column, 1)
        self.passed_box, self.failed_box, self.yield_box, self.rate_box = (CounterBox() for _ in range(4))
        for box in (self.passed_box, self.failed_box, self.yield_box, self.rate_box):
            context_layout.addWidget(box)
        layout.addWidget(self.context_bar)

        # At most two lines of its largest type: a long message gets smaller type (or, at the
        # last, an ellipsis and a tooltip), never more height, so it never grows the window.
        self.banner = FittedLabel(*BANNER_PIXELS, BANNER_MAX_HEIGHT)
        self.banner.setObjectName("banner")
        self.banner.setTextFormat(Qt.TextFormat.PlainText)  # it may show what a scanner read
        self.banner.setProperty("level", BannerLevel.NONE.value)
        self.banner.hide()
        layout.addWidget(self.banner)

        self.demo_area = QVBoxLayout()
        layout.addLayout(self.demo_area)

        self.pages = QStackedWidget()
        layout.addWidget(self.pages, 1)

        # login page
        login_page = QWidget()
        login_outer = QVBoxLayout(login_page)
        login_outer.addStretch(1)
        self.login_panel = QFrame()
        self.login_panel.setObjectName("loginPanel")
        login_layout = QVBoxLayout(self.login_panel)
        login_layout.setContentsMargins(40, 30, 40, 30)
        login_layout.setSpacing(16)
        badge = QLabel()
        badge.setPixmap(QIcon(str(icon_path("badge"))).pixmap(QSize(128, 128)))
        badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.login_title = QLabel()
        self.login_title.setObjectName("loginTitle")
        self.login_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.login_hint = QLabel()
        self.login_hint.setObjectName("loginHint")
        self.login_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.login_hint.setWordWrap(True)
        buttons = QHBoxLayout()
        self.type_id_button = QPushButton()
        self.type_id_button.clicked.connect(self.type_id_requested)
        self.sign_in_button = QPushButton()
        self.sign_in_button.clicked.connect(self.sign_in_requested)
        buttons.addStretch(1)
        buttons.addWidget(self.type_id_button)
        buttons.addWidget(self.sign_in_button)
        buttons.addStretch(1)
        login_layout.addWidget(badge)
        login_layout.addWidget(self.login_title)
        login_layout.addWidget(self.login_hint)
        login_layout.addLayout(buttons)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.login_panel, 3)
        row.addStretch(1)
        login_outer.addLayout(row)
        login_outer.addStretch(2)
        self.pages.addWidget(login_page)

        # slots page
        self.slots_page = TileGrid()
        self.pages.addWidget(self.slots_page)

        self.elapsed_timer = QTimer(self)
        self.elapsed_timer.setInterval(ELAPSED_REFRESH_MS)
        self.elapsed_timer.timeout.connect(self._tick)
        self.elapsed_timer.start()

        self._changed_tiles: dict[str, None] = {}  # changed since the frame began (an ordered set)
        self._frame_tiles: list[str] = []  # still to draw in this frame
        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.timeout.connect(self._draw_next_tile)
        line.slot_changed.connect(self._slot_changed)
        line.next_slot_changed.connect(self.mark_next_slot)
        line.slots_replaced.connect(self._rebuild_tiles)
        line.banner_changed.connect(self._banner_changed)
        line.counters_changed.connect(self._counters_changed)
        line.session_changed.connect(self._session_changed)
        line.production_changed.connect(self._production_changed)
        self._rebuild_tiles()
        self.retranslate()
        self._session_changed()

    # ---- demo controls ---------------------------------------------------------------------

    def add_demo_controls(self, widget: QWidget) -> None:
        """The training window's controls; its tiles say "Simulate scan" starts a unit too."""
        self.demo_area.addWidget(widget)
        self.training = True
        for tile in self.tiles.values():
            tile.set_training(True)

    # ---- following the line -----------------------------------------------------------------

    def retranslate(self) -> None:
        self.passed_box.set_name(self.tr("Passed"))
        self.failed_box.set_name(self.tr("Failed"))
        self.yield_box.set_name(self.tr("First-pass yield"))
        self.rate_box.set_name(self.tr("Units per hour"))
        self.login_title.setText(self.tr("Scan your badge"))
        self.login_hint.setText(self.tr("Scan your badge to start. No badge? Type your id."))
        self.type_id_button.setText(self.tr("Type my id"))
        self.sign_in_button.setText(self.tr("Supervisor / engineer"))
        for tile in self.tiles.values():
            tile.retranslate()
        self._production_changed()
        self._counters_changed()

    def _rebuild_tiles(self) -> None:
        for tile in self.tiles.values():
            tile.hide()
            tile.deleteLater()
        self.tiles.clear()
        names = self.line.slot_names
        unlabelled = self.line.station.units.takes_unlabelled_units()
        for name in names:
            tile = SlotTile(name)
            if self.training:
                tile.set_training(True)
            tile.set_unlabelled(unlabelled)
            tile.set_product(self._slot_product(name))
            self.tiles[name] = tile
            tile.show_state(self.line.slot_states[name], self.line.clock())
        self.slots_page.set_tiles(list(self.tiles.values()), tile_columns(len(names)))
        self.mark_next_slot()

    def _slot_changed(self, name: str) -> None:
        """Redraw the slot's tile at the next frame: eight slots send progress many times a
        second, and drawing each one at once kept the window from answering in between."""
        self._changed_tiles[name] = None
        if not self._frame_timer.isActive() and not self._frame_tiles:
            self._frame_timer.start(TILE_FRAME_MS)

    @property
    def frame_pending(self) -> bool:
        """A slot changed and its tile is not redrawn yet."""
        return bool(self._changed_tiles or self._frame_tiles)

    def _draw_next_tile(self) -> None:
        """Draw one tile of the frame, then let the event loop run (and paint it) before the next.

        A frame in which all eight tiles change (eight units starting, or finishing, together)
        took tens of milliseconds drawn in one go; one tile per turn of the event loop keeps
        every stretch the window cannot answer to a few milliseconds.
        """
        if not self._frame_tiles:
            self._frame_tiles, self._changed_tiles = list(self._changed_tiles), {}
            self.mark_next_slot()  # a slot that started or finished moves the mark
        if self._frame_tiles:
            name = self._frame_tiles.pop(0)
            tile = self.tiles.get(name)
            state = self.line.slot_states.get(name)
            if tile is not None and state is not None:
                tile.show_state(state, self.line.clock())
        if self._frame_tiles:
            self._frame_timer.start(TILE_SLICE_MS)
        elif self._changed_tiles:
            self._frame_timer.start(TILE_FRAME_MS)

    def _tick(self) -> None:
        now = self.line.clock()
        for tile in self.tiles.values():
            tile.update_elapsed(now)
        self.mark_next_slot()  # a fixture label's choice runs out after a while

    def mark_next_slot(self) -> None:
        """Mark the tile the next scan goes to, one per product on a line of mixed products
        (none while every slot works)."""
        marked = self.line.next_slots()
        for name, tile in self.tiles.items():
            tile.set_next(name in marked)

    @property
    def marked_slots(self) -> list[str]:
        """The slots whose tiles carry the next-scan mark now."""
        return [name for name, tile in self.tiles.items() if tile.property("next")]

    def _banner_changed(self) -> None:
        banner = self.line.banner
        self.banner.set_full_text(banner.text)
        self.banner.setVisible(banner.level is not BannerLevel.NONE)
        if self.banner.property("level") != banner.level.value:
            self.banner.setProperty("level", banner.level.value)
            repolish(self.banner)

    def _counters_changed(self) -> None:
        figures: CounterFigures = self.line.figures()
        self.passed_box.value.setText(str(figures.passed))
        self.failed_box.value.setText(str(figures.failed))
        self.yield_box.value.setText("—" if figures.first_pass_yield is None else f"{figures.first_pass_yield:.0%}")
        self.rate_box.value.setText(units_per_hour_text(figures.units_per_hour))

    def _session_changed(self) -> None:
        self.pages.setCurrentIndex(0 if self.line.user is None else 1)

    def _slot_product(self, name: str) -> str:
        """The product a slot makes, said on its tile only where slots make different ones."""
        production = self.line.station.production
        recipe = production.recipe_for(name)
        return recipe.product if production.mixed and recipe is not None else ""

    def _production_changed(self) -> None:
        for name, tile in self.tiles.items():
            tile.set_product(self._slot_product(name))
        recipes = self.line.station.production.recipes_in_use()  # more than one on a mixed line
        if not recipes:
            self.product_label.setText(self.tr("No recipe"))
        else:
            self.product_label.setText("  |  ".join(
                self.tr("{product}  ·  firmware {version}").format(
                    product=recipe.product, version=recipe.firmware_version
                )
                for recipe in recipes
            ))
        work_order = self.line.settings.work_order
        unlabelled = self.line.station.units.takes_unlabelled_units()
        self.work_order_label.setText(
            (self.tr("Work order {code}: units without a label, serials from its rule") if unlabelled
             else self.tr("Work order {code}")).format(code=work_order) if work_order
            else self.tr("No work order")
        )  # fmt: skip
        for tile in self.tiles.values():
            tile.set_unlabelled(unlabelled)
