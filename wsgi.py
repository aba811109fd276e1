"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`.

Without QUORUM_ENV, a `flask` command (and so `make run`) is development, as CONTRACT.md says; anything else that
loads this module is a WSGI server, and a server is production: a forgotten variable must not give a public
server generated secrets and auditor keys on disk. Production then refuses to start without its secrets.
"""

import os

from app import create_app

# Flask's command line sets FLASK_RUN_FROM_CLI before it imports the app (flask.cli.FlaskGroup.make_context).
_FROM_FLASK_CLI = os.environ.get("FLASK_RUN_FROM_CLI") == "true"

app = create_app(None if os.environ.get("QUORUM_ENV") or _FROM_FLASK_CLI else "production")
