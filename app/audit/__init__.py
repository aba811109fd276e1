"""The tamper-evident audit log: one function records every staff action in a hash chain."""
