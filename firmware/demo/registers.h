/*
 * The Cortex-M4 registers the demo programs touch, the same on every family, written out here
 * so that the build needs nothing but the compiler: no CMSIS, no vendor SDK, no libc. What
 * differs between chips (the flash layout, the clock, the UART, the vector count) is in the
 * family's board.h (nrf52840/, stm32f429xi/), which includes this file.
 *
 * Addresses and bit values are from the ARMv7-M Architecture Reference Manual (system control
 * space).
 */
#ifndef DEMO_REGISTERS_H
#define DEMO_REGISTERS_H

#include <stdint.h>

#define REGISTER(address) (*(volatile uint32_t *)(address))

/* ---- system control block ---- */
#define SCB_VTOR REGISTER(0xE000ED08u)  /* vector table offset */
#define SCB_CPACR REGISTER(0xE000ED88u) /* coprocessor access control */
#define CPACR_CP10_CP11_FULL (0xFu << 20)

/* ---- SysTick ---- */
#define SYST_CSR REGISTER(0xE000E010u) /* control and status */
#define SYST_RVR REGISTER(0xE000E014u) /* reload value */
#define SYST_CVR REGISTER(0xE000E018u) /* current value */
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2) /* 1: the processor clock */

/* ---- barriers and hints ---- */
static inline void data_synchronization_barrier(void) { __asm volatile("dsb" ::: "memory"); }
static inline void instruction_synchronization_barrier(void) { __asm volatile("isb" ::: "memory"); }
static inline void wait_for_interrupt(void) { __asm volatile("wfi" ::: "memory"); }

/* Cortex-M vector table: 16 system exceptions, then the chip's interrupts (board.h counts them). */
#define SYSTEM_VECTOR_COUNT 16

#endif /* DEMO_REGISTERS_H */
