"""Staff sign-in and sign-out (to be completed: argon2, rate limit on failures, TOTP)."""

from __future__ import annotations

from flask import redirect, render_template, url_for

from .access import staff_required
from .routes import blueprint


@blueprint.get("/login")
def login() -> str:
    return render_template("admin/login.html")


@blueprint.get("/")
@staff_required()
def index():  # type: ignore[no-untyped-def]
    return redirect(url_for("admin.login"))
