/*
 * The Silicon Labs EFR32MG12P433F1024GM68 (Mighty Gecko, Series 1, as on the BRD4161A radio
 * board) board of the demo programs: its flash layout, clock and vector count, and the
 * application's UART, USART0 (TX on PA0, location 0: the radio board's virtual COM port), polled.
 * The bootloader needs nothing first on this chip: the watchdog is off at reset, and the debug
 * lock is the lock bits page's business, not the firmware's.
 *
 * Addresses and bit values are from the EFR32xG12 reference manual and the part's CMSIS headers
 * (efr32mg12p433f1024gm68.h, efr32mg12p_cmu.h, efr32mg12p_usart.h, efr32mg12p_gpio.h).
 */
#ifndef DEMO_BOARD_H
#define DEMO_BOARD_H

#include "../registers.h"

/* ---- the flash layout the programs are linked for (station/sim/chips/efr32mg12.py) ---- */
#define APP_HEADER_ADDRESS 0x00008000u  /* page 16 */
#define APPLICATION_ADDRESS 0x00008800u /* page 17 */
#define APPLICATION_END 0x000FE000u     /* the credentials' pages */
#define RAM_START 0x20000000u
#define RAM_END 0x20040000u /* RAM0 and RAM1: 256 KiB */

/* After reset HFCLK runs from the HFRCO at 19 MHz; the demo changes no clock, so the core and
 * HFPERCLK (USART0's) run at 19 MHz. */
#define CPU_CLOCK_HZ 19000000u

/* ---- CMU clock enables ---- */
#define CMU_HFBUSCLKEN0 REGISTER(0x400E40B0u)
#define CMU_HFPERCLKEN0 REGISTER(0x400E40C0u)
#define CMU_HFBUSCLKEN0_GPIO (1u << 3)
#define CMU_HFPERCLKEN0_USART0 (1u << 4)

/* ---- GPIO port A: PA0 push-pull, idle high ---- */
#define GPIO_PA_MODEL REGISTER(0x4000A004u)
#define GPIO_PA_DOUT REGISTER(0x4000A00Cu)
#define USART0_TX_PIN 0u
#define GPIO_MODE_MASK 0xFu
#define GPIO_MODE_PUSHPULL 4u

/* ---- USART0 ---- */
#define USART0_BASE 0x40010000u
#define USART0_FRAME REGISTER(USART0_BASE + 0x04u)
#define USART0_CMD REGISTER(USART0_BASE + 0x0Cu)
#define USART0_STATUS REGISTER(USART0_BASE + 0x10u)
#define USART0_CLKDIV REGISTER(USART0_BASE + 0x14u)
#define USART0_TXDATA REGISTER(USART0_BASE + 0x34u)
#define USART0_ROUTEPEN REGISTER(USART0_BASE + 0x74u)
#define USART0_ROUTELOC0 REGISTER(USART0_BASE + 0x78u)
#define USART_CMD_RXDIS (1u << 1)
#define USART_CMD_TXEN (1u << 2)
#define USART_CMD_TXDIS (1u << 3)
#define USART_CMD_MASTERDIS (1u << 5)
#define USART_CMD_RXBLOCKDIS (1u << 7)
#define USART_CMD_TXTRIDIS (1u << 9)
#define USART_CMD_CLEARTX (1u << 10)
#define USART_CMD_CLEARRX (1u << 11)
#define USART_STATUS_TXC (1u << 5)  /* transmission complete */
#define USART_STATUS_TXBL (1u << 6) /* transmit buffer level: room for a byte */
#define USART_FRAME_8N1 0x00001005u /* DATABITS eight, PARITY none, STOPBITS one */
#define USART_ROUTEPEN_TXPEN (1u << 1)
#define USART_ROUTELOC0_TXLOC_SHIFT 8u
#define USART0_TX_LOCATION 0u /* US0_TX #0: PA0 */
/* CLKDIV = 256 x (fHFPERCLK / (16 x baud) - 1), its fraction in bits 7:3, rounded as emlib
 * rounds it: 19 MHz at 115200 baud is 2384 (115152 baud, -0.04 %). */
#define USART_CLKDIV_115200_AT_19_MHZ 2384u
#define USART_WAIT_LOOPS 100000u /* far longer than a character takes at 115200 baud */

/* Cortex-M4 vector table: 16 system exceptions, then the EFR32MG12's 51 interrupts. */
#define VECTOR_COUNT (SYSTEM_VECTOR_COUNT + 51)

/* Nothing to do first on this chip. */
static inline void board_bootloader_start(void) {}

/* The bytes one by one through USART0's transmit data register, 8N1 at 115200 baud; bounded
 * waits, so a USART that never answers cannot hang the boot. */
static inline void board_uart_send(const char *buffer, uint32_t length)
{
    CMU_HFBUSCLKEN0 |= CMU_HFBUSCLKEN0_GPIO;
    CMU_HFPERCLKEN0 |= CMU_HFPERCLKEN0_USART0;
    GPIO_PA_DOUT |= 1u << USART0_TX_PIN;
    GPIO_PA_MODEL = (GPIO_PA_MODEL & ~(GPIO_MODE_MASK << 4 * USART0_TX_PIN)) | GPIO_MODE_PUSHPULL << 4 * USART0_TX_PIN;

    /* As emlib's USART_Reset, then its asynchronous set-up. */
    USART0_CMD = USART_CMD_RXDIS | USART_CMD_TXDIS | USART_CMD_MASTERDIS | USART_CMD_RXBLOCKDIS | USART_CMD_TXTRIDIS
                 | USART_CMD_CLEARTX | USART_CMD_CLEARRX;
    USART0_FRAME = USART_FRAME_8N1;
    USART0_CLKDIV = USART_CLKDIV_115200_AT_19_MHZ;
    USART0_ROUTELOC0 = USART0_TX_LOCATION << USART_ROUTELOC0_TXLOC_SHIFT;
    USART0_ROUTEPEN = USART_ROUTEPEN_TXPEN;
    USART0_CMD = USART_CMD_TXEN;
    for (uint32_t index = 0; index < length; index++) {
        for (uint32_t loops = 0; loops < USART_WAIT_LOOPS && (USART0_STATUS & USART_STATUS_TXBL) == 0u; loops++) {
        }
        USART0_TXDATA = (uint8_t)buffer[index];
    }
    for (uint32_t loops = 0; loops < USART_WAIT_LOOPS && (USART0_STATUS & USART_STATUS_TXC) == 0u; loops++) {
    }
}

#endif /* DEMO_BOARD_H */
