//! Demand paging for one 2 MiB window of 4 KiB pages: a not-present page is
//! given a frame from a small pool by the page-fault handler; `unmap` gives
//! it back.  Fortress and balanced zero a frame before mapping it (no data
//! leaks from its last user); fortress also poisons a frame when it is freed.

use core::cell::UnsafeCell;

use crate::{boot, cpu, profile};

const PAGE: usize = 4096;
/// Virtual address of the window: PD entry 384 of the identity-mapped GiB,
/// above the machine's RAM, so no identity mapping is lost.
pub const WINDOW: u64 = 0x3000_0000;
pub const WINDOW_PAGES: u64 = 512;
const FRAMES: usize = 4;
const PRESENT_WRITABLE: u64 = 0x3;
const FRAME_POISON: u8 = 0x6b;

#[repr(C, align(4096))]
struct Aligned<T>(UnsafeCell<T>);

// SAFETY: single CPU; touched only by the page-fault handler and `unmap`,
// which never run at the same time (interrupts are off).
unsafe impl<T> Sync for Aligned<T> {}

static TABLE: Aligned<[u64; 512]> = Aligned(UnsafeCell::new([0; 512]));
static POOL: Aligned<[[u8; PAGE]; FRAMES]> = Aligned(UnsafeCell::new([[0; PAGE]; FRAMES]));

struct FreeFrames(UnsafeCell<([usize; FRAMES], usize)>);
// SAFETY: as for Aligned.
unsafe impl Sync for FreeFrames {}
static FREE: FreeFrames = FreeFrames(UnsafeCell::new(([0, 1, 2, 3], FRAMES)));

pub fn init() {
    let table = TABLE.0.get() as u64;
    // SAFETY: boot_pd is the live page directory; entry 384 maps no RAM.
    unsafe { *boot::boot_pd().add((WINDOW >> 21) as usize) = table | PRESENT_WRITABLE };
    for page in 0..WINDOW_PAGES {
        cpu::invlpg(WINDOW + page * PAGE as u64);
    }
}

fn frame_address(index: usize) -> *mut u8 {
    // SAFETY: index < FRAMES (it comes from the free list).
    unsafe { POOL.0.get().cast::<u8>().add(index * PAGE) }
}

fn entry(addr: u64) -> *mut u64 {
    let index = ((addr - WINDOW) >> 12) as usize;
    // SAFETY (of the unchecked path): callers pass addresses in the window.
    let table = unsafe { &mut *TABLE.0.get() };
    if profile::UNCHECKED {
        // SAFETY: index < 512 for addresses in the window.
        unsafe { table.get_unchecked_mut(index) }
    } else {
        &mut table[index]
    }
}

/// The page-fault handler's part: true when the fault was ours and is fixed.
// Out of line, as in a real kernel: the breakpoint path stays the same in
// every profile instead of inheriting the zeroing path's register pressure.
#[inline(never)]
pub fn handle_fault(addr: u64, error: u64) -> bool {
    if !(WINDOW..WINDOW + WINDOW_PAGES * PAGE as u64).contains(&addr) || error & 1 != 0 {
        return false; // outside the window, or a protection fault
    }
    // SAFETY: see FreeFrames.
    let (stack, count) = unsafe { &mut *FREE.0.get() };
    if *count == 0 {
        return false;
    }
    *count -= 1;
    let index = stack[*count];
    let frame = frame_address(index);
    if profile::ZERO_ON_ALLOC {
        // SAFETY: the frame is ours until unmapped.
        unsafe { frame.write_bytes(0, PAGE) };
    }
    // SAFETY: the page was not present, so no TLB entry needs flushing.
    unsafe { *entry(addr) = frame as u64 | PRESENT_WRITABLE };
    true
}

/// Unmaps the page at `addr` (in the window) and frees its frame.
pub fn unmap(addr: u64) {
    let slot = entry(addr);
    // SAFETY: slot points into TABLE.
    let pte = unsafe { slot.replace(0) };
    if pte & 1 == 0 {
        return;
    }
    cpu::invlpg(addr);
    let frame = (pte & !0xfff) as usize;
    let index = (frame - POOL.0.get() as usize) / PAGE;
    if profile::POISON_ON_FREE {
        // SAFETY: the frame is no longer mapped anywhere else.
        unsafe { (frame as *mut u8).write_bytes(FRAME_POISON, PAGE) };
    }
    // SAFETY: see FreeFrames.
    let (stack, count) = unsafe { &mut *FREE.0.get() };
    stack[*count] = index;
    *count += 1;
}
