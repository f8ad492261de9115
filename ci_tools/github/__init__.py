"""GitHub: the REST API (api), what a workflow step knows (event), and the one
sticky pull-request comment (comment).

Job summaries, ``::group::`` blocks and annotations live in ``ci_tools.output``:
they are how ci_tools prints, not GitHub-only features."""
