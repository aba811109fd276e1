"""Acting as staff do on an action that cannot be undone: open its confirmation page, then press its button."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def confirmation_form(html: str) -> dict[str, str]:
    """The hidden fields of a confirmation page's form (its token and what the token is for), CSRF's left out."""
    [form] = [form for form in html.split("<form")[1:] if 'name="confirmation"' in form.split("</form>", 1)[0]]
    form = form.split("</form>", 1)[0]
    return {unescape(name): unescape(value) for name, value in HIDDEN.findall(form) if name != "csrf_token"}


def confirm(
    client: Any, url: str, reason: str = "as agreed with the team", query: dict[str, str] | None = None, **typed: str
) -> Any:
    """GET the confirmation page (what a staff page's button opens), then POST its form with a reason and what
    else was typed. A page that is not a confirmation page (a refusal) is the answer."""
    page = client.get(url, query_string=query or {})
    if page.status_code != 200 or 'name="confirmation"' not in page.text:
        return page
    return client.post(url, data={**confirmation_form(page.text), "reason": reason, **typed})
