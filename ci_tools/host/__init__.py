"""The machine: install what a run needs, and say what this machine can do."""
