//! The IDT: CPU exceptions 0..31 go through one assembly stub that saves the
//! caller-saved registers and calls `trap_dispatch`.  A breakpoint (int3)
//! is counted and returns; a page fault in the demand-paged window is
//! handled by `paging`; anything else panics.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};

use static_assertions::{assert_eq_size, const_assert_eq};

use crate::{cpu, paging};

core::arch::global_asm!(
    r#"
    .macro isr_noerr n
isr_stub_\n:
    pushq $0
    pushq $\n
    jmp isr_common
    .endm
    .macro isr_err n
isr_stub_\n:
    pushq $\n
    jmp isr_common
    .endm

    .section .text.isr, "ax", @progbits
    isr_noerr 0
    isr_noerr 1
    isr_noerr 2
    isr_noerr 3
    isr_noerr 4
    isr_noerr 5
    isr_noerr 6
    isr_noerr 7
    isr_err 8
    isr_noerr 9
    isr_err 10
    isr_err 11
    isr_err 12
    isr_err 13
    isr_err 14
    isr_noerr 15
    isr_noerr 16
    isr_err 17
    isr_noerr 18
    isr_noerr 19
    isr_noerr 20
    isr_err 21
    isr_noerr 22
    isr_noerr 23
    isr_noerr 24
    isr_noerr 25
    isr_noerr 26
    isr_noerr 27
    isr_noerr 28
    isr_err 29
    isr_err 30
    isr_noerr 31

isr_common:
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    mov %rsp, %rdi          /* &mut TrapFrame; %rsp is 16-byte aligned here */
    call trap_dispatch
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    add $16, %rsp           /* vector, error code */
    iretq

    .section .rodata.isr, "a", @progbits
    .p2align 3
    .global isr_stubs
isr_stubs:
    .quad isr_stub_0, isr_stub_1, isr_stub_2, isr_stub_3
    .quad isr_stub_4, isr_stub_5, isr_stub_6, isr_stub_7
    .quad isr_stub_8, isr_stub_9, isr_stub_10, isr_stub_11
    .quad isr_stub_12, isr_stub_13, isr_stub_14, isr_stub_15
    .quad isr_stub_16, isr_stub_17, isr_stub_18, isr_stub_19
    .quad isr_stub_20, isr_stub_21, isr_stub_22, isr_stub_23
    .quad isr_stub_24, isr_stub_25, isr_stub_26, isr_stub_27
    .quad isr_stub_28, isr_stub_29, isr_stub_30, isr_stub_31
"#,
    options(att_syntax)
);

/// What `isr_common` leaves on the stack, lowest address first.
#[repr(C)]
pub struct TrapFrame {
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rdi: u64,
    rsi: u64,
    rdx: u64,
    rcx: u64,
    rax: u64,
    vector: u64,
    error: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

// isr_common pushes 9 registers over the 7 words of vector, error and the
// CPU's interrupt frame: the layout above must match it word for word.
assert_eq_size!(TrapFrame, [u64; 16]);

#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    kind: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

const_assert_eq!(core::mem::size_of::<Gate>(), 16);

const VECTORS: usize = 32;
const KERNEL_CS: u16 = 0x08;
const INTERRUPT_GATE: u8 = 0x8e; // present, DPL 0, 64-bit interrupt gate

#[repr(C, align(16))]
struct Idt(UnsafeCell<[Gate; VECTORS]>);

// SAFETY: written once by `init` on the only CPU, before any exception.
unsafe impl Sync for Idt {}

static IDT: Idt = Idt(UnsafeCell::new(
    [Gate {
        offset_low: 0,
        selector: 0,
        ist: 0,
        kind: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    }; VECTORS],
));

#[repr(C, packed)]
struct IdtPointer {
    limit: u16,
    base: u64,
}

pub fn init() {
    extern "C" {
        static isr_stubs: [u64; VECTORS];
    }
    // SAFETY: single CPU, interrupts off: nothing else uses the IDT yet.
    let gates = unsafe { &mut *IDT.0.get() };
    // SAFETY: isr_stubs is the constant address table above.
    let stubs = unsafe { &isr_stubs };
    for (gate, &stub) in gates.iter_mut().zip(stubs.iter()) {
        *gate = Gate {
            offset_low: stub as u16,
            selector: KERNEL_CS,
            ist: 0,
            kind: INTERRUPT_GATE,
            offset_mid: (stub >> 16) as u16,
            offset_high: (stub >> 32) as u32,
            reserved: 0,
        };
    }
    let pointer = IdtPointer {
        limit: (core::mem::size_of::<[Gate; VECTORS]>() - 1) as u16,
        base: IDT.0.get() as u64,
    };
    // SAFETY: the table is static and complete.
    unsafe { core::arch::asm!("lidt [{}]", in(reg) &raw const pointer, options(nostack)) }
}

/// Breakpoints taken so far (the `trap` benchmark checks it).
pub static BREAKPOINTS: AtomicU64 = AtomicU64::new(0);

const NAMES: [&str; 21] = [
    "divide error",
    "debug",
    "NMI",
    "breakpoint",
    "overflow",
    "bound range",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack fault",
    "general protection",
    "page fault",
    "reserved",
    "x87 FP",
    "alignment check",
    "machine check",
    "SIMD FP",
    "virtualization",
];

#[no_mangle]
extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    match frame.vector {
        3 => {
            // Plain load and add: the add is overflow-checked in fortress.
            let seen = BREAKPOINTS.load(Ordering::Relaxed);
            BREAKPOINTS.store(seen + 1, Ordering::Relaxed);
        }
        14 => {
            let addr = cpu::read_cr2();
            if !paging::handle_fault(addr, frame.error) {
                panic!(
                    "page fault at {addr:#x} (error {:#x}) rip {:#x} rsp {:#x}",
                    frame.error, frame.rip, frame.rsp
                );
            }
        }
        vector => {
            let name = NAMES.get(vector as usize).copied().unwrap_or("exception");
            panic!(
                "CPU exception {vector} ({name}) error {:#x} rip {:#x} cs {:#x} rflags {:#x} rsp {:#x} ss {:#x} rax {:#x} rcx {:#x} rdx {:#x} rsi {:#x} rdi {:#x} r8 {:#x} r9 {:#x} r10 {:#x} r11 {:#x}",
                frame.error, frame.rip, frame.cs, frame.rflags, frame.rsp, frame.ss,
                frame.rax, frame.rcx, frame.rdx, frame.rsi, frame.rdi, frame.r8, frame.r9,
                frame.r10, frame.r11
            );
        }
    }
}
