# ci_tools.mk: old habits keep working.  Include it from a kernel's Makefile
#
#     include ci_tools.mk        # (after PROFILE ?= ... if you set a default)
#
# and `make check PROFILE=fortress`, `make bench PROFILE=balanced`,
# `make bench-all` and `make bench-compare BENCH_FILES="a.json b.json"` run
# the same nox sessions as CI, generated from ci_tools.toml.  Remove your own
# rules of the same names (check, clippy, fmt, lint, bench, bench-all,
# bench-compare); make warns about each one left.
#
#   PROFILE       a profile of ci_tools.toml; `make check`/`make clippy` without
#                 one runs every profile
#   BENCH_ARGS    more arguments for the bench sessions, e.g. "--quick --boots 3"
#   BENCH_FILES   result files for bench-compare, the baseline first
#   NOX           how to run nox (default: python3 -m nox)
#   NOXFILE       the noxfile calling ci_tools.sessions.register() (default: noxfile.py)

NOX        ?= python3 -m nox
NOXFILE    ?= noxfile.py
BENCH_ARGS ?=
_CI_TOOLS_NOX := $(NOX) --noxfile $(NOXFILE)

.PHONY: check clippy fmt lint bench bench-all bench-compare

# One profile's check, or every profile's.
check:
	$(_CI_TOOLS_NOX) $(if $(PROFILE),--session check-$(PROFILE),--tags check)

# clippy with exactly the flags of the check (one profile, or the config's list).
clippy:
	$(_CI_TOOLS_NOX) --session clippy $(if $(PROFILE),-- $(PROFILE),)

fmt:
	$(_CI_TOOLS_NOX) --session fmt

lint:
	$(_CI_TOOLS_NOX) --session clippy fmt

bench:
	$(if $(PROFILE),,$(error make bench needs PROFILE=<profile>; `make bench-all` runs every profile))
	$(_CI_TOOLS_NOX) --session bench-$(PROFILE) $(if $(strip $(BENCH_ARGS)),-- $(BENCH_ARGS),)

bench-all:
	$(_CI_TOOLS_NOX) --session bench-all $(if $(strip $(BENCH_ARGS)),-- $(BENCH_ARGS),)

bench-compare:
	$(if $(strip $(BENCH_FILES)),,$(error make bench-compare needs BENCH_FILES="base.json head.json"))
	$(_CI_TOOLS_NOX) --session compare -- $(BENCH_FILES)
