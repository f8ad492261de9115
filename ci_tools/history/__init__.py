"""The performance history of main: stored runs (``store``, ``record``), laid out as
series over commits (``series``), and the commits where a benchmark stepped (``changes``)."""
