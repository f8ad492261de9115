"""bench profile <name>: which kernel boots, with which command line and machine."""

from __future__ import annotations

from pathlib import Path

from ci_tools import config
from ci_tools.bench import run, targets

from conftest import write_config


def test_profile_guest_for_its_own_kernel(tmp_path: Path) -> None:
    """guest = "kernel": the image, the profile's machine and its (empty) command line."""
    image = tmp_path / "kevlar.x64.img"
    image.write_bytes(b"kernel")
    path = write_config(
        tmp_path,
        '[profiles.fortress]\ntarget = "t"\nfeatures = []\n'
        '[profiles.fortress.bench]\nguest = "kernel"\nimage = "kevlar.x64.img"\n'
        'cmdline = ""\ncmdline_extra = "log=warn"\nmachine = "q35"\n',
    )
    target = targets.guest_target(config.load(path), "fortress")
    assert (target.name, target.profile, target.kernel) == ("fortress", "fortress", image)
    assert (target.cmdline, target.machine) == ("log=warn", "q35")


def test_profile_guest_on_linux_appends_the_safety_setting(tmp_path: Path) -> None:
    vmlinuz = tmp_path / "vmlinuz"
    vmlinuz.write_bytes(b"linux")
    path = write_config(
        tmp_path,
        f'[linux]\nkernel = "{vmlinuz}"\n[bench]\nguest = "linux"\n'
        '[profiles.ludicrous]\ntarget = "t"\nfeatures = []\n'
        'bench = { cmdline_extra = "mitigations=off" }\n',
    )
    target = targets.guest_target(config.load(path), "ludicrous")
    assert target.kernel == vmlinuz and target.machine == "pc"
    assert target.cmdline == f"{run.DEFAULT_CMDLINE} mitigations=off"
    override = targets.guest_target(
        config.load(path), "ludicrous", targets.Overrides(cmdline="console=ttyS0")
    )
    assert override.cmdline == "console=ttyS0 mitigations=off"
