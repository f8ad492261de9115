//! A stand-in for a kernel crate: just enough code for `cargo check`,
//! `cargo clippy` and `cargo fmt` to have something real to look at under
//! every safety profile.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;

#[cfg(not(any(
    feature = "profile-fortress",
    feature = "profile-balanced",
    feature = "profile-performance",
    feature = "profile-ludicrous"
)))]
compile_error!("select a safety profile: --features profile-<name>");

/// The safety profile this kernel was built with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Fortress,
    Balanced,
    Performance,
    Ludicrous,
}

#[cfg(feature = "profile-fortress")]
pub const PROFILE: Profile = Profile::Fortress;
#[cfg(all(feature = "profile-balanced", not(feature = "profile-fortress")))]
pub const PROFILE: Profile = Profile::Balanced;
#[cfg(all(
    feature = "profile-performance",
    not(any(feature = "profile-fortress", feature = "profile-balanced"))
))]
pub const PROFILE: Profile = Profile::Performance;
#[cfg(all(
    feature = "profile-ludicrous",
    not(any(
        feature = "profile-fortress",
        feature = "profile-balanced",
        feature = "profile-performance"
    ))
))]
pub const PROFILE: Profile = Profile::Ludicrous;

/// The program the kernel starts as PID 1, chosen when it is built
/// (`INIT_SCRIPT=/bin/bench cargo build …`); build.rs makes cargo rebuild
/// when it changes.
pub const INIT_SCRIPT: &str = match option_env!("INIT_SCRIPT") {
    Some(path) => path,
    None => "/bin/sh",
};

/// Splits the init command line into its words, as the kernel does before exec.
pub fn init_argv() -> Vec<&'static str> {
    INIT_SCRIPT.split_ascii_whitespace().collect()
}

/// Whether freed memory is poisoned before reuse.
pub const fn poison_freed_memory() -> bool {
    matches!(PROFILE, Profile::Fortress)
}

/// Whether a panic in a system call is caught and turned into an error.
pub const fn catch_syscall_panics() -> bool {
    matches!(PROFILE, Profile::Fortress | Profile::Balanced)
}
