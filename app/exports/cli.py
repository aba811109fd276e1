"""`flask export create|verify|open` (to be built)."""

from flask.cli import AppGroup

export_cli = AppGroup("export", help="Sealed per-country exports with a signed manifest.")
