"""Staff views: dashboard (being built)."""
