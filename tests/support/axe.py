"""axe-core in a Playwright page: the engine ships inside the `axe-playwright-python` wheel (pinned in
requirements.txt), so nothing is fetched from the network and the page's CSP is not involved."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

# axe-core's tags (its "Rule descriptions"): the success criteria of WCAG 2.0 and 2.1 at levels A and AA, and axe's
# best practices, which hold what WCAG leaves to judgement: landmarks named apart, headings in order, one <h1>.
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
TAGS = [*WCAG_21_AA, "best-practice"]
OPTIONS = {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}

# Content behind a closed disclosure is skipped by axe as hidden: open the language switch, so its 24 links (their
# names, `lang` and `hreflang`) are checked too.
OPEN_DISCLOSURES = "document.querySelectorAll('details').forEach(d => { d.open = true; })"
DUPLICATE_IDS = """() => {
  const seen = {};
  document.querySelectorAll('[id]').forEach(e => { seen[e.id] = (seen[e.id] || 0) + 1; });
  return Object.keys(seen).filter(id => seen[id] > 1);
}"""

_axe = Axe()


def violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations on the page as it stands (after its scripts ran, in its viewport), disclosures opened."""
    page.evaluate(OPEN_DISCLOSURES)
    return list(_axe.run(page, options=OPTIONS).response["violations"])


def duplicate_ids(page: Page) -> list[str]:
    """An id twice on one page breaks `for=`, `aria-describedby` and in-page links (WCAG 4.1.1 in 2.1); axe-core 4.8
    and later no longer report it, so it is counted here."""
    return list(page.evaluate(DUPLICATE_IDS))


def describe(found: list[dict[str, Any]]) -> str:
    """One line per rule and element: the rule, its impact, the element's selector and its first bit of markup."""
    lines = []
    for violation in found:
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            lines.append(f"  {violation['id']} ({violation['impact']}): {target}: {node['html'][:160]}")
    return "\n".join(lines)
