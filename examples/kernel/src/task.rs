//! Two kernel tasks on their own stacks: the boot task (0) and a partner (1)
//! that switches straight back.  `context_switch` saves the callee-saved
//! registers on the current stack and swaps stack pointers.  Fortress checks
//! a canary at the bottom of both stacks on every switch; fortress and
//! balanced check that the stack pointer being resumed lies in its stack.

use core::cell::UnsafeCell;

use crate::{boot, profile};

core::arch::global_asm!(
    r#"
    .section .text.switch, "ax", @progbits
    .global context_switch
context_switch:                 /* (save: *mut u64, next: u64) */
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, (%rdi)
    mov %rsi, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
"#,
    options(att_syntax)
);

extern "C" {
    fn context_switch(save: *mut u64, next: u64);
}

const STACK_SIZE: usize = 16 * 1024;
const CANARY: u64 = 0x57ac_c0de_5afe_f00d;

#[repr(C, align(16))]
struct Stack(UnsafeCell<[u8; STACK_SIZE]>);

#[derive(Clone, Copy)]
struct Task {
    rsp: u64,
    bottom: u64,
    top: u64,
}

struct Tasks(UnsafeCell<[Task; 2]>);

// SAFETY: one CPU; only the running task touches the table.
unsafe impl Sync for Tasks {}
unsafe impl Sync for Stack {}

static PARTNER_STACK: Stack = Stack(UnsafeCell::new([0; STACK_SIZE]));
static TASKS: Tasks = Tasks(UnsafeCell::new(
    [Task {
        rsp: 0,
        bottom: 0,
        top: 0,
    }; 2],
));

struct Counter(UnsafeCell<u64>);
// SAFETY: as for Tasks.
unsafe impl Sync for Counter {}

/// Round trips completed by the partner task.
static PARTNER_RUNS: Counter = Counter(UnsafeCell::new(0));

extern "C" fn partner() -> ! {
    loop {
        // SAFETY: only this task writes the counter.
        unsafe { *PARTNER_RUNS.0.get() += 1 };
        switch(1, 0);
    }
}

pub fn init() {
    let (boot_bottom, boot_top) = boot::boot_stack();
    let bottom = PARTNER_STACK.0.get() as u64;
    let top = bottom + STACK_SIZE as u64;
    // Initial frame: six callee-saved registers, then `partner` as the return
    // address, then a null return address for it (as if it had been called).
    let rsp = top - 8 * 8;
    // SAFETY: the frame lies inside the partner's stack, not yet in use.
    unsafe {
        let frame = rsp as *mut u64;
        for i in 0..6 {
            frame.add(i).write(0);
        }
        frame.add(6).write(partner as *const () as u64);
        frame.add(7).write(0);
        (bottom as *mut u64).write(CANARY);
        (boot_bottom as *mut u64).write(CANARY);
        *TASKS.0.get() = [
            Task {
                rsp: 0,
                bottom: boot_bottom,
                top: boot_top,
            },
            Task { rsp, bottom, top },
        ];
    }
}

fn switch(from: usize, to: usize) {
    let tasks = TASKS.0.get();
    // SAFETY: see Tasks; indices are 0 or 1.
    let next = unsafe { (*tasks)[to] };
    if profile::STACK_CANARY {
        // SAFETY: both stack bottoms are ours.
        for task in unsafe { &*tasks } {
            if unsafe { (task.bottom as *const u64).read() } != CANARY {
                panic!(
                    "STACK CORRUPT: canary of stack {:#x} overwritten",
                    task.bottom
                );
            }
        }
    }
    if profile::STACK_BOUNDS && !(next.bottom + 8..next.top).contains(&next.rsp) {
        panic!(
            "STACK CORRUPT: task {to} resumes at {:#x}, outside its stack {:#x}..{:#x}",
            next.rsp, next.bottom, next.top
        );
    }
    // SAFETY: `next.rsp` was saved by context_switch (or built by init).
    unsafe { context_switch(&raw mut (*tasks)[from].rsp, next.rsp) };
}

/// One round trip: boot task -> partner -> boot task (two switches).
pub fn round_trip() {
    switch(0, 1);
}

pub fn partner_runs() -> u64 {
    // SAFETY: read while the partner is suspended.
    unsafe { *PARTNER_RUNS.0.get() }
}
