"""Test support: real servers (PostgreSQL cluster, SMTP) and small factories."""
