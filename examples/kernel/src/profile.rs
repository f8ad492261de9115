//! The safety profile this kernel was built with, and what it turns on.
//! When several profile features are given, the safest one wins.

#[cfg(not(any(
    feature = "profile-fortress",
    feature = "profile-balanced",
    feature = "profile-performance",
    feature = "profile-ludicrous"
)))]
compile_error!("select a safety profile: --features profile-<name>");

// Only the selected profile is ever constructed.
#[allow(dead_code)]
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

impl Profile {
    pub const fn name(self) -> &'static str {
        match self {
            Profile::Fortress => "fortress",
            Profile::Balanced => "balanced",
            Profile::Performance => "performance",
            Profile::Ludicrous => "ludicrous",
        }
    }
}

/// Freed heap blocks and page frames are filled with a poison pattern, and a
/// heap block's poison is verified when it is handed out again.
pub const POISON_ON_FREE: bool = matches!(PROFILE, Profile::Fortress);
/// Heap blocks and demand-paged frames are zeroed before use.
pub const ZERO_ON_ALLOC: bool = matches!(PROFILE, Profile::Fortress | Profile::Balanced);
/// Every context switch verifies both tasks' stack canaries.
pub const STACK_CANARY: bool = matches!(PROFILE, Profile::Fortress);
/// Every context switch verifies the saved stack pointer lies in its stack.
pub const STACK_BOUNDS: bool = matches!(PROFILE, Profile::Fortress | Profile::Balanced);
/// Slices are indexed without bounds checks (`get_unchecked`).
pub const UNCHECKED: bool = matches!(PROFILE, Profile::Ludicrous);
