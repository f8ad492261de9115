"""Gate: a pull request's benchmarks (``bench-pr``) and its one comment.

``measure``: the merge base (in a git worktree) and the head, every profile,
on one runner; ``manifest``: the artifact folder they leave; ``evaluate``:
that folder read again as untrusted input, compared and rendered;
``comment``: the PR comment made from it (or from a markdown file)."""
