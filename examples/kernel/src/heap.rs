//! The kernel heap: a static arena, size classes 16..2048 bytes with
//! intrusive free lists, bump allocation for fresh blocks.  Larger blocks are
//! bump-allocated and never reused.  Fortress poisons a freed block and
//! checks the poison when the block is reused (a write after free panics);
//! fortress and balanced zero every block they hand out.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;

use crate::profile;

const ARENA_SIZE: usize = 2 << 20;
const CLASSES: usize = 8; // 16, 32, ..., 2048
const MIN_SHIFT: u32 = 4;
const POISON: u8 = 0xa5;

#[repr(C, align(4096))]
struct Arena(UnsafeCell<[u8; ARENA_SIZE]>);

struct State {
    next: usize,
    free: [*mut u8; CLASSES],
}

pub struct Heap {
    arena: Arena,
    state: UnsafeCell<State>,
}

// SAFETY: one CPU and no interrupt handler allocates, so calls never overlap.
unsafe impl Sync for Heap {}

#[global_allocator]
static HEAP: Heap = Heap {
    arena: Arena(UnsafeCell::new([0; ARENA_SIZE])),
    state: UnsafeCell::new(State {
        next: 0,
        free: [ptr::null_mut(); CLASSES],
    }),
};

/// The size class for a layout, or None for a large block.
fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(1 << MIN_SHIFT);
    let class = (size.next_power_of_two().trailing_zeros() - MIN_SHIFT) as usize;
    (class < CLASSES).then_some(class)
}

impl Heap {
    fn bump(&self, state: &mut State, size: usize, align: usize) -> *mut u8 {
        let base = self.arena.0.get() as usize;
        let start = (base + state.next).next_multiple_of(align);
        let end = start + size;
        if end > base + ARENA_SIZE {
            return ptr::null_mut();
        }
        state.next = end - base;
        start as *mut u8
    }
}

unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see `impl Sync for Heap`.
        let state = unsafe { &mut *self.state.get() };
        let Some(class) = class_of(layout) else {
            return self.bump(state, layout.size(), layout.align());
        };
        let size = 1usize << (class as u32 + MIN_SHIFT);
        let head = if profile::UNCHECKED {
            // SAFETY: class < CLASSES.
            unsafe { state.free.get_unchecked_mut(class) }
        } else {
            &mut state.free[class]
        };
        let block = if head.is_null() {
            self.bump(state, size, size)
        } else {
            let block = *head;
            // SAFETY: a free block starts with the next pointer.
            *head = unsafe { block.cast::<*mut u8>().read() };
            if profile::POISON_ON_FREE {
                // SAFETY: the block is `size` bytes of ours.
                let body = unsafe { core::slice::from_raw_parts(block.add(8), size - 8) };
                if let Some(at) = body.iter().position(|&b| b != POISON) {
                    panic!(
                        "heap: block {block:p} ({size} bytes) written at +{} after free",
                        at + 8
                    );
                }
            }
            block
        };
        if profile::ZERO_ON_ALLOC && !block.is_null() {
            // SAFETY: as above.
            unsafe { block.write_bytes(0, size) };
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(class) = class_of(layout) else {
            return; // large blocks are not reused
        };
        // SAFETY: see `impl Sync for Heap`.
        let state = unsafe { &mut *self.state.get() };
        if profile::POISON_ON_FREE {
            // SAFETY: the block was handed out for this layout's class.
            unsafe { block.write_bytes(POISON, 1 << (class as u32 + MIN_SHIFT)) };
        }
        let head = if profile::UNCHECKED {
            // SAFETY: class < CLASSES.
            unsafe { state.free.get_unchecked_mut(class) }
        } else {
            &mut state.free[class]
        };
        // SAFETY: the block is at least 16 bytes and aligned to its size.
        unsafe { block.cast::<*mut u8>().write(*head) };
        *head = block;
    }
}
