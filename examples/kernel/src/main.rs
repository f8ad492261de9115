//! A small bootable x86_64 kernel: PVH (or multiboot) boot under QEMU,
//! benchmarks of its own, the BENCH protocol on COM1, power-off through
//! isa-debug-exit.  The safety profile (a cargo feature) changes the code
//! that runs: see profile.rs and README.md.
#![no_std]
#![no_main]
#![feature(cfg_overflow_checks)]
#![cfg_attr(panic = "unwind", feature(lang_items))]
#![cfg_attr(panic = "unwind", allow(internal_features))]

extern crate alloc;

mod args;
mod bench;
mod boot;
mod cpu;
mod heap;
mod idt;
mod paging;
mod profile;
mod serial;
mod task;
mod time;

use core::sync::atomic::{AtomicBool, Ordering};

/// The init command the kernel runs, chosen when it is built
/// (`INIT_SCRIPT="/bin/bench --quick" cargo build ...`): like Kevlar's
/// INIT_SCRIPT=/bin/bench.  Its words after the program path are default
/// bench arguments; the kernel command line's override them.  build.rs makes
/// cargo rebuild when it changes.
const INIT_SCRIPT: &str = match option_env!("INIT_SCRIPT") {
    Some(script) => script,
    None => "/bin/bench",
};

#[no_mangle]
extern "C" fn kernel_main(boot_info: u32) -> ! {
    serial::init();
    idt::init();
    paging::init();
    task::init();
    let cmdline = core::str::from_utf8(boot::cmdline(boot_info)).unwrap_or("");
    println!(
        "demo-kernel: profile {}, overflow checks {}, init '{INIT_SCRIPT}', cmdline '{cmdline}'",
        profile::PROFILE.name(),
        if cfg!(overflow_checks) { "on" } else { "off" },
    );
    let tsc_hz = time::calibrate_tsc();

    let mut init_words = INIT_SCRIPT.split_ascii_whitespace().peekable();
    if init_words.peek().is_some_and(|word| word.starts_with('/')) {
        init_words.next(); // the program path
    }
    let options = args::parse([&mut init_words, &mut cmdline.split_ascii_whitespace()]);
    bench::run(&options, tsc_hz);
    cpu::exit(cpu::EXIT_SUCCESS)
}

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    if !PANICKING.swap(true, Ordering::Relaxed) {
        match info.location() {
            Some(at) => println!(
                "demo-kernel panicked at {}:{}:{}: {}",
                at.file(),
                at.line(),
                at.column(),
                info.message()
            ),
            None => println!(
                "demo-kernel panicked at an unknown place: {}",
                info.message()
            ),
        }
    }
    cpu::exit(cpu::EXIT_PANIC)
}

/// The panic=unwind targets (fortress, balanced) need a personality routine;
/// the panic handler never unwinds, so it is never called.
#[cfg(panic = "unwind")]
#[lang = "eh_personality"]
extern "C" fn eh_personality() {}

/// Landing pads in unoptimised panic=unwind code call this; no panic ever
/// unwinds here, so reaching it is a bug.
#[cfg(panic = "unwind")]
#[allow(non_snake_case)]
#[no_mangle]
extern "C" fn _Unwind_Resume(_exception: *mut u8) -> ! {
    println!("demo-kernel: _Unwind_Resume reached: nothing may unwind in this kernel");
    cpu::exit(cpu::EXIT_PANIC)
}
