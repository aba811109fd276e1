"""Staff in Chromium: an organizer signs in and reads the dashboard; an auditor creates and downloads an export,
which verifies against the published key and opens with the auditor's private key."""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from app.admin.passwords import hash_password
from app.exports.keys import instance_verify_key
from app.exports.opening import open_export
from app.exports.verify import verify_export
from app.extensions import db
from app.models import StaffUser

from ..support.factories import PESEL, confirm, make_initiative, part_a, part_b, submit
from .server import LiveServer

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"


def _campaign(slug: str) -> tuple[bytes, str]:
    """An initiative with two confirmed statements (PL, DE) and one pending (PL), signed through the lifecycle."""
    initiative, private = make_initiative(slug)
    submit(initiative, part_b(email="a@example.org"))
    submit(initiative, part_a(first_names="Zoë", family_names="Müller", email="z@example.org"))
    db.session.commit()
    from app.models import Statement

    for statement in db.session.scalars(db.select(Statement)):
        confirm(initiative, statement)
    submit(
        initiative,
        part_b(first_names="Jan", family_names="Kowalski", id_number="02070803628", email="j@example.org"),
    )
    db.session.commit()
    return private, initiative.slug


def _staff(email: str, role: str, slug: str) -> None:
    from app.initiatives import find_initiative

    user = StaffUser(email=email, password_hash=hash_password(PASSWORD), role=role)
    user.initiatives.append(find_initiative(slug))
    db.session.add(user)
    db.session.commit()


def _sign_in(page: Page, live_server: LiveServer, email: str) -> None:
    page.goto(f"{live_server.url}/admin/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Initiatives")).to_be_visible()


def test_organizer_reads_the_dashboard(live_server: LiveServer, page: Page) -> None:
    _, slug = _campaign("staff-dashboard")
    _staff("olga@example.org", "organizer", slug)
    _sign_in(page, live_server, "olga@example.org")
    page.get_by_role("link", name=f"Dashboard {slug}").click()
    expect(page.locator("#total-confirmed")).to_have_attribute("data-value", "2")
    expect(page.locator("#total-pending")).to_have_attribute("data-value", "1")
    poland = page.locator("#countries-table tr", has_text="Poland")
    expect(poland.locator("td[data-col='confirmed']")).to_have_attribute("data-value", "1")
    expect(page.locator("svg").first).to_be_visible()
    # an organizer is not an auditor: no exports for them
    response = page.goto(f"{live_server.url}/admin/initiatives/{slug}/exports")
    assert response is not None and response.status == 403


def test_auditor_downloads_an_export_that_verifies_and_opens(
    live_server: LiveServer, new_context: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    private, slug = _campaign("staff-export")
    _staff("audrey@example.org", "auditor", slug)
    page = new_context(accept_downloads=True).new_page()
    _sign_in(page, live_server, "audrey@example.org")
    page.get_by_role("link", name=f"Exports {slug}").click()
    page.get_by_role("button", name="Create export").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download .zip").first.click()
    archive = tmp_path / "export.zip"
    download_info.value.save_as(archive)

    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(unpacked)
    [folder] = [p for p in unpacked.iterdir() if p.is_dir()] or [unpacked]
    with live_server.app.app_context():
        published = instance_verify_key()
    report = verify_export(folder, published, "the instance's published key")
    assert report.ok, report.problems
    assert {code: entry["count"] for code, entry in report.manifest["countries"].items()} == {"DE": 1, "PL": 1}

    opened = tmp_path / "opened"
    open_export(folder, private, opened, published, "the instance's published key")
    with (opened / "PL.csv").open(encoding="utf-8", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert (row["family_names"], row["id_number"], row["country"]) == ("Wiśniewska", PESEL, "PL")
    with (opened / "DE.csv").open(encoding="utf-8", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert (row["first_names"], row["date_of_birth"], row["postal_code"]) == ("Zoë", "1980-02-29", "10115")
