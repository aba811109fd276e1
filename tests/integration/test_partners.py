"""Partner organisations (issue 9, point 1): statements their links bring are counted for them, per member state,
in the confirming transaction; an address that asked for a partner's updates reaches the partner only sealed to its
key, and is deleted here as it is sealed. On SQLite and PostgreSQL.

After every test the suite recounts every counter from the statements, the partners' included (tests/conftest.py).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from nacl.public import PrivateKey, SealedBox
from nacl.signing import SigningKey

from app.audit.retention import purge
from app.dashboard import dashboard_data
from app.exports.keys import instance_signing_key
from app.exports.manifest import manifest_bytes, sign
from app.mail.delivery import deliver_due
from app.models import (
    AuditEntry,
    PartnerCountry,
    PartnerHandover,
    PartnerOptIn,
    StaffRole,
    Statement,
    utcnow,
    utctoday,
)
from app.partners import handovers
from app.partners.handovers import HandoverError, open_handover, verify_handover
from app.statements import counters, lifecycle
from app.statements import quarantine as quarantines

from ..support.factories import (
    confirm,
    confirm_link,
    make_initiative,
    make_staff,
    part_a,
    part_b,
    path_of,
    reconfigure,
    sign_in_as,
    submit,
)
from ..support.partners import make_partner

PESEL_2 = "02070803628"  # a second Polish signer (python-stdnum's documentation)


def _audit(db, action):  # type: ignore[no-untyped-def]
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _kept(db, partner):  # type: ignore[no-untyped-def]
    db.session.expire_all()
    rows = db.session.execute(
        sa.select(PartnerCountry.country_code, PartnerCountry.confirmed).where(PartnerCountry.partner_id == partner.id)
    )
    return {code: count for code, count in rows if count}


# --- attribution and the counters ----------------------------------------------------------------------------------


def test_a_partners_link_attributes_and_counts_once_confirmed(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    edri, _ = make_partner(initiative)
    other, _ = make_partner(initiative, "other-ngo", "Other NGO")

    page = client.get(f"/i/{initiative.slug}/sign?partner=eu-digital-rights").get_data(as_text=True)
    assert '<input type="hidden" name="partner" value="eu-digital-rights">' in page
    assert client.post(f"/i/{initiative.slug}/sign", data=part_b(partner="EU-Digital-Rights")).status_code == 303
    assert client.post(f"/i/{initiative.slug}/sign", data=part_a(partner="eu-digital-rights")).status_code == 303
    assert client.post(f"/i/{initiative.slug}/sign", data=part_a("FR", email="fr@example.org", partner="other-ngo"))
    # no partner, and a code the initiative does not have: counted for nobody, and the statement is still taken
    assert (
        client.post(f"/i/{initiative.slug}/sign", data=part_b(id_number=PESEL_2, email="b@example.org")).status_code
        == 303
    )
    assert (
        client.post(
            f"/i/{initiative.slug}/sign", data=part_a("DK", email="dk@example.org", partner="no-such-partner")
        ).status_code
        == 303
    )
    statements = db.session.scalars(sa.select(Statement)).all()
    by_country = {(s.country_code, s.partner_id) for s in statements}
    assert by_country == {("PL", edri.id), ("DE", edri.id), ("FR", other.id), ("PL", None), ("DK", None)}
    assert _kept(db, edri) == {} and _kept(db, other) == {}  # pending counts for no one yet

    for statement in statements:
        confirm(initiative, statement)
    db.session.commit()
    assert _kept(db, edri) == {"PL": 1, "DE": 1}
    assert _kept(db, other) == {"FR": 1}

    data = dashboard_data(initiative, utctoday())
    rows = {row.partner.code: (row.confirmed, row.countries) for row in data.partners}
    assert rows == {"eu-digital-rights": (2, [("DE", 1), ("PL", 1)]), "other-ngo": (1, [("FR", 1)])}
    assert data.without_partner == 2 and data.confirmed == 5


def test_confirming_twice_or_a_lapse_counts_a_partner_once(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    partner, _ = make_partner(initiative)
    first = submit(initiative, part_b(), partner_id=partner.id)
    second = submit(initiative, part_b(email="typo@example.org"), partner_id=partner.id)  # same person, new address
    a = db.session.get(Statement, first.statement_id)
    b = db.session.get(Statement, second.statement_id)
    confirm(initiative, a)
    confirm(initiative, a)
    confirm(initiative, b)  # lapses: the person counts once
    db.session.commit()
    assert _kept(db, partner) == {"PL": 1}


def test_quarantine_and_invalidation_move_the_partners_counters(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    partner, _ = make_partner(initiative)
    ids = []
    for data in (part_a(), part_b(), part_a("FR", email="fr@example.org")):
        outcome = submit(initiative, data, partner_id=partner.id)
        confirm(initiative, db.session.get(Statement, outcome.statement_id))
        ids.append(outcome.statement_id)
    db.session.commit()
    assert _kept(db, partner) == {"DE": 1, "PL": 1, "FR": 1}

    held, _tally = quarantines.apply(initiative, quarantines.Criteria(country="DE"), "burst from one network", "t")
    db.session.commit()
    assert _kept(db, partner) == {"PL": 1, "FR": 1}
    quarantines.release(initiative, held, "checked, genuine", "t")
    db.session.commit()
    assert _kept(db, partner) == {"DE": 1, "PL": 1, "FR": 1}

    assert lifecycle.invalidate(initiative, [ids[1]]) == {"PL": 1}
    db.session.commit()
    assert _kept(db, partner) == {"DE": 1, "FR": 1}
    assert counters.check(initiative).ok


@pytest.mark.counters_edited
def test_counters_check_recounts_the_partners_and_repairs_them(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    partner, _ = make_partner(initiative)
    confirm(initiative, db.session.get(Statement, submit(initiative, part_b(), partner_id=partner.id).statement_id))
    db.session.commit()
    db.session.execute(sa.update(PartnerCountry).values(confirmed=5))
    db.session.add(PartnerCountry(partner_id=partner.id, country_code="DE", confirmed=2))
    db.session.commit()

    report = counters.check(initiative)
    assert report.partners == {(partner.id, "DE"): (2, 0), (partner.id, "PL"): (5, 1)}
    assert f"{initiative.slug} partner {partner.id} PL confirmed: counter 5, recount 1 (-4)" in report.lines()
    counters.repair(report)
    db.session.commit()
    assert counters.check(initiative).ok
    assert db.session.scalars(sa.select(PartnerCountry.country_code)).all() == ["PL"]  # the zero row is gone


# --- the second box, and the hand-over -----------------------------------------------------------------------------


def test_the_partner_box_shows_only_with_a_partner(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    make_partner(initiative)
    plain = client.get(f"/i/{initiative.slug}/sign").get_data(as_text=True)
    assert "partner_updates_consent" not in plain and 'name="partner"' not in plain
    unknown = client.get(f"/i/{initiative.slug}/sign?partner=nobody").get_data(as_text=True)
    assert "partner_updates_consent" not in unknown
    page = client.get(f"/i/{initiative.slug}/sign?partner=eu-digital-rights").get_data(as_text=True)
    assert 'name="partner_updates_consent"' in page and "Send me updates from EU Digital Rights" in page
    assert 'name="updates_consent"' in page  # the campaign's own box stays, separate
    # the initiative page passes the partner on to its sign link
    assert f"/i/{initiative.slug}/sign?partner=eu-digital-rights" in client.get(
        f"/i/{initiative.slug}?partner=eu-digital-rights"
    ).get_data(as_text=True)


def test_a_partner_box_without_a_partner_keeps_nothing(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    make_partner(initiative)
    client.post(f"/i/{initiative.slug}/sign", data=part_b(partner_updates_consent="y"))
    client.post(f"/i/{initiative.slug}/sign", data=part_a(partner="nobody", partner_updates_consent="y"))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PartnerOptIn)) == 0


def _opt_in_and_confirm(client, smtp, initiative, data):  # type: ignore[no-untyped-def]
    assert client.post(f"/i/{initiative.slug}/sign", data=data).status_code == 303
    deliver_due(echo=lambda _line: None)
    [message] = smtp.to(data["email"])
    assert client.post(path_of(confirm_link(message))).status_code == 200


def test_hand_over_opens_only_with_the_partners_key(mail_app, client, smtp, db, tmp_path):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    partner, private = make_partner(initiative)
    other, other_private = make_partner(initiative, "other-ngo", "Other NGO")
    boxes = {"partner": "eu-digital-rights", "partner_updates_consent": "y"}
    _opt_in_and_confirm(client, smtp, initiative, part_b(**boxes))
    _opt_in_and_confirm(client, smtp, initiative, part_a(**boxes, updates_consent="y"))
    # ticked, never confirmed: not handed over
    client.post(f"/i/{initiative.slug}/sign", data=part_a("FR", email="unconfirmed@example.org", **boxes))
    # another partner's supporter
    _opt_in_and_confirm(
        client,
        smtp,
        initiative,
        part_b(id_number=PESEL_2, email="o@example.org", partner="other-ngo", partner_updates_consent="y"),
    )
    optins = db.session.scalars(sa.select(PartnerOptIn).order_by(PartnerOptIn.id)).all()
    assert [(o.partner_id, o.confirmed) for o in optins] == [
        (partner.id, True),
        (partner.id, True),
        (partner.id, False),
        (other.id, True),
    ]

    made = handovers.create_handover(
        initiative, partner, actor="org@example.org", now=utcnow(), signing_key=instance_signing_key(), instance="t"
    )
    db.session.commit()
    assert made.addresses == 2
    db.session.expire_all()
    rows = {o.email_fingerprint: o for o in db.session.scalars(sa.select(PartnerOptIn))}
    handed = [o for o in rows.values() if o.handover_id == made.id]
    assert len(handed) == 2 and all(o.email == "" and o.handed_over_at is not None for o in handed)
    assert {o.email for o in rows.values() if o.handover_id is None} == {"unconfirmed@example.org", "o@example.org"}
    [entry] = _audit(db, "partner.handover")
    assert json.loads(entry.details)["addresses"] == 2 and entry.actor == "org@example.org"
    assert b"agnieszka@example.org" not in made.sealed and b"zoe@example.org" not in made.sealed

    folder = tmp_path / "download"
    folder.mkdir()
    archive = folder / "handover.zip"
    archive.write_bytes(handovers.handover_zip(made, "h"))
    export_key = bytes(instance_signing_key().verify_key)

    out = open_handover(archive, private, tmp_path / "addresses.csv", export_key, "test")
    assert out.addresses == 2
    lines = (tmp_path / "addresses.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "email,language,opted_in_at"
    assert sorted(line.split(",")[0] for line in lines[1:]) == ["agnieszka@example.org", "zoe@example.org"]
    assert (tmp_path / "addresses.csv").stat().st_mode & 0o777 == 0o600

    with pytest.raises(HandoverError, match="not the key the addresses were sealed to"):
        open_handover(archive, other_private, tmp_path / "other.csv", export_key, "test")
    with pytest.raises(HandoverError, match="not the key the addresses were sealed to"):
        open_handover(archive, bytes(PrivateKey.generate()), tmp_path / "stranger.csv", export_key, "test")
    assert not (tmp_path / "other.csv").exists() and not (tmp_path / "stranger.csv").exists()

    # nothing more is waiting: a second hand-over refuses, and the other partner's address was not touched
    with pytest.raises(HandoverError):
        handovers.create_handover(
            initiative, partner, actor="t", now=utcnow(), signing_key=instance_signing_key(), instance="t"
        )


def test_a_hand_over_that_was_altered_or_re_signed_is_not_opened(app, db, tmp_path):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    partner, private = make_partner(initiative)
    outcome = submit(initiative, part_b(), partner_id=partner.id, partner_updates=True)
    confirm(initiative, db.session.get(Statement, outcome.statement_id))
    made = handovers.create_handover(
        initiative, partner, actor="t", now=utcnow(), signing_key=instance_signing_key(), instance="t"
    )
    db.session.commit()
    export_key = bytes(instance_signing_key().verify_key)
    good = tmp_path / "good.zip"
    good.write_bytes(handovers.handover_zip(made, "h"))
    assert verify_handover(good, export_key).ok

    def variant(name: str, manifest: bytes, sealed: bytes) -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("h/manifest.json", manifest)
            archive.writestr("h/addresses.sealed", sealed)
        return path

    # a genuine sealed line added, the count and hash edited to match, then signed with a key of the forger's own
    planted_line = SealedBox(PrivateKey(private).public_key).encrypt(b'{"email":"planted@example.org"}')
    planted = made.sealed + base64.b64encode(planted_line) + b"\n"
    edited = dict(json.loads(made.manifest), addresses=2, sha256=hashlib.sha256(planted).hexdigest())
    cases = {
        "planted.zip": variant("planted.zip", made.manifest, planted),
        "edited.zip": variant("edited.zip", manifest_bytes(edited), planted),
        "resigned.zip": variant("resigned.zip", manifest_bytes(sign(edited, SigningKey.generate())), planted),
        "truncated.zip": variant("truncated.zip", made.manifest, b""),
    }
    for name, path in cases.items():
        report = verify_handover(path, export_key)
        assert not report.ok, name
        with pytest.raises(HandoverError):
            open_handover(path, private, tmp_path / f"{name}.csv", export_key, "test")
        assert not (tmp_path / f"{name}.csv").exists()


def test_the_staff_hand_over_needs_its_confirmation_and_is_audited(client, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    partner, private = make_partner(initiative)
    keyless, _ = make_partner(initiative, "no-key", "No Key Yet", with_key=False)
    for data, who in ((part_b(), partner), (part_a(), keyless)):
        outcome = submit(initiative, data, partner_id=who.id, partner_updates=True)
        confirm(initiative, db.session.get(Statement, outcome.statement_id))
    db.session.commit()
    organizer = make_staff(db, "org@example.org", StaffRole.ORGANIZER, [initiative])
    sign_in_as(client, organizer)
    base = f"/admin/initiatives/{initiative.slug}/partners/{partner.id}"

    page = client.get(f"{base}/handover").get_data(as_text=True)
    assert "1 address that asked for updates from EU Digital Rights" in page and "cannot be undone" in page
    refused = client.post(f"{base}/handover", data={})
    assert refused.status_code == 422 and "Tick the box" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PartnerHandover)) == 0

    done = client.post(f"{base}/handover", data={"confirm": "y"})
    assert done.status_code == 302
    [made] = db.session.scalars(sa.select(PartnerHandover)).all()
    download = client.get(f"{base}/handovers/{made.id}.zip")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert download.headers["Cache-Control"] == "no-store"
    names = zipfile.ZipFile(io.BytesIO(download.data)).namelist()
    assert sorted(n.rsplit("/", 1)[1] for n in names) == ["addresses.sealed", "manifest.json"]
    [entry] = _audit(db, "partner.handover_download")
    assert entry.actor == "org@example.org" and json.loads(entry.details)["handover"] == made.id

    keyless_page = client.post(
        f"/admin/initiatives/{initiative.slug}/partners/{keyless.id}/handover", data={"confirm": "y"}
    )
    assert keyless_page.status_code == 409 and "public key first" in keyless_page.get_data(as_text=True)
    # a hand-over of another partner is not reachable under this one
    assert (
        client.get(f"/admin/initiatives/{initiative.slug}/partners/{keyless.id}/handovers/{made.id}.zip").status_code
        == 404
    )


def test_retention_deletes_a_hand_overs_file_after_30_days_and_unconfirmed_addresses_with_their_statement(app, db):  # type: ignore[no-untyped-def]
    initiative, _ = make_initiative()
    partner, _ = make_partner(initiative)
    confirmed = submit(initiative, part_b(), partner_id=partner.id, partner_updates=True)
    confirm(initiative, db.session.get(Statement, confirmed.statement_id))
    submit(initiative, part_a(), partner_id=partner.id, partner_updates=True)  # never confirmed
    made = handovers.create_handover(
        initiative, partner, actor="t", now=utcnow(), signing_key=instance_signing_key(), instance="t"
    )
    db.session.commit()
    week = app.config["CONFIRM_MAX_AGE"]

    soon = purge(now=utcnow() + timedelta(days=29), dry_run=True, confirm_max_age=week)
    assert soon.count(initiative.slug, "partner_handovers") == 0
    assert soon.count(initiative.slug, "partner_addresses") == 1  # the unconfirmed one, with its expired link
    later = purge(now=utcnow() + timedelta(days=31), confirm_max_age=week)
    db.session.commit()
    assert later.count(initiative.slug, "partner_handovers") == 1
    assert later.count(initiative.slug, "partner_addresses") == 1
    db.session.expire_all()
    kept = db.session.get(PartnerHandover, made.id)
    assert kept.sealed is None and kept.deleted_at is not None and kept.addresses == 1  # the record stays
    assert db.session.scalars(sa.select(PartnerOptIn.email)).all() == [""]  # the handed-over row, scrubbed


def test_the_partners_side_on_the_command_line(app, db, tmp_path):  # type: ignore[no-untyped-def]
    """keygen on the partner's computer, the public key entered for the partner, a hand-over, then verify and open."""
    from app.partners.organisations import parse_public_key

    runner = app.test_cli_runner()
    made_key = runner.invoke(args=["partners", "keygen", "--out", str(tmp_path / "partner.key")])
    assert made_key.exit_code == 0, made_key.output
    assert (tmp_path / "partner.key").stat().st_mode & 0o777 == 0o600
    public = parse_public_key(made_key.output.split("public key: ")[1].strip())
    again = runner.invoke(args=["partners", "keygen", "--out", str(tmp_path / "partner.key")])
    assert again.exit_code != 0 and "refusing to overwrite" in again.output

    initiative, _ = make_initiative()
    partner, _ = make_partner(initiative, with_key=False)
    partner.public_key = public
    outcome = submit(initiative, part_b(), partner_id=partner.id, partner_updates=True)
    confirm(initiative, db.session.get(Statement, outcome.statement_id))
    made = handovers.create_handover(
        initiative, partner, actor="t", now=utcnow(), signing_key=instance_signing_key(), instance="t"
    )
    db.session.commit()
    archive = tmp_path / "handover.zip"
    archive.write_bytes(handovers.handover_zip(made, "h"))
    key_file = tmp_path / "export-key.txt"
    key_file.write_text(app.test_client().get("/admin/export-key").get_data(as_text=True))

    verified = runner.invoke(args=["partners", "verify", str(archive), "--key-file", str(key_file)])
    assert verified.exit_code == 0 and "1 addresses for eu-digital-rights" in verified.output
    out = tmp_path / "addresses.csv"
    opened = runner.invoke(
        args=[
            "partners",
            "open",
            str(archive),
            "--key",
            str(tmp_path / "partner.key"),
            "--out",
            str(out),
            "--key-file",
            str(key_file),
        ]
    )
    assert opened.exit_code == 0, opened.output
    assert out.read_text(encoding="utf-8").splitlines()[1].startswith("agnieszka@example.org,en,")
    refused = runner.invoke(
        args=["partners", "open", str(archive), "--key", str(tmp_path / "partner.key"), "--out", str(out)]
    )
    assert refused.exit_code != 0 and "exists already" in refused.output

    other_key = tmp_path / "other-export-key.txt"
    other_key.write_text(f"hex: {bytes(SigningKey.generate().verify_key).hex()}\n")
    forged = runner.invoke(args=["partners", "verify", str(archive), "--key-file", str(other_key)])
    assert forged.exit_code != 0 and "not with the expected export key" in forged.output

    # on the partner's own machine there is no instance key: without --key-file nothing is trusted, not even the key
    # the hand-over names
    reconfigure(app, ENV_NAME="production", EXPORT_SIGNING_KEY="")
    untrusted = runner.invoke(args=["partners", "verify", str(archive)])
    assert untrusted.exit_code != 0 and "no trusted key: pass --key-file" in untrusted.output


def test_after_a_hand_over_the_address_is_nowhere_in_the_database(mail_app, client, smtp, db):  # type: ignore[no-untyped-def]
    """Only the partner_optin row held it, and the hand-over's transaction emptied it; on SQLite not even a page's
    free space or the write-ahead log keeps it (the raw file is read by another process, as test_privacy_at_rest
    does)."""
    from .test_privacy_at_rest import _files_as_they_are, _table_dumps

    initiative, _ = make_initiative()
    partner, _ = make_partner(initiative)
    address = "only.for.the.partner@example.org"
    _opt_in_and_confirm(
        client, smtp, initiative, part_b(email=address, partner="eu-digital-rights", partner_updates_consent="y")
    )
    holders = [table for table, text in _table_dumps().items() if address in text]
    assert holders == ["partner_optin"]
    sqlite = db.engine.dialect.name == "sqlite"
    if sqlite:
        assert address.encode() in _files_as_they_are()  # the reading would see it

    handovers.create_handover(
        initiative, partner, actor="t", now=utcnow(), signing_key=instance_signing_key(), instance="t"
    )
    db.session.commit()
    assert [table for table, text in _table_dumps().items() if address in text] == []
    if sqlite:
        assert address.encode() not in _files_as_they_are()
