/*
 * Demo bootloader at the start of flash: the core's reset lands here. It hands the core to
 * the application linked at APPLICATION_ADDRESS as a real bootloader does: its vector table
 * becomes the active one (VTOR), the main stack pointer is loaded from its vector 0 and the
 * core jumps to its reset handler (vector 1). When no plausible application is there (erased
 * flash reads 0xFFFFFFFF) it sleeps instead of jumping into the void.
 */
#include "board.h" /* the family's: firmware_build.py puts its folder on the include path */

void reset_handler(void) __attribute__((noreturn));
void default_handler(void) __attribute__((noreturn));

extern uint32_t __stack_top; /* from the linker script: the top of RAM */

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
    [15] = (uintptr_t)default_handler, /* SysTick */
    [SYSTEM_VECTOR_COUNT... VECTOR_COUNT - 1] = (uintptr_t)default_handler,
};

/* An exception the bootloader does not expect: stay here, where a debugger will find it. */
void default_handler(void)
{
    for (;;) {
    }
}

static int application_present(uint32_t stack_pointer, uint32_t entry)
{
    return stack_pointer > RAM_START && stack_pointer <= RAM_END && (stack_pointer & 7u) == 0
           && (entry & 1u) == 1u && entry > APPLICATION_ADDRESS && entry < APPLICATION_END;
}

void reset_handler(void)
{
    board_bootloader_start(); /* what the chip needs first (board.h) */
    const volatile uint32_t *application = (const volatile uint32_t *)APPLICATION_ADDRESS;
    uint32_t stack_pointer = application[0];
    uint32_t entry = application[1];

    if (!application_present(stack_pointer, entry)) {
        for (;;) {
            wait_for_interrupt();
        }
    }
    SCB_VTOR = APPLICATION_ADDRESS;
    data_synchronization_barrier();
    instruction_synchronization_barrier();
    __asm volatile(
        "msr msp, %0\n\t"
        "bx %1"
        :
        : "r"(stack_pointer), "r"(entry)
        : "memory");
    __builtin_unreachable();
}
