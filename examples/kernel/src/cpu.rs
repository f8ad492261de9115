//! Port I/O, TSC, control registers and power-off.

use core::arch::asm;

pub fn outb(port: u16, value: u8) {
    // SAFETY: port I/O has no memory effects; the kernel owns the machine.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags))
    }
}

pub fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: as above.
    unsafe {
        asm!("in al, dx", out("al") value, in("dx") port, options(nomem, nostack, preserves_flags))
    }
    value
}

fn outl(port: u16, value: u32) {
    // SAFETY: as above.
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags))
    }
}

pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc only reads the time-stamp counter.
    unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) }
    (u64::from(hi) << 32) | u64::from(lo)
}

pub fn read_cr2() -> u64 {
    let value: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe { asm!("mov {}, cr2", out(reg) value, options(nomem, nostack, preserves_flags)) }
    value
}

/// Drops the TLB entry of one page after its page-table entry changed.
pub fn invlpg(addr: u64) {
    // SAFETY: invalidating a TLB entry is always safe.
    unsafe { asm!("invlpg [{}]", in(reg) addr, options(nostack, preserves_flags)) }
}

/// isa-debug-exit (iobase 0xf4): QEMU exits with status (code << 1) | 1.
const DEBUG_EXIT_PORT: u16 = 0xf4;
/// All benchmarks ran: QEMU exits with status 1.
pub const EXIT_SUCCESS: u32 = 0;
/// A panic (a CPU exception panics too): QEMU exits with status 3.
pub const EXIT_PANIC: u32 = 1;

/// Powers off through isa-debug-exit; without that device, halts forever.
pub fn exit(code: u32) -> ! {
    outl(DEBUG_EXIT_PORT, code);
    loop {
        // SAFETY: interrupts stay off; hlt just stops the CPU.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) }
    }
}
