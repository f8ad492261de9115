"""Forwarded ports: conflicts are found, named, and only our own stale QEMU is removed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_tools.boot import ports, qemu, vms
from ci_tools.errors import BadInputError, ExitCode, SetupError
from ci_tools.host import provision
from ci_tools.results import store

from conftest import Child
from guest import qemu_processes, run_cli

USERNET = (
    "Hub -1 (#net009):\r\n"
    "  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n"
    "  TCP[HOST_FORWARD]   8       127.0.0.1 45063       10.0.2.15    22     0     0\r\n"
    "  TCP[HOST_FORWARD]   9       127.0.0.1 20080       10.0.2.15    80     0     0\r\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_forward_parsing() -> None:
    assert ports.Forward.parse("20022:22") == ports.Forward(host=20022, guest=22)
    assert ports.Forward.parse("udp:0:53").hostfwd() == "hostfwd=udp:127.0.0.1:0-:53"
    with pytest.raises(BadInputError, match="HOST:GUEST"):
        ports.Forward.parse("22")


def test_read_forwarded_ports_from_usernet() -> None:
    assert ports.read_forwarded(USERNET) == {22: 45063, 80: 20080}


@pytest.fixture
def listener() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A plain, non-QEMU process listening on a port."""
    port = free_port()
    code = (
        "import socket,time; s=socket.socket(); "
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
        f"s.bind(('127.0.0.1',{port})); s.listen(); print('ready', flush=True); time.sleep(300)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    yield child, port
    child.kill()
    child.wait()
    child.stdout.close()


def test_holder_is_found_in_proc(listener: tuple[subprocess.Popen[bytes], int]) -> None:
    child, port = listener
    assert not ports.port_is_free(port)
    holder = ports.find_holder(port)
    assert holder is not None and holder.pid == child.pid and "socket" in holder.command


def test_someone_elses_process_is_named_and_survives(
    listener: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    child, port = listener
    with pytest.raises(SetupError, match=rf"port {port} .* in use by pid {child.pid}") as info:
        ports.claim((ports.Forward(host=port, guest=22),), tmp_path)
    assert "0:22" in str(info.value)  # the fix offers an automatic port
    assert child.poll() is None


@pytest.mark.integration
def test_bench_refuses_a_busy_port(
    listener: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    child, port = listener
    run = run_cli("bench", "linux", "--quick", "--forward", f"{port}:22", "-o",
                  str(tmp_path / "r.json"))  # fmt: skip
    assert run.returncode == ExitCode.SETUP
    assert f"in use by pid {child.pid}" in run.stderr and "socket" in run.stderr
    assert child.poll() is None


def _start_fake_stale_qemu(port: int, owner: int) -> tuple[subprocess.Popen[bytes], str]:
    """A QEMU as ci_tools starts it, whose owning harness (``owner``) has died."""
    name = "ci_tools-5ta1e" + os.urandom(2).hex()
    folder = vms.runtime_dir() / name
    folder.mkdir(mode=0o700)
    (folder / vms.OWNER_FILE).write_text(f"{owner}\n")
    child = subprocess.Popen(
        [qemu.qemu_binary(), "-name", name, "-S", "-display", "none", "-nodefaults",
         "-pidfile", str(folder / vms.PIDFILE),
         "-nic", f"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{port}-:22"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while ports.port_is_free(port) or not (folder / vms.PIDFILE).exists():
        assert time.monotonic() < deadline, "fake stale QEMU did not start"
        time.sleep(0.05)
    return child, name


def _dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


@pytest.mark.integration
def test_stale_qemu_of_ours_is_removed(tmp_path: Path) -> None:
    provision.ensure_guest_kernel()
    port = free_port()
    stale, name = _start_fake_stale_qemu(port, owner=_dead_pid())
    try:
        out = tmp_path / "r.json"
        run = run_cli("bench", "linux", "--quick", "--mode", "wallclock", "--benchmarks",
                      "getpid", "--forward", f"{port}:22", "-o", str(out))  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert "stale QEMU that ci_tools started" in run.stderr
        assert stale.wait(timeout=10) is not None
        assert not qemu_processes(name)
        assert store.load(out).data["boots"][0]["forwarded_ports"] == {"22": port}
    finally:
        stale.kill()
        stale.wait()
        shutil.rmtree(vms.runtime_dir() / name, ignore_errors=True)


@pytest.mark.integration
def test_live_qemu_of_another_harness_is_left_alone(tmp_path: Path) -> None:
    port = free_port()
    live, name = _start_fake_stale_qemu(port, owner=os.getpid())  # its owner is alive
    try:
        with pytest.raises(SetupError, match=rf"in use by pid {live.pid}"):
            ports.claim((ports.Forward(host=port, guest=22),), vms.runtime_dir())
        assert live.poll() is None
    finally:
        live.kill()
        live.wait()
        shutil.rmtree(vms.runtime_dir() / name, ignore_errors=True)


def test_sweep_removes_only_folders_no_live_boot_holds(tmp_path: Path) -> None:
    """A folder is live while its boot holds its lock, whatever its pids say: the
    owner pid of a dead run can be reused by any process, and a live boot's folder
    exists a moment before its owner file does."""
    live = Child(
        "from pathlib import Path\nfrom ci_tools.boot import vms\n"
        f"vms.new_folder(Path({str(tmp_path)!r}), 'ci_tools-live')\nprint('ready')"
    )
    dead = tmp_path / "ci_tools-dead"
    dead.mkdir()
    (dead / vms.OWNER_FILE).write_text(f"{os.getpid()}\n")  # a reused pid: alive, not its owner
    (dead / vms.PIDFILE).write_text(f"{_dead_pid()}\n")  # its QEMU is gone too
    try:
        assert vms.sweep(tmp_path) == 1
        assert not dead.exists() and (tmp_path / "ci_tools-live").is_dir()
    finally:
        live.finish()


RESERVE = """
import sys, time
from pathlib import Path
from ci_tools.boot import ports
forward = ports.Forward(host=int(sys.argv[2]), guest=22)
with ports.reserved((forward,), Path(sys.argv[1])):
    print("ready", flush=True)
    time.sleep(1.0)
    with open(sys.argv[3], "a") as log:
        log.write("first boot over\\n")
"""


def test_a_second_boot_asking_for_the_same_port_waits_for_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two runs forwarding one fixed host port: the second waits (and says so) until
    the first's QEMU is gone, instead of both finding the port free and one QEMU
    failing to bind it."""
    port, log = free_port(), tmp_path / "log"
    first = subprocess.Popen(
        [sys.executable, "-c", RESERVE, str(tmp_path), str(port), str(log)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert first.stdout is not None and first.stdout.readline() == "ready\n"
    forward = ports.Forward(host=port, guest=22)
    with ports.reserved((forward,), tmp_path), log.open("a") as out:
        out.write("second boot starts\n")
    first.communicate()
    assert log.read_text().splitlines() == ["first boot over", "second boot starts"]
    said = capsys.readouterr().err
    assert f"host port {port} (tcp) is forwarded by another ci_tools boot (pid {first.pid})" in said


def test_automatic_ports_are_not_reserved(tmp_path: Path) -> None:
    with ports.reserved((ports.Forward(host=0, guest=22),), tmp_path):
        assert not (tmp_path / "ports").exists()
