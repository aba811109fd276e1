"""Staff views: audit_views (being built)."""
