"""Verifiable exports: sealed per-country files and a signed manifest."""
