"""Compare: decide, per benchmark, regression, improvement, no change or
inconclusive, with sound statistics over whole tables; the cost of each
profile; calibrations of the noise between runs."""
