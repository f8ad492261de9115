"""A run's first boots: what a side held at an earlier look of adaptive sampling.

``first_boots`` keeps a result's first ``n`` boots, so a decision taken at
that look can be replayed from the final files.  It returns a document that
``store.save`` validates, never edits its input, and keeps every sample of
the boots it keeps.  (Runs are joined by ``results.merge``.)
"""

from __future__ import annotations

import copy
from typing import Any

from ci_tools.errors import BadInputError
from ci_tools.results.model import Result

_COMPLETE = {"state": "complete", "kind": "complete", "reason": None}


def first_boots(result: Result, n: int) -> dict[str, Any]:
    """The result document of ``result``'s ``n`` lowest boot indices and their samples."""
    if n < 1:
        raise BadInputError(f"cannot keep {n} boots of a result: at least one is needed")
    keep = sorted(b["index"] for b in result.data["boots"])[:n]
    kept = set(keep)
    document = copy.deepcopy(dict(result.data))
    document["boots"] = [b for b in document["boots"] if b["index"] in kept]
    document["setup"]["boots"] = len(document["boots"])
    document["benchmarks"] = {
        name: {**bench, "samples": [s for s in bench["samples"] if s["boot"] in kept]}
        for name, bench in document["benchmarks"].items()
    }
    document["benchmarks"] = {k: v for k, v in document["benchmarks"].items() if v["samples"]}
    document["skipped"] = [s for s in document["skipped"] if s["boot"] in kept]
    document["extras"] = {
        name: [v for v in values if v["boot"] in kept]
        for name, values in document["extras"].items()
    }
    document["extras"] = {k: v for k, v in document["extras"].items() if v}
    if len(keep) < len(result.data["boots"]):
        # The status of these boots, not of the later ones left out.
        failed = [b["status"] for b in document["boots"] if b["status"]["state"] != "complete"]
        document["status"] = copy.deepcopy(failed[0]) if failed else dict(_COMPLETE)
    return document
