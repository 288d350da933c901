"""The engine callbacks registered through unicorn's C API (``core_memory.map_device`` and
``hook_stores``, which the family's register pages and a flash controller's store hook use): what
they are called with, and a callback's exception raised by ``emu_start`` as the binding's own
callbacks raise theirs."""

from __future__ import annotations

import struct

import pytest
import unicorn
from unicorn import arm_const

from station.sim.core_memory import hook_stores, map_device

CODE, DEVICE, FLASH = 0x2000_0000, 0x4000_0000, 0x0800_0000
# ldr r1, [r0, #4]; str r1, [r0, #8]; strh r1, [r2, #2]; nop
PROGRAM = struct.pack("<4H", 0x6841, 0x6081, 0x8051, 0xBF00)
END = CODE + 6  # the nop: where the run stops


def engine() -> unicorn.Uc:
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
    uc.mem_map(CODE, 0x1000)
    uc.mem_write(CODE, PROGRAM)
    uc.mem_map(FLASH, 0x1000)
    uc.reg_write(arm_const.UC_ARM_REG_R0, DEVICE)
    uc.reg_write(arm_const.UC_ARM_REG_R2, FLASH)
    return uc


def test_a_device_page_and_a_store_hook_get_what_the_core_does() -> None:
    uc = engine()
    calls: list[tuple[object, ...]] = []

    def read(engine: unicorn.Uc, offset: int, size: int, base: int) -> int:
        calls.append(("read", engine is uc, offset, size, base))
        return 0x8765_4321

    def write(engine: unicorn.Uc, offset: int, size: int, value: int, base: int) -> None:
        calls.append(("write", engine is uc, offset, size, value, base))

    map_device(uc, DEVICE, 0x400, read, write)
    hook_stores(uc, FLASH, FLASH + 0xFFF, lambda address, size, value: calls.append(("store", address, size, value)))
    uc.emu_start(CODE | 1, END)
    assert calls == [
        ("read", True, 4, 4, DEVICE),
        ("write", True, 8, 4, 0x8765_4321, DEVICE),
        ("store", FLASH + 2, 2, 0x4321),
    ]
    assert uc.mem_read(FLASH, 4) == b"\x00\x00\x21\x43"  # the hook saw the store; it still happened


def test_an_exception_in_a_callback_stops_the_engine_and_is_raised_by_emu_start() -> None:
    uc = engine()
    stores: list[int] = []

    def read(_engine: unicorn.Uc, _offset: int, _size: int, _base: int) -> int:
        raise RuntimeError("the register file is gone")

    map_device(uc, DEVICE, 0x400, read, lambda *_arguments: None)
    hook_stores(uc, FLASH, FLASH + 0xFFF, lambda address, _size, _value: stores.append(address))
    with pytest.raises(RuntimeError, match="the register file is gone"):
        uc.emu_start(CODE | 1, END)
    assert not stores  # stopped at the load: the store after it never ran
    uc.emu_start(CODE + 2 | 1, END)  # and the engine is usable afterwards: no exception kept
    assert stores == [FLASH + 2]
