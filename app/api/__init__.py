"""Public counts as JSON (CONTRACT.md, "Public counts, as JSON")."""
