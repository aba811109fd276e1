"""No staff input gives a 500 (issue 7, point 5): every staff route of the URL map, with its query string, its form
and its URL's parameters drawn by Hypothesis, signed in as a staff member of a role the route allows. Only 2xx, 3xx
and 4xx may come back.

The routes come from the URL map, and the fields each one takes from the staff pages themselves (every form that
sends to it, every link that leads to it, with the values they offer), so a new route or field is fuzzed without a
line here. Each route gets:
- a sweep: the form as its page fills it, with one field at a time set to each value of NASTY (`²`, NUL, a day
  past 9999-12-31, numbers past the database's integers, lone surrogates and bytes that are not UTF-8 as a script
  may send them, text past every cap), and each id in its URL past the database's integers;
- FUZZ_EXAMPLES drawn requests: arbitrary Unicode and bytes, numbers, fields missing, repeated or unknown; for the
  actions behind a confirmation page, some of them carry that page's valid token, so the action runs on them too.

Derandomized, so a run is repeatable: about 40 s on SQLite on this machine when it is idle. QUORUM_FUZZ_EXAMPLES=500
hunts longer, with a fresh seed each run.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_from_bytes, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask, url_for
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Rule

from app.admin.access import PUBLIC_STAFF_ENDPOINTS, session_values
from app.models import InstanceSetting, StaffUser

from .test_role_matrix import PARAMS, Rows, _rows, _staff

FUZZ_EXAMPLES = int(os.environ.get("QUORUM_FUZZ_EXAMPLES", "20"))

NASTY: list[bytes] = [
    "²".encode(),  # a digit to str.isdigit(), not to int()
    b"\x00",
    b"-1",
    b"99999999999999999999999",
    b"9999-12-31",
    b"0001-01-01T00:00+01:00",
    b"\xed\xa0\x80",  # a lone surrogate, as CESU-8 bytes
    b"\xff",  # not UTF-8 at all
    b"[" * 6_000,  # past every text's cap, and Markdown's worst
]
"""Values that broke a page once, or sit one step past a boundary."""
NASTY_IDS = [2**31, 2**63, 10**30]
"""Ids past PostgreSQL's integer, SQLite's and any machine word."""

texts = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.integers(min_value=-(2**70), max_value=2**70).map(lambda number: str(number).encode()),
    st.dates().map(lambda day: day.isoformat().encode()),
    st.binary(max_size=20),
)


def _encoded(pairs: list[tuple[bytes, bytes]]) -> str:
    """application/x-www-form-urlencoded (and a query string) from raw bytes, as any client may send them."""
    return "&".join(f"{quote_from_bytes(name)}={quote_from_bytes(value)}" for name, value in pairs)


# --- what the staff pages send to each route -------------------------------------------------------------------------


@dataclass
class Form:
    """The fields one form (or link) sends, each with the values the page offers, the first as the page fills it."""

    fields: dict[str, list[str]] = field(default_factory=dict)

    def offer(self, name: str, value: str) -> None:
        if name and name != "csrf_token":
            values = self.fields.setdefault(name, [])
            if value not in values:
                values.append(value)

    def filled(self) -> list[tuple[bytes, bytes]]:
        """As the page sends it: a choice at its first non-empty value (radios, selects), a text as it stands."""
        return [
            (name.encode(), next((v for v in values if v), values[0] if values else "").encode())
            for name, values in self.fields.items()
        ]


class FormReader(HTMLParser):
    """Every form of a page: where it goes, how, and its fields with the values they offer."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str | None, str, Form]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append((found.get("action"), found.get("method", "get").upper(), Form()))
        elif not self.forms:
            return
        elif tag == "input":
            self.forms[-1][2].offer(found.get("name", ""), found.get("value", ""))
        elif tag == "select":
            self._select = found.get("name", "")
        elif tag == "option" and self._select is not None:
            self.forms[-1][2].offer(self._select, found.get("value", ""))
        elif tag == "textarea":
            self._textarea = found.get("name", "")
            self.forms[-1][2].offer(self._textarea, "")
        elif tag == "button" and found.get("name"):
            self.forms[-1][2].offer(found["name"], found.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


LINK = re.compile(r'href="(/admin/[^"]*\?[^"]*)"')


def _forms_by_endpoint(client: FlaskClient, app: Flask, rows: Rows) -> dict[tuple[str, str], Form]:
    """Read every staff page as an admin sees it; (endpoint, method) -> the fields sent there, from every form and
    link that leads there."""
    adapter = app.url_map.bind("localhost")
    found: dict[tuple[str, str], Form] = {}

    def add(path: str, method: str, fields: list[tuple[str, str]]) -> None:
        try:
            endpoint, _arguments = adapter.match(urlsplit(path).path, method=method)
        except HTTPException:
            return
        form = found.setdefault((str(endpoint), method), Form())
        for name, value in fields:
            form.offer(name, value)

    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin.") or "GET" not in (rule.methods or ()):
            continue
        with app.test_request_context():
            url = url_for(rule.endpoint, **{name: PARAMS[name].value(rows) for name in rule.arguments})
        page = client.get(url)
        if page.mimetype != "text/html":
            continue
        html = page.get_data(as_text=True)
        reader = FormReader()
        reader.feed(html)
        for action, method, form in reader.forms:
            add(action or url, method, [(name, value) for name, values in form.fields.items() for value in values])
        for link in LINK.findall(html):
            add(link.replace("&amp;", "&"), "GET", parse_qsl(urlsplit(link.replace("&amp;", "&")).query))
    pager = found.setdefault(("admin.audit_log", "GET"), Form())
    pager.offer("before", "2")  # the pager shows on a long log only
    pager.offer("after", "1")
    for rule in app.url_map.iter_rules():  # `?page=²` once gave a 500: every page is asked for one
        if rule.endpoint.startswith("admin.") and "GET" in (rule.methods or ()):
            found.setdefault((rule.endpoint, "GET"), Form()).offer("page", "2")
    return found


# --- the run ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    rule: Rule
    method: str
    role: str


def _routes(app: Flask) -> list[Route]:
    """Every staff route and method, with the role to fuzz it as (an admin where admins may)."""
    routes = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith("admin."):
            continue
        allowed = getattr(app.view_functions[rule.endpoint], "allowed_roles", None)
        if allowed is None:
            assert rule.endpoint in PUBLIC_STAFF_ENDPOINTS, rule.endpoint
            allowed = frozenset({"admin"})
        role = "admin" if "admin" in allowed else sorted(allowed)[0]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append(Route(rule, method, role))
    return routes


def _restore(db: Any, users: dict[str, StaffUser]) -> None:
    """Undo what a drawn request may have switched that would turn the rest of the run into redirects: a second
    factor made mandatory, a fuzzing account deactivated or given another role."""
    db.session.rollback()
    db.session.execute(sa.delete(InstanceSetting))
    for role, user in users.items():
        db.session.execute(
            sa.update(StaffUser)
            .where(StaffUser.id == user.id)
            .values(active=True, role="organizer" if role == "outsider" else role, totp_secret=None)
        )
    db.session.commit()


def _sign_in(client: FlaskClient, db: Any, user_id: int) -> None:
    db.session.expire_all()
    user = db.session.get(StaffUser, user_id)
    with client.session_transaction() as session:
        session.clear()
        session.update(session_values(user))


def _confirmation_token(client: FlaskClient, url: str, form: list[tuple[bytes, bytes]]) -> bytes | None:
    """The token of the route's confirmation page, for what the drawn form asks (a status change's `status`)."""
    status = next((value.decode(errors="replace") for name, value in form if name == b"status"), None)
    page = client.get(url, query_string={"status": status} if status is not None else {})
    found = re.search(r'name="confirmation" value="([^"]+)"', page.get_data(as_text=True))
    return found.group(1).encode() if found else None


@pytest.fixture
def crashes(app: Flask) -> Iterator[list[str]]:
    """The exception behind each 500 (app.errors logs it), for the report."""
    seen: list[str] = []

    class Remember(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                seen.append(f"{type(error).__module__}.{type(error).__name__}: {error}"[:300])

    handler = Remember(logging.ERROR)
    app.logger.addHandler(handler)
    yield seen
    app.logger.removeHandler(handler)


@dataclass
class Fuzzing:
    app: Flask
    db: Any
    rows: Rows
    users: dict[str, StaffUser]
    forms: dict[tuple[str, str], Form]
    crashes: list[str]

    def route(self, route: Route) -> None:
        client = self.app.test_client()
        user_id = self.users[route.role].id
        valid = {name: PARAMS[name].value(self.rows) for name in route.rule.arguments}
        numbers = {
            name for name, converter in route.rule._converters.items() if isinstance(converter, IntegerConverter)
        }
        page_form = self.forms.get((route.rule.endpoint, route.method), Form())
        filled = page_form.filled()

        def argument(name: str) -> st.SearchStrategy[Any]:
            if name in numbers:
                wild: st.SearchStrategy[Any] = st.one_of(st.sampled_from(NASTY_IDS), st.integers(0, 2**70))
            else:
                wild = st.text(min_size=1, max_size=60)
            return st.one_of(st.just(valid[name]), st.just(valid[name]), wild)

        names = st.one_of(
            st.sampled_from(sorted(page_form.fields) or ["q"]).map(str.encode),
            st.sampled_from(sorted(page_form.fields) or ["q"]).map(str.encode),
            texts,
        )
        drawn_fields = st.one_of(st.lists(st.tuples(names, texts), max_size=12), st.just(filled))

        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            database=None,
            derandomize="QUORUM_FUZZ_EXAMPLES" not in os.environ,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            arguments=st.fixed_dictionaries({n: argument(n) for n in valid}), fields=drawn_fields, token=st.booleans()
        )
        def answered(arguments: dict[str, Any], fields: list[tuple[bytes, bytes]], token: bool) -> None:
            _restore(self.db, self.users)
            _sign_in(client, self.db, user_id)
            with self.app.test_request_context():
                url = url_for(route.rule.endpoint, **arguments)
            if route.method == "POST" and token and arguments == valid:
                found = _confirmation_token(client, url, fields)
                if found is not None:
                    fields = [(b"confirmation", found), *fields]
            self.crashes.clear()
            encoded = _encoded(fields)
            if route.method == "GET":
                response = client.get(f"{url}?{encoded}" if encoded else url)
            else:
                response = client.post(
                    url, data=encoded.encode("ascii"), content_type="application/x-www-form-urlencoded"
                )
            response.close()
            status = response.status_code
            assert status < 500, f"{route.method} {url} {encoded[:300]!r}: {status} {self.crashes}"

        # the sweep: the form as the page fills it, one field at a time set to each nasty value; then each id
        for position, (name, _value) in enumerate(filled):
            for nasty in NASTY:
                changed = [*filled[:position], (name, nasty), *filled[position + 1 :]]
                answered = example(arguments=valid, fields=changed, token=True)(answered)
        for name in numbers:
            for number in NASTY_IDS:
                answered = example(arguments={**valid, name: number}, fields=filled, token=False)(answered)
        answered()


@pytest.mark.slow  # about 40 s: `make test` runs it, the quick loop does not
def test_no_staff_input_gives_a_500(
    app: Flask, db: Any, client: FlaskClient, tmp_path: Path, crashes: list[str]
) -> None:  # noqa: E501
    rows = _rows(db, tmp_path)
    users = _staff(db, rows.initiative)
    routes = _routes(app)
    assert {"admin.quarantine_apply", "admin.audit_log", "admin.account_password"} <= {r.rule.endpoint for r in routes}
    _sign_in(client, db, users["admin"].id)
    forms = _forms_by_endpoint(client, app, rows)
    # read from the pages, not written here: the quarantine form's fields and choices, the status form, the sorting
    quarantine = forms["admin.quarantine_apply", "POST"].fields
    assert quarantine["email_mode"] == ["", "shared", "exact"] and "since" in quarantine and "reason" in quarantine
    assert "status" in forms["admin.initiative_status", "GET"].fields
    assert {"sort", "dir"} <= set(forms["admin.dashboard", "GET"].fields)
    fuzzing = Fuzzing(app, db, rows, users, forms, crashes)
    failures = []
    for route in routes:
        try:
            fuzzing.route(route)
        except (AssertionError, HypothesisException) as failure:
            failures.append(f"{route.method} {route.rule.rule} as {route.role}: {failure}")
    assert not failures, f"{len(failures)} staff routes answered 5xx:\n" + "\n\n".join(failures)


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("GET", "/admin/audit?action=%00", None),
        ("GET", "/admin/audit?ac%00tion=x", None),
        ("POST", "/admin/accounts/new", "email=a%40example.org&role=admin&initiatives=%00&password=x"),
        ("POST", "/admin/login", "email=a%00%40example.org&password=whatever"),
    ],
)
def test_a_nul_anywhere_is_refused_before_the_view(
    client: FlaskClient, db: Any, method: str, path: str, data: str | None
) -> None:  # noqa: E501
    """PostgreSQL refuses NUL in any text: the staff side answers 400 for it, whichever field carries it."""
    from ..support.factories import make_staff, sign_in_as

    sign_in_as(client, make_staff(db, "ada@example.org", "admin"))
    response = client.open(path, method=method, data=data, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and "NUL" in response.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StaffUser)) == 1
