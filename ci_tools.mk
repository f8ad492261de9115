# ci_tools.mk: old habits keep working.  Include it from a kernel's Makefile
#
#     include ci_tools.mk
#
# and `make check PROFILE=fortress`, `make bench PROFILE=balanced`,
# `make bench-all` and `make bench-compare BENCH_FILES="a.json b.json"` run
# the same nox sessions as CI, generated from ci_tools.toml.
#
# Its rules are check, clippy, fmt, lint, bench, bench-all and bench-compare.
# A Makefile that keeps rules of its own with those names sets a prefix
# before the include, and make has no two recipes for one target:
#
#     CI_TOOLS_MAKE_PREFIX := ci-
#     include ci_tools.mk        # make ci-check, make ci-bench PROFILE=..., ...
#
#   PROFILE       a profile of ci_tools.toml.  check and clippy take it only from
#                 the command line or the environment (`make check PROFILE=x`):
#                 a Makefile's own default (`PROFILE ?= balanced`) is no request,
#                 and `make check` without one checks every profile.  bench runs
#                 PROFILE whatever set it.
#   CI_TOOLS_PROFILE     the profile for check, clippy and bench, whatever PROFILE is
#   CI_TOOLS_MAKE_PREFIX put before the rule names (default: none); set it before
#                 the include
#   BENCH_ARGS    more arguments for the bench sessions, e.g. "--quick --boots 3"
#   BENCH_FILES   result files for bench-compare, the baseline first
#   NOX           how to run nox (default: python3 -m nox)
#   NOXFILE       the noxfile calling ci_tools.sessions.register() (default: noxfile.py)

NOX        ?= python3 -m nox
NOXFILE    ?= noxfile.py
BENCH_ARGS ?=
CI_TOOLS_MAKE_PREFIX ?=
_CI_TOOLS_NOX := $(NOX) --noxfile $(NOXFILE)
_CI_TOOLS_P := $(CI_TOOLS_MAKE_PREFIX)

# The profile asked for (expanded when a recipe runs, so definition order does
# not matter): CI_TOOLS_PROFILE, else PROFILE from the command line or the
# environment ($(origin) "command line", "environment" or "environment override").
_CI_TOOLS_ASKED = $(or $(CI_TOOLS_PROFILE),$(if \
    $(filter command environment,$(firstword $(origin PROFILE))),$(PROFILE)))
_CI_TOOLS_BENCH = $(or $(CI_TOOLS_PROFILE),$(PROFILE))

.PHONY: $(addprefix $(_CI_TOOLS_P),check clippy fmt lint bench bench-all bench-compare)

# One profile's check, or every profile's.
$(_CI_TOOLS_P)check:
	$(_CI_TOOLS_NOX) $(if $(_CI_TOOLS_ASKED),--session check-$(_CI_TOOLS_ASKED),--tags check)

# clippy with exactly the flags of the check (one profile, or the config's list).
$(_CI_TOOLS_P)clippy:
	$(_CI_TOOLS_NOX) --session clippy $(if $(_CI_TOOLS_ASKED),-- $(_CI_TOOLS_ASKED),)

$(_CI_TOOLS_P)fmt:
	$(_CI_TOOLS_NOX) --session fmt

$(_CI_TOOLS_P)lint:
	$(_CI_TOOLS_NOX) --session clippy fmt

$(_CI_TOOLS_P)bench:
	$(if $(_CI_TOOLS_BENCH),,$(error make $@ needs PROFILE=<profile>; `make $(_CI_TOOLS_P)bench-all` runs every profile))
	$(_CI_TOOLS_NOX) --session bench-$(_CI_TOOLS_BENCH) $(if $(strip $(BENCH_ARGS)),-- $(BENCH_ARGS),)

$(_CI_TOOLS_P)bench-all:
	$(_CI_TOOLS_NOX) --session bench-all $(if $(strip $(BENCH_ARGS)),-- $(BENCH_ARGS),)

$(_CI_TOOLS_P)bench-compare:
	$(if $(strip $(BENCH_FILES)),,$(error make $@ needs BENCH_FILES="base.json head.json"))
	$(_CI_TOOLS_NOX) --session compare -- $(BENCH_FILES)
