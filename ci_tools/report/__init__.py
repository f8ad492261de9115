"""Report: tables for people, in a terminal, the job summary and the PR comment.

``tables``: a comparison (regressions first, trimmed to a size), Kevlar's
side-by-side layout, the cost of each profile; ``run``: one run's medians."""
