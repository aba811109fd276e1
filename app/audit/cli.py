"""`flask audit verify` and `flask retention purge` (to be built)."""

from flask.cli import AppGroup

audit_cli = AppGroup("audit", help="The tamper-evident audit log.")
retention_cli = AppGroup("retention", help="Deleting what the retention rules say is due.")
