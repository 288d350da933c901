"""Exception entry and return of the simulated Cortex-M4, done on the emulator's registers.

The unicorn engine executes instructions but has no NVIC: it reports an SVC, a fault, a BKPT
or a branch to an EXC_RETURN value and leaves the rest to its user. This module is the rest,
as the ARMv7-M Architecture Reference Manual gives it (B1.5.6 ExceptionEntry, B1.5.8
ExceptionReturn): the frame is stacked on the stack in use (8 words, or 26 with the FPU's
state when CONTROL.FPCA is set -- saved at once rather than lazily, which the program cannot
tell apart except through FPCCR.LSPACT), LR gets the EXC_RETURN that says where to go back,
and the mode, stack pointer and IPSR switch. Priorities and pending state are the shared
system control space's (:mod:`station.sim.scs`).
"""

from __future__ import annotations

import ctypes
import struct
from typing import Final

import unicorn
from unicorn import arm_const
from unicorn.unicorn_py3.unicorn import uclib

from station.sim import scs
from station.sim.core_state import CoreState, Slot

CONTROL_NPRIV: Final = 1 << 0
CONTROL_SPSEL: Final = 1 << 1
CONTROL_FPCA: Final = 1 << 2
EXC_RETURN_THREAD: Final = 1 << 3
EXC_RETURN_PSP: Final = 1 << 2
EXC_RETURN_BASIC_FRAME: Final = 1 << 4
XPSR_STACK_ALIGNED: Final = 1 << 9
XPSR_THUMB: Final = 1 << 24
CCR_STKALIGN: Final = 1 << 9
CPACR_FPU_ENABLED: Final = 0xF << 20
BASIC_FRAME: Final = 0x20
EXTENDED_FRAME: Final = 0x68
_FRAME_REGISTERS: Final = (
    arm_const.UC_ARM_REG_R0,
    arm_const.UC_ARM_REG_R1,
    arm_const.UC_ARM_REG_R2,
    arm_const.UC_ARM_REG_R3,
    arm_const.UC_ARM_REG_R12,
    arm_const.UC_ARM_REG_LR,
)
_FP_FRAME_REGISTERS: Final = tuple(getattr(arm_const, f"UC_ARM_REG_S{index}") for index in range(16))
# What exception entry and return read: the frame's registers, then mode and stacks.
_CONTEXT_REGISTERS: Final = (
    *_FRAME_REGISTERS,
    arm_const.UC_ARM_REG_XPSR,
    arm_const.UC_ARM_REG_IPSR,
    arm_const.UC_ARM_REG_CONTROL,
    arm_const.UC_ARM_REG_MSP,
    arm_const.UC_ARM_REG_PSP,
)
# Written in this order to switch mode and stacks (see ExceptionUnit._switch_values).
_SWITCH_REGISTERS: Final = (
    arm_const.UC_ARM_REG_CONTROL,
    arm_const.UC_ARM_REG_IPSR,
    arm_const.UC_ARM_REG_MSP,
    arm_const.UC_ARM_REG_PSP,
    arm_const.UC_ARM_REG_CONTROL,
)


class RegisterBatch:
    """Reads or writes a fixed list of registers in one call into the engine.

    The binding's ``reg_read`` costs a few microseconds per register, and taking and returning
    from an exception touches some forty: a thousand SysTick interrupts a second made that the
    larger part of a sleeping unit's cost. ``uc_reg_read_batch`` over prepared arrays costs
    one call. Writes happen in list order, which :meth:`ExceptionUnit._switch_stack_pointers`
    relies on.
    """

    def __init__(self, uc: unicorn.Uc, registers: tuple[int, ...]) -> None:
        self._handle = uc._uch  # the engine handle the C API takes
        self._count = len(registers)
        self._ids = (ctypes.c_int * self._count)(*registers)
        self._values = (ctypes.c_uint32 * self._count)()
        base = ctypes.addressof(self._values)
        self._pointers = (ctypes.c_void_p * self._count)(*(base + 4 * index for index in range(self._count)))

    def read(self) -> list[int]:
        _check(uclib.uc_reg_read_batch(self._handle, self._ids, self._pointers, self._count))
        return list(self._values)

    def write(self, values: list[int]) -> None:
        for index, value in enumerate(values):
            self._values[index] = value & 0xFFFF_FFFF
        _check(uclib.uc_reg_write_batch(self._handle, self._ids, self._pointers, self._count))


def _check(status: int) -> None:
    if status != unicorn.UC_ERR_OK:
        raise unicorn.UcError(status)


class LockupError(Exception):
    """The core cannot take the exception it must take (a fault at priority -1, an unreadable
    vector or stack): it locks up, as the architecture says, until a reset or a halt."""


class ExceptionUnit:
    """Takes and returns from exceptions on one engine, with the shared exception state."""

    def __init__(self, uc: unicorn.Uc, state: CoreState) -> None:
        self._uc = uc
        self._state = state
        self._context = RegisterBatch(uc, _CONTEXT_REGISTERS)
        self._fp_context = RegisterBatch(uc, (*_FP_FRAME_REGISTERS, arm_const.UC_ARM_REG_FPSCR))
        self._entry = RegisterBatch(uc, (*_SWITCH_REGISTERS, arm_const.UC_ARM_REG_LR, arm_const.UC_ARM_REG_PC))
        self._exit = RegisterBatch(uc, (*_SWITCH_REGISTERS, *_FRAME_REGISTERS, arm_const.UC_ARM_REG_XPSR))
        self._exit_pc = RegisterBatch(uc, (arm_const.UC_ARM_REG_IPSR, arm_const.UC_ARM_REG_PC))
        self._masks = RegisterBatch(
            uc, (arm_const.UC_ARM_REG_PRIMASK, arm_const.UC_ARM_REG_FAULTMASK, arm_const.UC_ARM_REG_BASEPRI)
        )

    # ---- helpers ------------------------------------------------------------------------------

    def execution_priority(self) -> int:
        primask, faultmask, basepri = self._masks.read()
        return scs.execution_priority(self._state, primask, faultmask, basepri)

    def takeable_exception(self) -> int | None:
        """The pending exception whose priority preempts what runs now, if any."""
        exception = scs.pending_exception(self._state)
        if exception is None:
            return None
        priority = scs.group_priority(self._state, scs.exception_priority(self._state, exception))
        return exception if priority < self.execution_priority() else None

    @staticmethod
    def _switch_values(control_now: int, *, ipsr: int, msp: int, psp: int, control: int) -> list[int]:
        """Values for :data:`_SWITCH_REGISTERS`: change mode and stack pointers in the order the
        engine banks SP correctly -- SPSEL off, then the mode, both pointers, then CONTROL."""
        return [control_now & ~CONTROL_SPSEL, ipsr, msp, psp, control]

    # ---- entry ----------------------------------------------------------------------------------

    def take(self, exception: int, return_address: int) -> None:
        """Stack the context, and continue at the exception's vector in handler mode."""
        uc, state = self._uc, self._state
        r0, r1, r2, r3, r12, lr, xpsr, ipsr, control, msp, psp = self._context.read()
        ipsr &= 0x1FF
        on_process_stack = ipsr == 0 and bool(control & CONTROL_SPSEL)
        with_fpu = bool(control & CONTROL_FPCA)
        frame_size = EXTENDED_FRAME if with_fpu else BASIC_FRAME
        stack = psp if on_process_stack else msp
        xpsr = (xpsr & ~0x1FF) | ipsr
        frame_pointer = stack - frame_size
        if state.get(Slot.CCR) & CCR_STKALIGN and frame_pointer & 4:
            frame_pointer -= 4
            xpsr |= XPSR_STACK_ALIGNED
        else:
            xpsr &= ~XPSR_STACK_ALIGNED
        words = [r0, r1, r2, r3, r12, lr, return_address & ~1, xpsr]
        if with_fpu:
            words += [*self._fp_context.read(), 0]
            state.set(Slot.FPCAR, frame_pointer + BASIC_FRAME)
        vector = self._vector(exception)
        try:
            uc.mem_write(frame_pointer, struct.pack(f"<{len(words)}I", *words))
        except unicorn.UcError as error:
            raise LockupError(f"stacking for exception {exception} at 0x{frame_pointer:08X} failed") from error
        exc_return = 0xFFFF_FFE1
        if ipsr == 0:
            exc_return |= EXC_RETURN_THREAD
            if on_process_stack:
                exc_return |= EXC_RETURN_PSP
        if not with_fpu:
            exc_return |= EXC_RETURN_BASIC_FRAME
        if on_process_stack:
            psp = frame_pointer
        else:
            msp = frame_pointer
        switch = self._switch_values(
            control, ipsr=exception, msp=msp, psp=psp, control=control & ~(CONTROL_SPSEL | CONTROL_FPCA)
        )
        self._entry.write([*switch, exc_return, vector | 1])  # PC bit 0: stay in Thumb state
        scs.set_exception_state(state, exception, active=True, pending=False)

    def _vector(self, exception: int) -> int:
        address = (self._state.get(Slot.VTOR) & 0xFFFF_FF80) + 4 * exception
        try:
            vector = int.from_bytes(self._uc.mem_read(address, 4), "little")
        except unicorn.UcError as error:
            raise LockupError(f"vector {exception} at 0x{address:08X} cannot be read") from error
        if vector == 0xFFFF_FFFF or not vector & 1:
            raise LockupError(f"vector {exception} at 0x{address:08X} holds 0x{vector:08X}")
        return vector

    # ---- faults ---------------------------------------------------------------------------------

    def fault(self, exception: int, status: int, return_address: int, *, fault_address: int | None = None) -> int:
        """Raise a configurable fault, escalated to HardFault when it is disabled or cannot
        preempt; returns the exception taken. Raises LockupError at priority -1 or below."""
        state = self._state
        state.set_bits(Slot.CFSR, status)
        if fault_address is not None:
            state.set(Slot.BFAR if exception == scs.BUS_FAULT else Slot.MMFAR, fault_address)
        enable = {
            scs.MEM_MANAGE: scs.SHCSR_MEMFAULTENA,
            scs.BUS_FAULT: scs.SHCSR_BUSFAULTENA,
            scs.USAGE_FAULT: scs.SHCSR_USGFAULTENA,
        }.get(exception, 0)
        current = self.execution_priority()
        taken = exception
        if exception != scs.HARD_FAULT:
            priority = scs.group_priority(state, scs.exception_priority(state, exception))
            if not state.get(Slot.SHCSR) & enable or priority >= current:
                taken = scs.HARD_FAULT
                state.set_bits(Slot.HFSR, scs.HFSR_FORCED)
        if taken == scs.HARD_FAULT and current <= -1:
            raise LockupError(f"fault at priority {current} (CFSR 0x{state.get(Slot.CFSR):08X})")
        self.take(taken, return_address)
        return taken

    # ---- return ---------------------------------------------------------------------------------

    def exception_return(self, exc_return: int) -> None:
        """Unstack the frame EXC_RETURN names and go back to thread or handler mode."""
        uc, state = self._uc, self._state
        _r0, _r1, _r2, _r3, _r12, _lr, _xpsr, ipsr, control, msp, psp = self._context.read()
        scs.set_exception_state(state, ipsr & 0x1FF, active=False)
        to_process_stack = bool(exc_return & EXC_RETURN_PSP)
        with_fpu = not exc_return & EXC_RETURN_BASIC_FRAME
        frame_pointer = psp if to_process_stack else msp
        frame_size = EXTENDED_FRAME if with_fpu else BASIC_FRAME
        try:
            words = struct.unpack(f"<{frame_size // 4}I", uc.mem_read(frame_pointer, frame_size))
        except unicorn.UcError as error:
            raise LockupError(f"unstacking from 0x{frame_pointer:08X} failed") from error
        xpsr = words[7]
        new_stack = frame_pointer + frame_size + (4 if xpsr & XPSR_STACK_ALIGNED else 0)
        if to_process_stack:
            psp = new_stack
        else:
            msp = new_stack
        to_thread = bool(exc_return & EXC_RETURN_THREAD)
        new_ipsr = 0 if to_thread else xpsr & 0x1FF
        new_control = control & ~(CONTROL_SPSEL | CONTROL_FPCA)
        if to_thread and to_process_stack:
            new_control |= CONTROL_SPSEL
        if with_fpu:
            new_control |= CONTROL_FPCA
            self._fp_context.write([*words[8:24], words[24]])
        switch = self._switch_values(control, ipsr=new_ipsr, msp=msp, psp=psp, control=new_control)
        self._exit.write([*switch, *words[:6], (xpsr & 0xFFFF_FC00 & ~0x1FF) | XPSR_THUMB])
        self._exit_pc.write([new_ipsr, words[6] | 1])  # PC bit 0: stay in Thumb state
