//! Time: rdtsc, calibrated once against the PIT the way Linux does it
//! (channel 2, gate on port 0x61, mode 0, poll the output bit for 10 ms).

use crate::cpu::{inb, outb, rdtsc};

const PIT_HZ: u64 = 1_193_182;
const CALIBRATE_MS: u64 = 10;
const LATCH: u64 = PIT_HZ / (1000 / CALIBRATE_MS);

/// TSC ticks per second.
pub fn calibrate_tsc() -> u64 {
    // Gate high, speaker off; channel 2, lobyte/hibyte, mode 0, binary.
    outb(0x61, (inb(0x61) & !0x02) | 0x01);
    outb(0x43, 0xb0);
    outb(0x42, (LATCH & 0xff) as u8);
    outb(0x42, (LATCH >> 8) as u8);
    let start = rdtsc();
    let mut end = start;
    let mut polls = 0u64;
    // The output (bit 5) goes high when the count reaches zero.
    while inb(0x61) & 0x20 == 0 {
        end = rdtsc();
        polls += 1;
        if polls > 100_000_000 {
            panic!("PIT channel 2 never fired: cannot calibrate the TSC");
        }
    }
    let hz = u128::from(end - start) * u128::from(PIT_HZ) / u128::from(LATCH);
    if hz == 0 {
        panic!("TSC calibration gave 0 Hz");
    }
    hz as u64
}

/// Converts TSC ticks to nanoseconds.
pub fn ticks_to_ns(ticks: u64, tsc_hz: u64) -> u64 {
    (u128::from(ticks) * 1_000_000_000 / u128::from(tsc_hz)) as u64
}
