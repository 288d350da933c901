"""The engine callbacks registered through unicorn's C API (``core_memory.map_device`` and
``hook_stores``, which the family's register pages and a flash controller's store hook use): what
they are called with, a callback's exception raised by ``emu_start`` as the binding's own
callbacks raise theirs, and ``StoreCounter`` counting stores by page only while it watches."""

from __future__ import annotations

import ctypes
import mmap
import struct

import pytest
import unicorn
from unicorn import arm_const

from station.sim.chips.layout import MemoryLayout, Window
from station.sim.core_memory import StoreCounter, hook_stores, map_device
from station.sim.flash_copy import FlashCopy

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


def test_a_store_counter_counts_every_store_by_page_while_it_watches_and_drops_stray_ones() -> None:
    """Two regions of non-volatile memory, the engine's flash mapped onto the copy as the core maps it."""
    layout = MemoryLayout(
        nvm=(Window(FLASH, 0x1000), Window(FLASH + 0x1000, 0x1000)), ram=(), id_page=Window(0, 0), peripherals=()
    )
    shadow, at_refresh = (ctypes.c_char * 0x2000)(), (ctypes.c_char * 0x2000)()
    nvm = mmap.mmap(-1, 0x2000)
    nvm.write(b"\xff" * 0x2000)  # erased
    flash = FlashCopy(shadow, at_refresh, nvm, layout=layout, on_refresh=lambda _start, _end: None)
    flash.refresh_all()
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
    uc.mem_map(CODE, 0x1000)
    uc.mem_write(CODE, PROGRAM)
    uc.mem_map_ptr(FLASH, 0x2000, unicorn.UC_PROT_ALL, ctypes.addressof(shadow))
    uc.reg_write(arm_const.UC_ARM_REG_R0, CODE + 0x100)  # the load and the first store: RAM
    uc.reg_write(arm_const.UC_ARM_REG_R2, FLASH)  # strh r1, [r2, #2]: zero to flash
    counter = StoreCounter(uc, layout, flash)
    try:
        uc.emu_start(CODE | 1, END)  # not watching: the store is made, not counted
        assert counter.take() == {}
        counter.watch(True)
        uc.emu_start(CODE | 1, END)
        uc.emu_start(CODE | 1, END)  # the value the halfword holds already: counted all the same
        uc.reg_write(arm_const.UC_ARM_REG_R2, FLASH + 0x1000)  # the second region's page
        uc.emu_start(CODE | 1, END)
        assert counter.take() == {0: 2, 0x1000: 1}
        assert counter.take() == {}
        counter.watch(False)
        uc.reg_write(arm_const.UC_ARM_REG_R2, FLASH + 0x1010)
        uc.emu_start(CODE | 1, END)
        assert counter.take() == {}
        assert uc.mem_read(FLASH + 0x1012, 2) == b"\x00\x00"  # the store is in the copy
        counter.watch(True, run_start=True)  # counting starts at a run: stores made before are dropped
        assert uc.mem_read(FLASH + 0x1012, 2) == b"\xff\xff"
        assert uc.mem_read(FLASH + 2, 2) == b"\xff\xff"  # never handed over: dropped too
        assert counter.take() == {}
    finally:
        counter.watch(False)
        flash.close()
        nvm.close()
