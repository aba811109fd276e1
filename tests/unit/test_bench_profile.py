"""bench.flow's reading of py-spy's collapsed stacks: what a function costs with what it calls, and by package."""

from __future__ import annotations

from pathlib import Path

from bench.flow import ROOT, summarize_profile

SITE = "/venv/lib/python3.11/site-packages"


def test_inclusive_shares_and_self_time_by_package(tmp_path: Path) -> None:
    worker = f'process 12:"gunicorn: worker";handle_request ({SITE}/gunicorn/workers/sync.py)'
    view = f"Flask.dispatch_request ({SITE}/flask/app.py);sign_form ({ROOT}/app/signing/routes.py)"
    render = f"Template.render ({SITE}/jinja2/environment.py);root ({ROOT}/templates/signing/sign.html)"
    query = f"Session.scalar ({SITE}/sqlalchemy/orm/session.py)"
    raw = tmp_path / "profile.txt"
    raw.write_text(
        f"{worker};{view};{render} 50\n"
        f"{worker};{view};{query} 30\n"
        f"{worker};{view};json.dumps (/usr/lib/python3.11/json/__init__.py) 10\n"
        f"{worker} 10\n"
    )
    summary = summarize_profile(raw)
    assert summary["samples"] == 100
    top = dict(summary["top_inclusive"])
    # a view and what it calls: 90 of 100 samples; the frames every request passes through are left out
    assert top["sign_form (app/signing/routes.py)"] == 0.9
    assert top["Template.render (jinja2/environment.py)"] == 0.5
    assert top["root (templates/signing/sign.html)"] == 0.5
    assert top["Session.scalar (sqlalchemy/orm/session.py)"] == 0.3
    assert not any(label.startswith(("Flask.dispatch_request", "handle_request")) for label in top)
    assert dict(summary["self_by_package"]) == {
        "Quorum templates (compiled Jinja)": 0.5,
        "sqlalchemy": 0.3,
        "Python standard library": 0.1,
        "gunicorn": 0.1,
    }
