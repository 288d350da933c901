/*
 * The STM32F429xI board of the demo programs: its flash layout, clock and vector count, and
 * the application's UART, USART1 (TX on PA9), polled. The bootloader needs nothing first on
 * this chip: readout protection is the option bytes' business, not the firmware's.
 *
 * Addresses and bit values are from RM0090 rev 19 (memory map; RCC, GPIO and USART register
 * maps) and the STM32F427xx/F429xx datasheet (alternate functions: PA9 AF7 = USART1_TX).
 */
#ifndef DEMO_BOARD_H
#define DEMO_BOARD_H

#include "../registers.h"

/* ---- the flash layout the programs are linked for (station/sim/chips/stm32f429.py) ---- */
#define APP_HEADER_ADDRESS 0x08008000u  /* sector 2 */
#define APPLICATION_ADDRESS 0x0800C000u /* sector 3 */
#define APPLICATION_END 0x08100000u     /* the end of bank 1; the credentials start bank 2 */
#define RAM_START 0x20000000u
#define RAM_END 0x20030000u /* SRAM1, SRAM2 and SRAM3: 192 KiB */

/* After reset the core runs on the 16 MHz HSI; the demo starts no PLL, so AHB and APB2 (and
 * USART1's kernel clock) run at 16 MHz too. */
#define CPU_CLOCK_HZ 16000000u

/* ---- RCC clock enables ---- */
#define RCC_AHB1ENR REGISTER(0x40023830u)
#define RCC_APB2ENR REGISTER(0x40023844u)
#define RCC_AHB1ENR_GPIOAEN (1u << 0)
#define RCC_APB2ENR_USART1EN (1u << 4)

/* ---- GPIO port A: PA9 as alternate function 7 (USART1_TX) ---- */
#define GPIOA_BASE 0x40020000u
#define GPIOA_MODER REGISTER(GPIOA_BASE + 0x00u)
#define GPIOA_AFRH REGISTER(GPIOA_BASE + 0x24u)
#define USART1_TX_PIN 9u
#define GPIO_MODER_ALTERNATE 2u
#define USART1_TX_ALTERNATE 7u

/* ---- USART1 ---- */
#define USART1_BASE 0x40011000u
#define USART1_SR REGISTER(USART1_BASE + 0x00u)
#define USART1_DR REGISTER(USART1_BASE + 0x04u)
#define USART1_BRR REGISTER(USART1_BASE + 0x08u)
#define USART1_CR1 REGISTER(USART1_BASE + 0x0Cu)
#define USART_SR_TC (1u << 6)  /* transmission complete */
#define USART_SR_TXE (1u << 7) /* transmit data register empty */
#define USART_CR1_TE (1u << 3)
#define USART_CR1_UE (1u << 13)
/* 16 MHz / (16 x 115200) = 8.68: mantissa 8, fraction 0.68 x 16 = 11 (115108 baud, -0.08 %). */
#define USART_BRR_115200_AT_16_MHZ ((8u << 4) | 11u)
#define USART_WAIT_LOOPS 100000u /* far longer than a character takes at 115200 baud */

/* Cortex-M4 vector table: 16 system exceptions, then the STM32F42x/43x's 91 interrupts. */
#define VECTOR_COUNT (SYSTEM_VECTOR_COUNT + 91)

/* Nothing to do first on this chip. */
static inline void board_bootloader_start(void) {}

/* The bytes one by one through USART1's data register, 8N1 at 115200 baud; bounded waits, so
 * a USART that never answers cannot hang the boot. */
static inline void board_uart_send(const char *buffer, uint32_t length)
{
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOAEN;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    (void)RCC_APB2ENR; /* the clock arrives two cycles later (errata ES0206: delay after an RCC clock enable) */
    data_synchronization_barrier();
    GPIOA_AFRH = (GPIOA_AFRH & ~(0xFu << 4 * (USART1_TX_PIN - 8u))) | USART1_TX_ALTERNATE << 4 * (USART1_TX_PIN - 8u);
    GPIOA_MODER = (GPIOA_MODER & ~(3u << 2 * USART1_TX_PIN)) | GPIO_MODER_ALTERNATE << 2 * USART1_TX_PIN;

    USART1_BRR = USART_BRR_115200_AT_16_MHZ;
    USART1_CR1 = USART_CR1_UE | USART_CR1_TE; /* 8 data bits, no parity, oversampling by 16 */
    for (uint32_t index = 0; index < length; index++) {
        for (uint32_t loops = 0; loops < USART_WAIT_LOOPS && (USART1_SR & USART_SR_TXE) == 0u; loops++) {
        }
        USART1_DR = (uint8_t)buffer[index];
    }
    for (uint32_t loops = 0; loops < USART_WAIT_LOOPS && (USART1_SR & USART_SR_TC) == 0u; loops++) {
    }
}

#endif /* DEMO_BOARD_H */
