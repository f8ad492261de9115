"""Bench: one benchmark run, end to end, and which kernel a profile's run boots.

``run``: bench binary -> initramfs -> boots -> result file (or natively on the
host); ``targets``: what ``bench profile <name>`` and ``bench linux`` boot,
with the kernel built or fetched first."""
