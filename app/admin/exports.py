"""Staff views: exports (being built)."""
