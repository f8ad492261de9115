// The kernel embeds INIT_SCRIPT (see src/lib.rs).  Without this line cargo
// would reuse an image built with another init: a stale kernel.
fn main() {
    println!("cargo::rerun-if-env-changed=INIT_SCRIPT");
}
