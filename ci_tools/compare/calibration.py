"""Calibration: the drift between A/A runs of the same code, stored for ``compare``.

``ci_tools calibrate`` writes one from several runs of the same code;
``compare --calibration`` adds it to each benchmark's noise floor (wall-clock
mode needs one to report a regression at all).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ci_tools.compare import stats
from ci_tools.compare.inputs import check_compatible, per_boot
from ci_tools.errors import BadInputError
from ci_tools.results.model import Result

CALIBRATION_ALPHA = 0.05  # each end of the 90 % interval between two A/A runs


def load_calibration(path: Path, *, mode: str | None = None) -> dict[str, float]:
    """A stored noise floor per benchmark: ``{"noise_floor": {"getpid": 0.004, ...}}``.

    ``ci_tools calibrate`` writes one from A/A runs (see ``calibrate``).
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInputError(f"cannot read calibration {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{path}: invalid JSON: {exc.msg} (line {exc.lineno})") from exc
    floors = document.get("noise_floor") if isinstance(document, dict) else None
    if not isinstance(floors, dict) or not all(
        isinstance(k, str) and isinstance(v, (int, float)) and 0 <= v < 10
        for k, v in floors.items()
    ):
        raise BadInputError(
            f"{path}: not a calibration file",
            hint='expected {"noise_floor": {"<benchmark>": <relative change>, ...}}',
        )
    stored_mode = document.get("mode")
    if mode is not None and stored_mode is not None and stored_mode != mode:
        raise BadInputError(
            f"{path} calibrates {stored_mode} mode; these results are {mode} mode",
            hint="calibrate from A/A runs taken the way the compared results were",
        )
    return {k: float(v) for k, v in floors.items()}


def calibrate(runs: Sequence[Result], *, force: bool = False) -> dict[str, Any]:
    """A stored noise floor from A/A runs: several result files of the *same* code.

    For every pair of runs and every benchmark, the change between them is
    taken at the far end of its exact 90 % interval (``stats.shift_interval``;
    the largest pairwise change when the runs have too few boots for one),
    so the few runs a calibration has do not understate it, and the largest
    over all pairs is the benchmark's noise floor.  Unlike the A/A splits ``compare``
    makes inside one run, this sees what changes between runs: the
    machine's load in wall-clock mode, a rebuilt image's layout.
    """
    if len(runs) < 2:
        raise BadInputError("calibrate needs at least two result files of the same code")
    pairs = [(a, b) for i, a in enumerate(runs) for b in runs[i + 1 :]]
    check_compatible(pairs, force=force, action="calibrate from")
    floors: dict[str, float] = {}
    for a, b in pairs:
        for name in a.benchmark_names():
            sa, sb = per_boot(a, name), per_boot(b, name)
            if sa and sb:
                # exp|log ratio| - 1: the same number whichever run is called base.
                interval = stats.shift_interval(sa.values, sb.values, alpha=CALIBRATION_ALPHA)
                far = (
                    max(abs(interval.low), abs(interval.high))
                    if interval is not None
                    else stats.extreme_shift(sa.values, sb.values)
                )
                change = math.expm1(far)
                floors[name] = max(floors.get(name, 0.0), round(change, 4))
    return {
        "mode": runs[0].setup.mode,
        "runs": len(runs),
        "boots": [len(r.boots) for r in runs],
        "noise_floor": floors,
    }
