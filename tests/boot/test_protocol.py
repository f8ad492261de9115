"""The console cleaner and BENCH parser, on real captured serial logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_tools.boot.protocol import clean_console, parse, parse_console

from conftest import FIXTURES

CONSOLE = FIXTURES / "console"
CORE = ["getpid", "read_null", "write_null", "pipe", "fork_exit", "open_close", "mmap_fault",
        "stat"]  # fmt: skip


def read(name: str) -> str:
    return (CONSOLE / name).read_bytes().decode(errors="replace")


def test_real_linux_guest_log_is_complete() -> None:
    out = parse_console(read("linux-quick-complete.log"))
    assert out.incomplete_reason() is None
    assert out.suite == "ci_tools" and out.mode == "quick"
    assert [s.name for s in out.samples] == CORE
    assert all(s.round == 1 for s in out.samples)
    getpid = out.samples[0]
    assert getpid.iterations > 0 and getpid.per_iter_ns == getpid.total_ns // getpid.iterations
    assert [e.name for e in out.extras] == ["pipe_throughput_MBps"]
    assert out.panic is None and not out.malformed


def test_cleaning_removes_cr_ansi_and_kernel_lines() -> None:
    lines = clean_console(read("kevlar-quick-with-skip.log"))
    assert all("\r" not in line and "\x1b" not in line for line in lines)
    assert "BENCH_START kevlar" in lines
    assert "[kevlar] booting kernel (profile=balanced)" in lines


def test_kevlar_protocol_with_skip_and_extra() -> None:
    out = parse_console(read("kevlar-quick-with-skip.log"))
    assert out.incomplete_reason() is None
    assert out.suite == "kevlar" and out.mode == "quick" and out.plan is None
    assert [s.name for s in out.samples] == ["getpid", "read_null", "pipe", "stat"]
    assert out.samples[0].total_ns == 1967955 and out.samples[0].per_iter_ns == 196
    assert [(k.name, k.reason) for k in out.skips] == [("fork_exit", "(fork failed at iter 3)")]
    assert out.extras[0].value == pytest.approx(3743.6)


def test_truncated_run_is_incomplete_but_keeps_samples() -> None:
    out = parse_console(read("truncated-mid-line.log"))
    assert out.incomplete_reason() == (
        "output ended before BENCH_END (last line cut off: 'BENCH open')"
    )
    assert [s.name for s in out.samples] == CORE[:5]
    # The line cut mid-write is reported as such, not parsed as a malformed record.
    assert out.cut_line == "BENCH open" and not out.malformed


def test_panic_is_named() -> None:
    out = parse_console(read("linux-init-exits-panic.log"))
    assert out.panic is not None and "Kernel panic - not syncing" in out.panic
    assert out.incomplete_reason().startswith("the guest kernel panicked")  # type: ignore[union-attr]


def test_half_protocol_reports_missing_benchmarks() -> None:
    out = parse_console(read("half-protocol-then-poweroff.log"))
    assert [s.name for s in out.samples] == ["getpid"]
    assert out.missing() == [(1, "read_null"), (1, "write_null")]
    assert out.incomplete_reason() == "output ended before BENCH_END"


def test_plan_shortfall_with_end_is_incomplete() -> None:
    out = parse(["BENCH_START ci_tools", "BENCH_PLAN 2 1 getpid", "BENCH_ROUND 1",
                 "BENCH getpid 10 3450 345", "BENCH_END"])  # fmt: skip
    assert out.incomplete_reason() == (
        "fewer results than BENCH_PLAN announced: missing getpid (round 2)"
    )


def test_garbage_is_not_a_run() -> None:
    out = parse_console(read("garbage-no-protocol.log"))
    assert not out.started and not out.samples
    assert "never started" in (out.incomplete_reason() or "")


def test_kernel_message_inside_a_bench_line_is_spliced_out() -> None:
    raw = "BENCH getpid 10000 19679[    2.500000] random: crng init done\r\n55 196\r\nBENCH_END\r\n"
    out = parse_console("BENCH_START x\n" + raw)
    assert [(s.name, s.total_ns) for s in out.samples] == [("getpid", 1967955)]
    assert out.ended and not out.malformed


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("BENCH getpid 10 abc 1", "integers"),
        ("BENCH getpid 0 0 0", "zero iterations"),
        ("BENCH_PLAN 1 3 getpid", "announces 3 benchmarks but names 1"),
        ("BENCH_FROB x", "unknown record type"),
        ("BENCH_EXTRA pipe fast", "number"),
    ],
)
def test_malformed_lines_are_kept_with_the_reason(line: str, why: str) -> None:
    out = parse(["BENCH_START s", line, "BENCH_END"])
    assert len(out.malformed) == 1 and why in out.malformed[0].why
    assert out.malformed[0].line_number == 2
    assert "malformed" in (out.incomplete_reason() or "")


def test_rounds_from_round_markers_and_from_repetition() -> None:
    marked = parse(["BENCH_START s", "BENCH_ROUND 1", "BENCH a 1 5 5", "BENCH_ROUND 2",
                    "BENCH a 1 6 6", "BENCH_END"])  # fmt: skip
    assert [s.round for s in marked.samples] == [1, 2]
    unmarked = parse(["BENCH_START kevlar", "BENCH a 1 5 5", "BENCH a 1 6 6", "BENCH_END"])
    assert [s.round for s in unmarked.samples] == [1, 2]


def test_record_after_end_and_before_start_are_flagged() -> None:
    out = parse(["BENCH a 1 5 5", "BENCH_START s", "BENCH_END", "BENCH b 1 5 5"])
    assert [m.why for m in out.malformed] == ["record before BENCH_START", "record after BENCH_END"]


def test_bench_error_line_makes_run_incomplete() -> None:
    out = parse(["BENCH_START s", "BENCH_ERROR unknown benchmark foo", "BENCH_END"])
    assert out.incomplete_reason() == "the bench binary reported an error: unknown benchmark foo"


def test_fixture_files_exist() -> None:
    assert sorted(p.name for p in Path(CONSOLE).iterdir()) == [
        "garbage-no-protocol.log", "half-protocol-then-poweroff.log",
        "kevlar-quick-with-skip.log", "linux-init-exits-panic.log",
        "linux-quick-complete.log", "truncated-mid-line.log",
    ]  # fmt: skip


def test_a_record_glued_to_other_output_is_split_out() -> None:
    # A getty prompt and the record share a line when both write to the serial port.
    out = parse(["BENCH_START s", "login: BENCH getpid 10 3450 345", "BENCH_END"])
    assert [(s.name, s.iterations, s.total_ns, s.per_iter_ns) for s in out.samples] == [
        ("getpid", 10, 3450, 345)
    ]
    assert not out.malformed and out.incomplete_reason() is None
    one_char = parse(["BENCH_START s", ">BENCH getpid 10 3450 345", "BENCH_END"])
    assert [s.name for s in one_char.samples] == ["getpid"] and not one_char.malformed


def test_a_negative_extra_is_a_number() -> None:
    out = parse(["BENCH_START s", "BENCH_EXTRA drift_ns -12.5", "BENCH_EXTRA big 1e-3",
                 "BENCH_END"])  # fmt: skip
    assert [(e.name, e.value) for e in out.extras] == [("drift_ns", -12.5), ("big", 0.001)]
    assert not out.malformed


@pytest.mark.parametrize(
    "record",
    ["BENCH a 1 5 5", "BENCH_EXTRA x 1", "BENCH_SKIP a why", "BENCH_ROUND 2",
     "BENCH_PLAN 1 1 a", "BENCH_MODE quick", "BENCH_ERROR late", "BENCH_END"],
)  # fmt: skip
def test_every_record_after_end_is_flagged_not_only_bench(record: str) -> None:
    out = parse(["BENCH_START s", "BENCH a 1 5 5", "BENCH_END", record])
    assert [(m.line_number, m.why) for m in out.malformed] == [(4, "record after BENCH_END")]
    assert [s.name for s in out.samples] == ["a"] and not out.extras and not out.skips


def test_a_new_bench_start_after_end_begins_a_run() -> None:
    out = parse(["BENCH_START s", "BENCH_END", "BENCH_START t", "BENCH a 1 5 5"])
    assert out.suite == "t" and not out.ended and not out.malformed


@pytest.mark.parametrize(
    "banner",
    [
        "panicked at src/main.rs:12:5:",
        "[kevlar] panicked at 'index out of bounds'",
        "Kernel panic - not syncing: VFS",
        "KERNEL PANIC: double fault",
        "PANIC: oops",
    ],
)
def test_panic_banners_are_recognised(banner: str) -> None:
    out = parse(["BENCH_START s", "BENCH a 1 5 5", banner])
    assert out.panic == banner
    assert (out.incomplete_reason() or "").startswith("the guest kernel panicked")


def test_text_that_only_mentions_panic_is_not_one() -> None:
    out = parse(["BENCH_START s", "no panic here; PANICS=0", "BENCH_END"])
    assert out.panic is None and out.incomplete_reason() is None


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("BENCH getpid 10 3450", "expected 'BENCH <name> <iters> <total_ns> <per_iter_ns>' with "
         "integers"),
        ("BENCH_START two words", "expected 'BENCH_START [suite]'"),
        ("BENCH_MODE", "expected 'BENCH_MODE <quick|full>'"),
        ("BENCH_PLAN 1 getpid", "expected 'BENCH_PLAN <rounds> <count> <name,name,...>'"),
        ("BENCH_ROUND one", "expected 'BENCH_ROUND <k>'"),
        ("BENCH_EXTRA pipe", "expected 'BENCH_EXTRA <name> <number>'"),
        ("BENCH_SKIP", "expected 'BENCH_SKIP <name> <reason>'"),
        ("BENCH_END now", "expected 'BENCH_END' alone on its line"),
        ("BENCH_EXTRA pipe 1e999", "the value is not a finite number"),
        ("BENCH getpid 0 0 0", "zero iterations"),
        ("BENCH_PLAN 1 2 getpid", "announces 2 benchmarks but names 1"),
        ("BENCH_START again", "second BENCH_START before BENCH_END"),
        ("BENCH_FROB x", "unknown record type BENCH_FROB"),
    ],
)  # fmt: skip
def test_each_malformed_record_says_what_was_expected(line: str, why: str) -> None:
    out = parse(["BENCH_START s", line, "BENCH_END"])
    assert [(m.line_number, m.text, m.why) for m in out.malformed] == [(2, line, why)]
    assert out.incomplete_reason() == (
        f"1 malformed BENCH line(s); first at console line 2: {line!r} ({why})"
    )
    assert not out.samples and not out.extras and out.plan is None and out.suite == "s"


def test_a_record_before_the_start_keeps_its_text() -> None:
    out = parse(["BENCH a 1 5 5", "BENCH_START s", "BENCH_END"])
    assert [(m.line_number, m.text) for m in out.malformed] == [(1, "BENCH a 1 5 5")]


def test_the_reason_names_the_first_five_missing_and_counts_the_rest() -> None:
    names = ["a", "b", "c", "d", "e", "f", "g"]
    out = parse(["BENCH_START s", f"BENCH_PLAN 1 7 {','.join(names)}", "BENCH_END"])
    assert out.incomplete_reason() == (
        "fewer results than BENCH_PLAN announced: missing a (round 1), b (round 1), "
        "c (round 1), d (round 1), e (round 1) and 2 more"
    )
    five = parse(["BENCH_START s", "BENCH_PLAN 1 5 a,b,c,d,e", "BENCH_END"])
    assert (five.incomplete_reason() or "").endswith("e (round 1)")
    errors = parse(["BENCH_START s", "BENCH_ERROR one", "BENCH_ERROR two ", "BENCH_END"])
    assert errors.incomplete_reason() == "the bench binary reported an error: one; two"


def test_skips_and_extras_count_rounds_by_repetition_and_follow_round_markers() -> None:
    out = parse(["BENCH_START kevlar", "BENCH_SKIP fork why", "BENCH_EXTRA mbps 1",
                 "BENCH_SKIP fork  again ", "BENCH_EXTRA mbps 2", "BENCH_SKIP stat",
                 "BENCH_ROUND 7", "BENCH_EXTRA mbps 3", "BENCH a 1 5 5", "BENCH_END"])  # fmt: skip
    assert [(s.name, s.round, s.reason) for s in out.skips] == [
        ("fork", 1, "why"), ("fork", 2, "again"), ("stat", 1, ""),
    ]  # fmt: skip
    assert [(e.round, e.value) for e in out.extras] == [(1, 1.0), (2, 2.0), (7, 3.0)]
    assert [(s.name, s.round) for s in out.samples] == [("a", 7)]


def test_lone_carriage_returns_split_lines_and_kernel_lines_stay_whole() -> None:
    assert clean_console("BENCH_START s\rBENCH a 1 5 5\r\nBENCH_END") == [
        "BENCH_START s", "BENCH a 1 5 5", "BENCH_END",
    ]  # fmt: skip
    # Two kernel messages cut one user-space line: both halves before them are kept.
    raw = "BENCH a[    1.0] one\nBENCH_b[    2.0] two\n 1 5 5\n"
    assert clean_console(raw) == ["[    1.0] one", "[    2.0] two", "BENCH aBENCH_b 1 5 5", ""]
    assert clean_console("BENCH a[    1.0] cut") == ["[    1.0] cut", "BENCH a"]


def test_only_a_last_line_without_newline_is_cut() -> None:
    assert parse_console("BENCH_START s\nBENCH_END\n").cut_line is None
    assert parse_console("BENCH_START s\nBENCH_END\r").cut_line is None
    cut = parse_console("BENCH_START s\nBENCH a 1")
    assert cut.cut_line == "BENCH a 1" and not cut.malformed
    assert parse_console("").cut_line is None and parse_console("x\n\n").cut_line is None
