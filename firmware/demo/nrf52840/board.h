/*
 * The nRF52840 board of the demo programs: its flash layout, clock and vector count, and the
 * two things the programs do differently on it -- the bootloader keeps the debug port open on
 * parts with hardened APPROTECT, and the application sends its lines through UARTE0 (EasyDMA).
 *
 * Addresses and bit values are from the nRF52840 Product Specification v1.7 (UICR, APPROTECT,
 * UARTE, GPIO).
 */
#ifndef DEMO_BOARD_H
#define DEMO_BOARD_H

#include "../registers.h"

/* ---- the flash layout the programs are linked for (station/sim/board.py) ---- */
#define APP_HEADER_ADDRESS 0x00010000u
#define APPLICATION_ADDRESS 0x00011000u
#define APPLICATION_END 0x000FE000u /* the credential region starts here */
#define RAM_START 0x20000000u
#define RAM_END 0x20040000u /* 256 KiB */

#define CPU_CLOCK_HZ 64000000u

/* Access port protection: UICR.APPROTECT asks, the APPROTECT peripheral (build codes with
 * hardened APPROTECT, nRF52840 F0 and later) lets the firmware open the port at each boot. */
#define UICR_APPROTECT REGISTER(0x10001208u)
#define UICR_APPROTECT_HW_DISABLED 0x5Au
#define APPROTECT_DISABLE REGISTER(0x40000558u)
#define APPROTECT_DISABLE_SW_DISABLE 0x5Au

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
#define UARTE_WAIT_LOOPS 1000000u /* far longer than a banner takes at 115200 baud */

/* Cortex-M4 vector table: 16 system exceptions, then the nRF52840's 48 interrupts. */
#define VECTOR_COUNT (SYSTEM_VECTOR_COUNT + 48)

/* What Nordic's SystemInit does first: on parts with hardened APPROTECT the access port is
 * closed at every reset; a unit whose UICR says HwDisabled keeps it open for the debugger. */
static inline void board_bootloader_start(void)
{
    if ((UICR_APPROTECT & 0xFFu) == UICR_APPROTECT_HW_DISABLED) {
        APPROTECT_DISABLE = APPROTECT_DISABLE_SW_DISABLE;
    }
}

/* One EasyDMA transmission (EasyDMA reads RAM only: `buffer` must be in RAM); bounded waits,
 * so a UARTE that never answers cannot hang the boot. */
static inline void board_uart_send(const char *buffer, uint32_t length)
{
    P0_OUTSET = 1u << UARTE_TXD_PIN; /* TXD idles high, as the UARTE chapter asks */
    P0_DIRSET = 1u << UARTE_TXD_PIN;
    UARTE0_PSEL_TXD = UARTE_TXD_PIN; /* port 0, CONNECT bit (31) clear */
    UARTE0_BAUDRATE = UARTE_BAUDRATE_115200;
    UARTE0_CONFIG = UARTE_CONFIG_8N1_NO_FLOW_CONTROL;
    UARTE0_ENABLE = UARTE_ENABLE_ENABLED;

    UARTE0_TXD_PTR = (uint32_t)(uintptr_t)buffer;
    UARTE0_TXD_MAXCNT = length;
    UARTE0_EVENTS_ENDTX = 0;
    UARTE0_EVENTS_TXSTOPPED = 0;
    UARTE0_TASKS_STARTTX = 1;
    for (uint32_t loops = 0; loops < UARTE_WAIT_LOOPS && UARTE0_EVENTS_ENDTX == 0u; loops++) {
    }
    UARTE0_TASKS_STOPTX = 1;
    for (uint32_t loops = 0; loops < UARTE_WAIT_LOOPS && UARTE0_EVENTS_TXSTOPPED == 0u; loops++) {
    }
    UARTE0_EVENTS_ENDTX = 0;
    UARTE0_EVENTS_TXSTOPPED = 0;
}

#endif /* DEMO_BOARD_H */
