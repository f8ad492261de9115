"""Compiler messages where people look: captured cargo and rustfmt output as fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_tools import output
from ci_tools.build import diagnostics

from conftest import FIXTURES

CARGO = FIXTURES / "cargo"
# The captured runs built a copy of the demo crate at /src/demo-kernel.
BASE = Path("/src")


def _run(name: str) -> diagnostics.CargoRun:
    return diagnostics.parse_cargo((CARGO / name).read_text(), base=BASE)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def test_error_is_parsed_with_file_line_and_code() -> None:
    run = _run("check-error.log")
    assert run.success is False
    (error,) = run.diagnostics
    assert error.level == "error" and error.code == "E0308"
    assert error.message == "mismatched types"
    assert (error.file, error.line, error.column) == ("demo-kernel/src/lib.rs", 72, 5)
    assert error.rendered.startswith("error[E0308]: mismatched types\n  --> src/lib.rs:72:5")
    assert run.counts() == "1 error, 0 warnings"


def test_transcript_is_what_cargo_prints_in_a_terminal() -> None:
    run = _run("check-error.log")
    assert not any(line.startswith("{") for line in run.transcript)
    text = "\n".join(run.transcript)
    assert "   Compiling core v0.0.0" in text
    assert "error[E0308]: mismatched types\n  --> src/lib.rs:72:5" in text
    assert "For more information about this error, try `rustc --explain E0308`." in text
    assert text.rstrip().endswith("due to 1 previous error")


def test_warning_does_not_fail() -> None:
    run = _run("check-warning.log")
    assert run.success is True
    (warning,) = run.diagnostics
    assert warning.level == "warning" and warning.message == "unused variable: `unused`"
    assert (warning.file, warning.line) == ("demo-kernel/src/lib.rs", 71)


def test_clippy_findings_under_deny_warnings_are_errors() -> None:
    run = _run("clippy-deny-warnings.log")
    assert [d.line for d in run.errors] == [55, 60, 65, 70]
    assert all("must_use" in d.message for d in run.errors)


def test_files_outside_the_base_keep_their_full_path() -> None:
    run = diagnostics.parse_cargo((CARGO / "check-error.log").read_text(), base=Path("/elsewhere"))
    assert run.diagnostics[0].file == "/src/demo-kernel/src/lib.rs"


def test_duplicates_for_two_targets_are_reported_once() -> None:
    line = next(ln for ln in (CARGO / "check-error.log").read_text().splitlines() if "E0308" in ln)
    run = diagnostics.parse_cargo(f"{line}\n{line}\n", base=BASE)
    assert len(run.diagnostics) == 1 and len(run.transcript) == 1


def test_terminal_shows_rendered_messages_and_no_workflow_commands(
    terminal: None, capsys: pytest.CaptureFixture[str]
) -> None:
    diagnostics.report("cargo check (ludicrous)", _run("check-error.log"), failed=True)
    err = capsys.readouterr().err
    assert "error[E0308]: mismatched types\n  --> src/lib.rs:72:5" in err
    assert "::error" not in err and "::group::" not in err


def test_github_annotation_names_file_and_line(
    github: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    diagnostics.report("cargo check (ludicrous)", _run("check-error.log"), failed=True)
    err = capsys.readouterr().err
    annotations = [line for line in err.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 1
    assert annotations[0].startswith(
        "::error file=demo-kernel/src/lib.rs,line=72,col=5,title=cargo check (ludicrous)::"
        "error[E0308]: mismatched types%0A  --> src/lib.rs:72:5%0A"
    )
    summary = github.read_text()
    assert "### ❌ cargo check (ludicrous): 1 error, 0 warnings" in summary
    assert "| error[E0308] | `demo-kernel/src/lib.rs:72:5` | mismatched types |" in summary


def _message(i: int) -> str:
    return json.dumps(
        {
            "reason": "compiler-message",
            "manifest_path": "/src/demo-kernel/Cargo.toml",
            "message": {
                "level": "warning",
                "message": f"unused variable: `v{i}`",
                "code": {"code": "unused_variables"},
                "rendered": f"warning: unused variable: `v{i}`\n --> src/lib.rs:{i}:9\n",
                "spans": [
                    {"file_name": "src/lib.rs", "line_start": i, "column_start": 9,
                     "is_primary": True}
                ],
            },
        }
    )  # fmt: skip


def test_annotations_are_capped_with_one_notice_and_all_go_to_the_summary(
    github: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "\n".join(_message(i) for i in range(1, 16))
        + '\n{"reason":"build-finished","success":true}\n'
    )
    run = diagnostics.parse_cargo(text, base=BASE)
    diagnostics.report("cargo check (fortress)", run, failed=False)
    err = capsys.readouterr().err.splitlines()
    assert sum(line.startswith("::warning ") for line in err) == output.ANNOTATION_CAP
    notices = [line for line in err if line.startswith("::notice ")]
    assert len(notices) == 1 and "5 more finding(s)" in notices[0]
    summary = github.read_text()
    assert summary.count("| warning[unused_variables] |") == 15
    assert "### ⚠️ cargo check (fortress): 0 errors, 15 warnings" in summary


def test_a_build_for_a_benchmark_shows_errors_not_warnings(
    github: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A kernel built for bench-<profile>: its warnings are clippy's business; the bench
    log says how many were left out and shows nothing of them (Kevlar: ~1,900 lines)."""
    text = "\n".join(_message(i) for i in range(1, 16))
    run = diagnostics.parse_cargo(text, base=BASE)
    diagnostics.report("cargo build (fortress)", run, failed=False, warnings=False)
    err = capsys.readouterr().err
    assert "unused variable" not in err and "::warning" not in err
    assert (
        "cargo build (fortress): 0 errors, 15 warnings (not shown here: clippy lists them)" in err
    )
    assert github.read_text() == ""  # nothing for the job summary from a clean bench build
    errors = diagnostics.parse_cargo((CARGO / "check-error.log").read_text(), base=BASE)
    diagnostics.report("cargo build (ludicrous)", errors, failed=True, warnings=False)
    failed = capsys.readouterr().err
    assert "error[E0308]: mismatched types" in failed and "::error file=" in failed


def test_annotation_text_is_escaped(github: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(_message(3))
    data["message"]["rendered"] = "warning: 100% sure\r\nsecond line"
    data["message"]["spans"][0]["file_name"] = "src/a,b:c.rs"
    run = diagnostics.parse_cargo(json.dumps(data), base=BASE)
    diagnostics.report("t", run, failed=False)
    line = next(ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("::warning"))
    assert "file=demo-kernel/src/a%2Cb%3Ac.rs," in line
    assert line.endswith("::warning: 100%25 sure%0D%0Asecond line")


# --------------------------------------------------------------------------
# rustfmt


def test_rustfmt_diffs_are_split_per_file() -> None:
    diffs, other = diagnostics.parse_rustfmt((CARGO / "fmt-check-diff.log").read_text(), base=BASE)
    assert other == []
    assert [(d.file, d.line) for d in diffs] == [
        ("demo-kernel/build.rs", 3),
        ("demo-kernel/src/lib.rs", 65),
    ]
    assert "-pub fn  ugly( x:u32)->u32{x+1}" in diffs[1].diff
    assert "+pub fn ugly(x: u32) -> u32 {" in diffs[1].diff


def test_older_rustfmt_header_and_colours() -> None:
    text = "\x1b[1mDiff in /src/k/src/main.rs at line 4:\x1b[0m\n-a\n+b\n"
    diffs, _ = diagnostics.parse_rustfmt(text, base=BASE)
    assert [(d.file, d.line, d.diff) for d in diffs] == [("k/src/main.rs", 4, "-a\n+b")]


FIX = "cargo fmt --manifest-path /src/demo-kernel/Cargo.toml --all"


def test_rustfmt_report_annotates_each_file(
    github: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    diffs, other = diagnostics.parse_rustfmt((CARGO / "fmt-check-diff.log").read_text(), base=BASE)
    diagnostics.report_format("cargo fmt --check", diffs, other, fix=FIX)
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("::error ")]
    assert [e.split("::")[1] for e in errors] == [
        "error file=demo-kernel/build.rs,line=3,title=cargo fmt --check",
        "error file=demo-kernel/src/lib.rs,line=65,title=cargo fmt --check",
    ]
    assert f"run `{FIX}`" in errors[0]
    summary = github.read_text()
    assert "### ❌ cargo fmt --check: 2 files to reformat" in summary
    assert "**`demo-kernel/src/lib.rs`**" in summary and "```diff" in summary
    assert f"Fix: `{FIX}`" in summary


def _unformatted(files: int, lines: int) -> str:
    """rustfmt --check output for ``files`` files, each with one diff of ``lines`` lines."""
    return "".join(
        f"Diff in /src/kernel/src/module_{i:03}.rs:7:\n"
        + "".join(f"-    let  x{j} = {j};\n+    let x{j} = {j};\n" for j in range(lines // 2))
        for i in range(files)
    )


def _names(files: int) -> list[str]:
    return [f"kernel/src/module_{i:03}.rs" for i in range(files)]


def test_many_unformatted_files_fit_the_summary_with_every_name(
    github: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Kevlar: 280 files, their diffs together over 1 MiB; the summary was empty."""
    diffs, other = diagnostics.parse_rustfmt(_unformatted(300, 200), base=BASE)
    assert sum(len(d.diff) for d in diffs) > output.SUMMARY_LIMIT
    diagnostics.report_format("cargo fmt --check", diffs, other, fix=FIX)
    summary = github.read_text()
    assert len(summary.encode()) <= output.SUMMARY_LIMIT
    assert "### ❌ cargo fmt --check: 300 files to reformat" in summary
    assert all(f"**`{name}`**" in summary for name in _names(300))
    assert "```diff\n@@ line 7 @@\n-    let  x0 = 0;" in summary  # each diff, cut short
    assert "more lines in the step's log" in summary
    assert f"Fix: `{FIX}`" in summary
    assert "result file" not in summary


def test_a_nearly_full_summary_still_gets_the_file_names(github: Path) -> None:
    github.write_text("x" * (output.SUMMARY_LIMIT - 30_000))
    diffs, other = diagnostics.parse_rustfmt(_unformatted(300, 40), base=BASE)
    diagnostics.report_format("cargo fmt --check", diffs, other, fix=FIX)
    added = github.read_text()[output.SUMMARY_LIMIT - 30_000 :]
    assert github.stat().st_size <= output.SUMMARY_LIMIT
    assert "300 files to reformat" in added and "The diffs are in the step's log" in added
    assert all(f"- `{name}`: 1 place, from line 7" in added for name in _names(300))
    assert "```diff" not in added and "result file" not in added


def test_file_names_are_cut_last_with_a_count() -> None:
    diffs, other = diagnostics.parse_rustfmt(_unformatted(300, 4), base=BASE)
    summary = diagnostics.format_summary("cargo fmt --check", diffs, other, fix=FIX, limit=4000)
    assert len(summary.encode()) <= 4000
    shown = [name for name in _names(300) if f"`{name}`" in summary]
    assert shown == _names(len(shown)) and 10 < len(shown) < 300
    assert summary.endswith(f"- … and {300 - len(shown)} more files\n")


def test_huge_compiler_output_keeps_the_table_and_names_no_result_file(github: Path) -> None:
    """Kevlar's clippy: hundreds of warnings whose rendered text exceeds the summary."""
    messages = []
    for i in range(1, 700):
        data = json.loads(_message(i))
        data["message"]["rendered"] += "   |\n" + "   | " + "x" * 2000 + "\n"
        messages.append(json.dumps(data))
    run = diagnostics.parse_cargo("\n".join(messages), base=BASE)
    diagnostics.report("cargo clippy (fortress)", run, failed=True)
    summary = github.read_text()
    assert len(summary.encode()) <= output.SUMMARY_LIMIT
    assert summary.count("| warning[unused_variables] |") == 699
    assert "compiler's full output is in the step's log" in summary
    assert "result file" not in summary
