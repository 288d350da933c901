/*
 * The Kinetis K64F (MK64FN1M0VLL12, as on the FRDM-K64F) board of the demo programs: its flash
 * layout, clock and vector count, the flash configuration field the bootloader image carries,
 * the watchdog the bootloader disables first, and the application's UART, UART0 (TX on PTB17,
 * the FRDM-K64F's OpenSDA serial port), polled.
 *
 * Addresses and bit values are from the K64 Sub-Family Reference Manual (K64P144M120SF5RM:
 * memory map, chapter 12 SIM, 11 PORT, 23 WDOG, 52 UART, 29.3.1 flash configuration field) and
 * the K64 data sheet (signal multiplexing: PTB17 ALT3 = UART0_TX).
 */
#ifndef DEMO_BOARD_H
#define DEMO_BOARD_H

#include "../registers.h"

/* ---- the flash layout the programs are linked for (station/sim/chips/k64f.py) ---- */
#define APP_HEADER_ADDRESS 0x00008000u  /* sector 8 */
#define APPLICATION_ADDRESS 0x00009000u /* sector 9 */
#define APPLICATION_END 0x000FE000u     /* the credentials' sector */
#define RAM_START 0x1FFF0000u           /* SRAM_L (64 KiB), then SRAM_U from 0x20000000 */
#define RAM_END 0x20030000u             /* the top of SRAM_U (192 KiB): 256 KiB in all */

/* After reset the MCG runs in FEI mode: the FLL at 640 x the 32.768 kHz slow internal
 * reference, 20.97 MHz for the core and the system clock (UART0's), as NXP's
 * DEFAULT_SYSTEM_CLOCK says. The demo starts no PLL. */
#define CPU_CLOCK_HZ 20971520u

/* ---- the flash configuration field at 0x400-0x40F (RM 29.3.1), as NXP's start-up code
 * fills it: the backdoor key unset, no region protected (FPROT3..0), FSEC = 0xFE (SEC = 10b:
 * unsecure; mass erase enabled; backdoor disabled), FOPT 0xFF (boot from flash, NMI and EzPort
 * enabled), FEPROT and FDPROT 0xFF. The flash controller loads it at every reset: a blank
 * field (FSEC 0xFF) is a secure part. bootloader.ld places the section at 0x400; only the
 * bootloader carries it (application.ld discards the application's copy). */
#define FLASH_CONFIG_FSEC_UNSECURE 0xFEu
#define FLASH_CONFIG_FOPT 0xFFu
__attribute__((section(".flash_config"), used)) const uint8_t flash_configuration_field[16] = {
    0xFFu, 0xFFu, 0xFFu, 0xFFu, 0xFFu, 0xFFu, 0xFFu, 0xFFu, /* backdoor comparison key */
    0xFFu, 0xFFu, 0xFFu, 0xFFu,                             /* FPROT3, FPROT2, FPROT1, FPROT0 */
    FLASH_CONFIG_FSEC_UNSECURE,                             /* FSEC */
    FLASH_CONFIG_FOPT,                                      /* FOPT */
    0xFFu,                                                  /* FEPROT */
    0xFFu,                                                  /* FDPROT */
};

#define REGISTER16(address) (*(volatile uint16_t *)(address))
#define REGISTER8(address) (*(volatile uint8_t *)(address))

/* ---- the watchdog: on at reset; its control registers open only after the unlock sequence ---- */
#define WDOG_STCTRLH REGISTER16(0x40052000u)
#define WDOG_UNLOCK REGISTER16(0x4005200Eu)
#define WDOG_UNLOCK_KEY_1 0xC520u
#define WDOG_UNLOCK_KEY_2 0xD928u
/* WAITEN, STOPEN, ALLOWUPDATE, CLKSRC kept as at reset (0x01D3); WDOGEN (bit 0) cleared. */
#define WDOG_STCTRLH_DISABLED 0x01D2u

/* ---- SIM clock gates ---- */
#define SIM_SCGC4 REGISTER(0x40048034u)
#define SIM_SCGC5 REGISTER(0x40048038u)
#define SIM_SCGC4_UART0 (1u << 10)
#define SIM_SCGC5_PORTB (1u << 10)

/* ---- PORTB: PTB17 as ALT3 (UART0_TX) ---- */
#define PORTB_PCR17 REGISTER(0x4004A044u)
#define PORT_PCR_MUX_MASK (7u << 8)
#define PORT_PCR_MUX_ALT3 (3u << 8)

/* ---- UART0 (8-bit registers) ---- */
#define UART0_BASE 0x4006A000u
#define UART0_BDH REGISTER8(UART0_BASE + 0x00u)
#define UART0_BDL REGISTER8(UART0_BASE + 0x01u)
#define UART0_C2 REGISTER8(UART0_BASE + 0x03u)
#define UART0_S1 REGISTER8(UART0_BASE + 0x04u)
#define UART0_D REGISTER8(UART0_BASE + 0x07u)
#define UART0_C4 REGISTER8(UART0_BASE + 0x0Au)
#define UART_C2_TE (1u << 3)
#define UART_S1_TC (1u << 6)   /* transmission complete */
#define UART_S1_TDRE (1u << 7) /* transmit data register empty */
/* Baud = clock / (16 x (SBR + BRFA / 32)): 20971520 / (16 x 115200) = 11.38, so SBR 11 and
 * BRFA 0.38 x 32 = 12 (115228 baud, +0.02 %). */
#define UART_SBR_115200 11u
#define UART_BRFA_115200 12u
#define UART_WAIT_LOOPS 100000u /* far longer than a character takes at 115200 baud */

/* Cortex-M4 vector table: 16 system exceptions, then the K64F's 86 interrupts. */
#define VECTOR_COUNT (SYSTEM_VECTOR_COUNT + 86)

/* The watchdog first, as NXP's SystemInit does: it would reset the part before the
 * application runs. Unlock, then clear WDOGEN inside the unlock window. */
static inline void board_bootloader_start(void)
{
    WDOG_UNLOCK = WDOG_UNLOCK_KEY_1;
    WDOG_UNLOCK = WDOG_UNLOCK_KEY_2;
    WDOG_STCTRLH = WDOG_STCTRLH_DISABLED;
}

/* The bytes one by one through UART0's data register, 8N1 at 115200 baud; bounded waits, so a
 * UART that never answers cannot hang the boot. */
static inline void board_uart_send(const char *buffer, uint32_t length)
{
    SIM_SCGC5 |= SIM_SCGC5_PORTB;
    SIM_SCGC4 |= SIM_SCGC4_UART0;
    PORTB_PCR17 = (PORTB_PCR17 & ~PORT_PCR_MUX_MASK) | PORT_PCR_MUX_ALT3;

    UART0_C2 = 0u;                   /* transmitter and receiver off while the baud rate changes */
    UART0_BDH = 0u;                  /* SBR[12:8]: written first, taken at the BDL write */
    UART0_BDL = UART_SBR_115200;     /* SBR[7:0] */
    UART0_C4 = UART_BRFA_115200;     /* fine adjust, in 32nds */
    UART0_C2 = UART_C2_TE;           /* 8 data bits, no parity (C1 as at reset) */
    for (uint32_t index = 0; index < length; index++) {
        for (uint32_t loops = 0; loops < UART_WAIT_LOOPS && (UART0_S1 & UART_S1_TDRE) == 0u; loops++) {
        }
        UART0_D = (uint8_t)buffer[index];
    }
    for (uint32_t loops = 0; loops < UART_WAIT_LOOPS && (UART0_S1 & UART_S1_TC) == 0u; loops++) {
    }
}

#endif /* DEMO_BOARD_H */
