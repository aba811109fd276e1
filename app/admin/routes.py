"""Staff pages. Sign-in lives here; the rest of the staff side grows from it."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


@blueprint.get("/")
def index():  # type: ignore[no-untyped-def]
    return redirect(url_for("admin.login"))


@blueprint.get("/login")
def login() -> str:
    return render_template("admin/login.html")
