"""ci_tools: profile-matrix checks and benchmark gating for Rust kernels under QEMU."""

__version__ = "0.1.0"

# Where ci_tools lives on GitHub: the one place to change it.  A kernel
# repository calls this repository's reusable workflows at RELEASE (a tag),
# `ci_tools init` writes both, and the reusable workflows install ci_tools
# from the same repository and tag by default (tests/test_workflows.py holds
# .github/ and the README to these two).
REPOSITORY = "ci-tools-dev/ci_tools"
RELEASE = f"v{__version__}"
