/*
 * The few Cortex-M4 and nRF52840 registers the demo programs touch, written out here so that
 * the build needs nothing but the compiler: no CMSIS, no nrfx, no libc.
 *
 * Addresses and bit values are from the ARMv7-M Architecture Reference Manual (system control
 * space) and the nRF52840 Product Specification v1.7 (UARTE, GPIO).
 */
#ifndef DEMO_REGISTERS_H
#define DEMO_REGISTERS_H

#include <stdint.h>

#define REGISTER(address) (*(volatile uint32_t *)(address))

/* ---- the flash layout the programs are linked for (station/sim/board.py) ---- */
#define APP_HEADER_ADDRESS 0x00010000u
#define APPLICATION_ADDRESS 0x00011000u
#define APPLICATION_END 0x000FE000u /* the credential region starts here */
#define RAM_START 0x20000000u
#define RAM_END 0x20040000u /* 256 KiB */

/* ---- system control block ---- */
#define SCB_VTOR REGISTER(0xE000ED08u)  /* vector table offset */
#define SCB_CPACR REGISTER(0xE000ED88u) /* coprocessor access control */
#define CPACR_CP10_CP11_FULL (0xFu << 20)

/* ---- SysTick ---- */
/* Access port protection: UICR.APPROTECT asks, the APPROTECT peripheral (build codes with
 * hardened APPROTECT, nRF52840 F0 and later) lets the firmware open the port at each boot. */
#define UICR_APPROTECT REGISTER(0x10001208u)
#define UICR_APPROTECT_HW_DISABLED 0x5Au
#define APPROTECT_DISABLE REGISTER(0x40000558u)
#define APPROTECT_DISABLE_SW_DISABLE 0x5Au

#define SYST_CSR REGISTER(0xE000E010u) /* control and status */
#define SYST_RVR REGISTER(0xE000E014u) /* reload value */
#define SYST_CVR REGISTER(0xE000E018u) /* current value */
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2) /* 1: the processor clock */

#define CPU_CLOCK_HZ 64000000u

/* ---- GPIO port 0 (AHB) ---- */
#define P0_BASE 0x50000000u
#define P0_OUTSET REGISTER(P0_BASE + 0x508u)
#define P0_DIRSET REGISTER(P0_BASE + 0x518u)

/* ---- UARTE0: UART with EasyDMA ---- */
#define UARTE0_BASE 0x40002000u
#define UARTE0_TASKS_STARTTX REGISTER(UARTE0_BASE + 0x008u)
#define UARTE0_TASKS_STOPTX REGISTER(UARTE0_BASE + 0x00Cu)
#define UARTE0_EVENTS_ENDTX REGISTER(UARTE0_BASE + 0x120u)
#define UARTE0_EVENTS_TXSTOPPED REGISTER(UARTE0_BASE + 0x158u)
#define UARTE0_ENABLE REGISTER(UARTE0_BASE + 0x500u)
#define UARTE0_PSEL_TXD REGISTER(UARTE0_BASE + 0x50Cu)
#define UARTE0_BAUDRATE REGISTER(UARTE0_BASE + 0x524u)
#define UARTE0_TXD_PTR REGISTER(UARTE0_BASE + 0x544u)
#define UARTE0_TXD_MAXCNT REGISTER(UARTE0_BASE + 0x548u)
#define UARTE0_CONFIG REGISTER(UARTE0_BASE + 0x56Cu)
#define UARTE_ENABLE_ENABLED 8u
#define UARTE_BAUDRATE_115200 0x01D7E000u
#define UARTE_CONFIG_8N1_NO_FLOW_CONTROL 0u
#define UARTE_TXD_PIN 6u /* P0.06, the TXD line of the nRF52840 DK's interface chip */

/* ---- barriers and hints ---- */
static inline void data_synchronization_barrier(void) { __asm volatile("dsb" ::: "memory"); }
static inline void instruction_synchronization_barrier(void) { __asm volatile("isb" ::: "memory"); }
static inline void wait_for_interrupt(void) { __asm volatile("wfi" ::: "memory"); }

/* Cortex-M4 vector table: 16 system exceptions, then the nRF52840's 48 interrupts. */
#define SYSTEM_VECTOR_COUNT 16
#define VECTOR_COUNT (SYSTEM_VECTOR_COUNT + 48)

#endif /* DEMO_REGISTERS_H */
