"""Boot: run a kernel under QEMU (or the bench binary natively), read its
console, and name how the run ended.

The QEMU command and its QMP socket, the accelerator (KVM only once a test
boot shows it works), the VMs ci_tools keeps track of and the host ports
they forward, the console reader, the BENCH protocol spoken on that console,
and the outcome: how a boot ended, each way with its own exit code."""
