//! The benchmarks and the BENCH protocol on the serial port.

use alloc::alloc::{alloc, dealloc, handle_alloc_error};
use core::alloc::Layout;
use core::fmt;
use core::hint::black_box;
use core::sync::atomic::Ordering;

use crate::args::Options;
use crate::{cpu, idt, paging, println, profile, task, time};

pub struct Benchmark {
    pub name: &'static str,
    /// Iterations in quick mode; full mode runs ten times as many.
    quick: u64,
    run: fn(u64),
}

pub const BENCHMARKS: [Benchmark; 6] = [
    Benchmark {
        name: "trap",
        quick: 2000,
        run: trap,
    },
    Benchmark {
        name: "page_fault",
        quick: 1000,
        run: page_fault,
    },
    Benchmark {
        name: "alloc_free",
        quick: 2000,
        run: alloc_free,
    },
    Benchmark {
        name: "context_switch",
        quick: 2000,
        run: context_switch,
    },
    Benchmark {
        name: "copy",
        quick: 500,
        run: copy,
    },
    Benchmark {
        name: "overflow_math",
        quick: 2000,
        run: overflow_math,
    },
];

/// int3 round trip: IDT gate, register save, Rust handler, iretq.
fn trap(iters: u64) {
    let before = idt::BREAKPOINTS.load(Ordering::Relaxed);
    for _ in 0..iters {
        // SAFETY: the breakpoint handler only counts and returns.
        unsafe { core::arch::asm!("int3", options(nostack)) };
    }
    let taken = idt::BREAKPOINTS.load(Ordering::Relaxed) - before;
    assert_eq!(taken, iters, "breakpoints lost");
}

/// Touch a not-present page: the fault handler takes a frame from the pool
/// (zeroing it in fortress and balanced) and maps it; then unmap it again
/// (invlpg, frame freed, poisoned in fortress).
fn page_fault(iters: u64) {
    for i in 0..iters {
        let page = paging::WINDOW + (i % paging::WINDOW_PAGES) * 4096;
        // SAFETY: the page-fault handler maps every page of the window.
        unsafe { core::ptr::write_volatile(page as *mut u64, i) };
        paging::unmap(page);
    }
}

/// Three small blocks (32, 64 and 256 bytes) allocated, written and freed.
fn alloc_free(iters: u64) {
    const SIZES: [usize; 3] = [32, 64, 256];
    for i in 0..iters {
        let mut blocks = [core::ptr::null_mut(); SIZES.len()];
        for (slot, &size) in blocks.iter_mut().zip(&SIZES) {
            let layout = Layout::from_size_align(size, 8).expect("valid layout");
            // SAFETY: the layout has a non-zero size.
            let block = unsafe { alloc(layout) };
            if block.is_null() {
                handle_alloc_error(layout);
            }
            // SAFETY: the block has at least one byte.
            unsafe { block.write(i as u8) };
            *slot = black_box(block);
        }
        for (&block, &size) in blocks.iter().zip(&SIZES).rev() {
            let layout = Layout::from_size_align(size, 8).expect("valid layout");
            // SAFETY: allocated above with this layout.
            unsafe { dealloc(block, layout) };
        }
    }
}

/// Boot task -> partner task -> boot task: two stack switches.
fn context_switch(iters: u64) {
    let before = task::partner_runs();
    for _ in 0..iters {
        task::round_trip();
    }
    assert_eq!(
        task::partner_runs() - before,
        iters,
        "context switches lost"
    );
}

const COPY_BYTES: usize = 1024;

/// An indexed byte-by-byte copy of 1 KiB: bounds-checked in every profile
/// but ludicrous, which indexes unchecked (and LLVM turns it into memcpy).
fn copy(iters: u64) {
    let mut src = [0u8; COPY_BYTES];
    for (i, byte) in src.iter_mut().enumerate() {
        *byte = i as u8;
    }
    let mut dst = [0u8; COPY_BYTES];
    for _ in 0..iters {
        copy_bytes(black_box(&mut dst), black_box(&src), black_box(COPY_BYTES));
    }
    assert!(dst == src, "copy corrupted the data");
}

// The indexed loop is the point: it is what the profiles compile differently.
#[allow(clippy::manual_memcpy, clippy::needless_range_loop)]
#[inline(never)]
fn copy_bytes(dst: &mut [u8], src: &[u8], len: usize) {
    if profile::UNCHECKED {
        assert!(len <= COPY_BYTES); // the only check left, once per copy
        for i in 0..len {
            // SAFETY: the callers' buffers are COPY_BYTES long.
            unsafe { *dst.get_unchecked_mut(i) = *src.get_unchecked(i) };
        }
    } else {
        for i in 0..len {
            dst[i] = src[i];
        }
    }
}

/// A 64-element dot product: every multiply and add is overflow-checked
/// in fortress (built with -C overflow-checks=on).
fn overflow_math(iters: u64) {
    let mut a = [0u64; 64];
    let mut b = [0u64; 64];
    for (i, (x, y)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
        *x = (i as u64 * 7 + 1) % 1000;
        *y = (i as u64 * 13 + 5) % 1000;
    }
    let mut acc = 0u64;
    for _ in 0..iters {
        for (x, y) in black_box(&a).iter().zip(black_box(&b)) {
            acc += x * y;
        }
    }
    black_box(acc);
}

struct Plan<'a>(&'a Options);

impl fmt::Display for Plan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (benchmark, _) in BENCHMARKS.iter().zip(self.0.selected).filter(|(_, s)| *s) {
            if !first {
                f.write_str(",")?;
            }
            f.write_str(benchmark.name)?;
            first = false;
        }
        Ok(())
    }
}

pub fn run(options: &Options, tsc_hz: u64) {
    let count = options.selected.iter().filter(|s| **s).count();
    println!("BENCH_START demo-kernel");
    println!(
        "BENCH_MODE {}",
        if options.quick { "quick" } else { "full" }
    );
    println!("BENCH_PLAN {} {count} {}", options.rounds, Plan(options));
    let tenths_mhz = (tsc_hz + 50_000) / 100_000;
    println!(
        "BENCH_EXTRA tsc_mhz {}.{}",
        tenths_mhz / 10,
        tenths_mhz % 10
    );
    for round in 1..=options.rounds {
        println!("BENCH_ROUND {round}");
        for (benchmark, _) in BENCHMARKS.iter().zip(options.selected).filter(|(_, s)| *s) {
            let iters = if options.quick {
                benchmark.quick
            } else {
                benchmark.quick * 10
            };
            let start = cpu::rdtsc();
            (benchmark.run)(iters);
            let ns = time::ticks_to_ns(cpu::rdtsc() - start, tsc_hz);
            println!("BENCH {} {iters} {ns} {}", benchmark.name, ns / iters);
        }
    }
    println!("BENCH_END");
}
