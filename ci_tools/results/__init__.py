"""Results: the typed result document (model) and result files on disk (store)."""
