"""Staff views: quarantine (being built)."""
