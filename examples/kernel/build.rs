// The kernel embeds INIT_SCRIPT (see src/main.rs).  Without this line cargo
// would reuse an image built with another init: a stale kernel.
fn main() {
    println!("cargo::rerun-if-env-changed=INIT_SCRIPT");

    // Link the kernel at 1 MiB with our own script (GNU ld, see arch/x64/*.json).
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=linker.ld");
    println!("cargo::rustc-link-arg=-T{dir}/linker.ld");
    println!("cargo::rustc-link-arg=-zmax-page-size=0x1000");
    println!("cargo::rustc-link-arg=--build-id=none");
    // A multiboot loader jumps to the ELF entry (src/boot.rs); PVH uses its note.
    if std::env::var_os("CARGO_FEATURE_BOOT_MULTIBOOT").is_some() {
        println!("cargo::rustc-link-arg=--entry=multiboot_start32");
    }
}
