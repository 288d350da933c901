/*
 * Demo application of the simulated unit, linked at APPLICATION_ADDRESS and started by the
 * demo bootloader. It does what a real firmware does first, so that a simulated core running
 * it meets the same things a real one does: .data copied from flash and .bss zeroed, the FPU
 * enabled (and used once), a boot banner sent through the family's UART (board.h: UARTE0 by
 * EasyDMA on the nRF52840, USART1 on the STM32F429), SysTick at 1 kHz from the processor
 * clock, and a main loop that sleeps between interrupts.
 *
 * What a debugger looks at: `systick_count` (every tick) and `heartbeat_count` (every 100
 * ticks, in the non-inlined `heartbeat()`), both at fixed RAM addresses (the family's
 * application.ld, and station/sim/board.py names them).
 */
#include "board.h" /* the family's: firmware_build.py puts its folder on the include path */

#define HEARTBEAT_TICKS 100u

/* The application header the station writes at APP_HEADER_ADDRESS (station/domain/formats.py):
 * magic "SAPH" | version u16 | header_size u16 | app_address u32 | app_size u32 |
 * app_sha256[32] | firmware_version[32] (UTF-8, NUL padded) | crc32 u32 of the bytes before. */
#define HEADER_MAGIC 0x48504153u /* "SAPH", read little-endian */
#define HEADER_VERSION 1u
#define HEADER_SIZE 84u
#define HEADER_OFFSET_VERSION 4u
#define HEADER_OFFSET_SIZE 6u
#define HEADER_OFFSET_FIRMWARE_VERSION 48u
#define HEADER_FIRMWARE_VERSION_LENGTH 32u
#define HEADER_OFFSET_CRC 80u

void reset_handler(void) __attribute__((noreturn));
void default_handler(void) __attribute__((noreturn));
void systick_handler(void);
void heartbeat(void) __attribute__((noinline));

extern uint32_t __stack_top;
extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __shared_start[], __shared_end[];

/* Fixed addresses: application.ld places these two sections first in RAM, in this order. */
__attribute__((section(".shared.systick_count"), used)) volatile uint32_t systick_count;
__attribute__((section(".shared.heartbeat_count"), used)) volatile uint32_t heartbeat_count;

/* The one float computation: its operand comes from .data (so the copy is checked too). */
volatile float fpu_operand = 2.0f;
volatile float fpu_result;

/* The banner is composed in RAM: the nRF52840's EasyDMA reads nothing else. */
static char banner_buffer[96];

__attribute__((section(".vectors"), used)) const uintptr_t vector_table[VECTOR_COUNT] = {
    [0] = (uintptr_t)&__stack_top,
    [1] = (uintptr_t)reset_handler,
    [2] = (uintptr_t)default_handler,  /* NMI */
    [3] = (uintptr_t)default_handler,  /* HardFault */
    [4] = (uintptr_t)default_handler,  /* MemManage */
    [5] = (uintptr_t)default_handler,  /* BusFault */
    [6] = (uintptr_t)default_handler,  /* UsageFault */
    [11] = (uintptr_t)default_handler, /* SVCall */
    [12] = (uintptr_t)default_handler, /* DebugMonitor */
    [14] = (uintptr_t)default_handler, /* PendSV */
    [15] = (uintptr_t)systick_handler,
    [SYSTEM_VECTOR_COUNT... VECTOR_COUNT - 1] = (uintptr_t)default_handler,
};

/* A fault or an interrupt nobody enabled: stay here, where a debugger will find it. */
void default_handler(void)
{
    for (;;) {
    }
}

void systick_handler(void) { systick_count++; }

/* Kept out of line, in flash, as a place to `break` at. */
void heartbeat(void) { heartbeat_count++; }

static uint32_t read_u16(const volatile uint8_t *bytes) { return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8; }

static uint32_t read_u32(const volatile uint8_t *bytes)
{
    return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
}

/* CRC-32 (IEEE 802.3, reflected), bit by bit: small, and 80 bytes are quickly done. */
static uint32_t crc32(const volatile uint8_t *bytes, uint32_t length)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (uint32_t index = 0; index < length; index++) {
        crc ^= bytes[index];
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

static int header_valid(const volatile uint8_t *header)
{
    return read_u32(header) == HEADER_MAGIC && read_u16(header + HEADER_OFFSET_VERSION) == HEADER_VERSION
           && read_u16(header + HEADER_OFFSET_SIZE) == HEADER_SIZE
           && read_u32(header + HEADER_OFFSET_CRC) == crc32(header, HEADER_OFFSET_CRC);
}

static uint32_t append(uint32_t length, const char *text)
{
    while (*text != '\0' && length < sizeof banner_buffer) {
        banner_buffer[length++] = *text++;
    }
    return length;
}

/* The firmware version, up to its NUL padding; control characters become '?'. */
static uint32_t append_version(uint32_t length, const volatile uint8_t *version)
{
    for (uint32_t index = 0; index < HEADER_FIRMWARE_VERSION_LENGTH && length < sizeof banner_buffer; index++) {
        uint8_t byte = version[index];
        if (byte == 0u) {
            break;
        }
        banner_buffer[length++] = (byte < 0x20u || byte == 0x7Fu) ? '?' : (char)byte;
    }
    return length;
}

static uint32_t compose_banner(void)
{
    const volatile uint8_t *header = (const volatile uint8_t *)APP_HEADER_ADDRESS;
    uint32_t length = append(0, "Gecko OS-sim demo application ");
    if (header_valid(header)) {
        length = append_version(length, header + HEADER_OFFSET_FIRMWARE_VERSION);
        length = append(length, " booting\r\n");
    } else {
        length = append(length, "header invalid\r\n");
    }
    return length;
}

static void start_systick(void)
{
    SYST_RVR = CPU_CLOCK_HZ / 1000u - 1u; /* 1 kHz */
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_CLKSOURCE | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
}

/* Runs with the FPU enabled: the reset handler touches no floating-point register itself. */
static void __attribute__((noreturn, noinline)) application_main(void)
{
    fpu_result = fpu_operand * 1.5f + 0.25f;
    start_systick();
    board_uart_send(banner_buffer, compose_banner());

    uint32_t next_heartbeat = HEARTBEAT_TICKS;
    for (;;) {
        wait_for_interrupt();
        if ((int32_t)(systick_count - next_heartbeat) >= 0) {
            next_heartbeat += HEARTBEAT_TICKS;
            heartbeat();
        }
    }
}

void reset_handler(void)
{
    const uint32_t *source = __data_load;
    for (uint32_t *word = __data_start; word < __data_end; word++) {
        *word = *source++;
    }
    for (uint32_t *word = __bss_start; word < __bss_end; word++) {
        *word = 0;
    }
    for (uint32_t *word = __shared_start; word < __shared_end; word++) {
        *word = 0;
    }
    SCB_CPACR |= CPACR_CP10_CP11_FULL;
    data_synchronization_barrier();
    instruction_synchronization_barrier();
    application_main();
}
