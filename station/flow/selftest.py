"""Reading a golden unit: for the station self-test, and for its reference when it is marked.

What is read is what the sequence itself relies on: the lock state (a fresh session that never
changes it), the device id, the recipe's images read back and hashed as the recipe pins them
(only through an unlocked debug port: a locked unit answers no memory read), and what the
console answers to the identity commands after a reboot (firmware version, device id,
endpoint, certificate fingerprint). A locked unit's device id comes from its console, as at
connect. Nothing is written to the unit.

Each part is read under a deadline from the recipe (the probe part under connect's and
verify's, the console part under identity's), watched by the station's ``Watchdog``: a call
blocked in pyOCD or on the port is interrupted as a step's would be. A part that cannot be read
is left None with the reason, for the self-test to fail that check and say why; nothing here
raises for a unit's fault.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from station.domain.errors import StationError
from station.domain.firmware_images import image_content_sha256
from station.domain.recipe import ImageSegment, Recipe, StepName
from station.domain.selftest import (
    CHECK_CONSOLE,
    CHECK_DEVICE_ID,
    CHECK_IMAGES,
    CHECK_LOCK,
    ConsoleIdentity,
    ImageHash,
    UnitReading,
)
from station.flow.ports import AttachedUnit, UnitConsole
from station.flow.run import Slot
from station.flow.steps.console_talk import ask, reboot_console
from station.flow.watchdog import Watchdog

T = TypeVar("T")


class _Deadline:
    """One part's deadline: the seconds left, and what to interrupt when it passes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())


class _Console:
    """The console port of one reading, opened on first use, interruptible from the watchdog."""

    def __init__(self, slot: Slot) -> None:
        self._slot = slot
        self._lock = threading.Lock()
        self.port: UnitConsole | None = None

    def open(self) -> UnitConsole:
        console = self._slot.open_console()
        with self._lock:
            self.port = console
        return console

    def interrupt(self) -> None:
        with self._lock:
            port = self.port
        if port is not None:
            port.interrupt()

    def close(self) -> None:
        with self._lock:
            port, self.port = self.port, None
        if port is not None:
            try:
                port.close()
            except Exception:  # a port that fails to close must not hide what was read
                return


def read_unit(slot: Slot, recipe: Recipe, watchdog: Watchdog) -> UnitReading:
    """What the unit on ``slot`` is, as far as it can be read (see the module's docstring)."""
    problems: dict[str, str] = {}
    probe_deadline = _Deadline(recipe.step(StepName.CONNECT).timeout_seconds
                               + recipe.step(StepName.VERIFY).timeout_seconds)  # fmt: skip
    locked = _guarded(watchdog, probe_deadline, slot.probe.interrupt, problems, CHECK_LOCK, slot.probe.is_locked)
    device_id: str | None = None
    images: tuple[ImageHash, ...] | None = None
    if locked is None:
        problems[CHECK_DEVICE_ID] = problems[CHECK_IMAGES] = problems[CHECK_LOCK]
    elif locked:
        problems[CHECK_IMAGES] = "the unit is locked: its flash cannot be read back through the debug port"
    else:
        found = _guarded(watchdog, probe_deadline, slot.probe.interrupt, problems, CHECK_DEVICE_ID,
                         lambda: _read_debug_port(slot, recipe))  # fmt: skip
        if found is None:
            problems[CHECK_IMAGES] = problems[CHECK_DEVICE_ID]
        else:
            device_id, images = found
    console = _read_console(slot, recipe, watchdog, problems)
    device_id_from = "debug port"
    if locked and console is not None:
        device_id, device_id_from = console.device_id.upper(), "console"
    elif locked:
        problems[CHECK_DEVICE_ID] = f"the unit is locked and its console did not answer ({problems[CHECK_CONSOLE]})"
    return UnitReading(slot.probe.probe_id, locked, device_id, device_id_from, images, console, problems)


def _read_debug_port(slot: Slot, recipe: Recipe) -> tuple[str, tuple[ImageHash, ...]]:
    with slot.probe.attach() as unit:
        return unit.read_device_id().upper(), tuple(_image_hash(unit, image.name, image.segments)
                                                     for image in recipe.images)  # fmt: skip


def _image_hash(unit: AttachedUnit, name: str, segments: tuple[ImageSegment, ...]) -> ImageHash:
    """The image as the unit holds it, hashed as the recipe pins it (its segments' bytes in order)."""
    read_back = [ImageSegment(segment.address, unit.read(segment.address, len(segment.data))) for segment in segments]
    return ImageHash(name, image_content_sha256(read_back))


def _read_console(slot: Slot, recipe: Recipe, watchdog: Watchdog, problems: dict[str, str]) -> ConsoleIdentity | None:
    dialect = recipe.console
    commands = dialect.commands
    deadline = _Deadline(recipe.step(StepName.IDENTITY).timeout_seconds)
    holder = _Console(slot)

    def identity() -> ConsoleIdentity:
        console = holder.open()
        reboot_console(dialect, console, deadline.remaining)  # the identity must survive a reset
        return ConsoleIdentity(
            firmware_version=ask(dialect, console, commands.version, deadline.remaining),
            device_id=ask(dialect, console, commands.uuid, deadline.remaining).upper(),
            endpoint=ask(dialect, console, commands.endpoint, deadline.remaining, required=False),
            certificate_fingerprint=ask(dialect, console, commands.certificate_fingerprint, deadline.remaining,
                                        required=False).lower(),
        )  # fmt: skip

    try:
        return _guarded(watchdog, deadline, holder.interrupt, problems, CHECK_CONSOLE, identity)
    finally:
        holder.close()


def _guarded(
    watchdog: Watchdog,
    deadline: _Deadline,
    interrupt: Callable[[], None],
    problems: dict[str, str],
    check: str,
    read: Callable[[], T],
) -> T | None:
    """``read()`` under ``deadline``; None, with the reason under ``check``, when it failed."""
    with watchdog.watch(deadline.at, interrupt) as watch:
        try:
            value = read()
        except StationError as error:
            problems[check] = str(error)
            value = None
        except Exception as error:  # a bug or a library's surprise: a failed check, never a crash
            problems[check] = f"internal error: {type(error).__name__}"
            value = None
    if watch.expired:
        problems[check] = f"did not finish within {deadline.seconds:g} s"
        return None
    return value
