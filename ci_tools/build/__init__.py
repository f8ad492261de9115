"""Build: what a run boots and what a pull request is checked with.

The Rust toolchain and the one cargo command builder, ``check``/``clippy``/
``fmt`` with their compiler messages where people look, a profile's kernel
image (never a stale one), the reference Linux guest, the bench binary and
its initramfs."""
