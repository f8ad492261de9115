"""ci_tools: profile-matrix checks and benchmark gating for Rust kernels under QEMU."""

__version__ = "0.1.0"
