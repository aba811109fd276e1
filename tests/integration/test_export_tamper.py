"""Every way an export can be altered makes `export verify` fail saying what is wrong, and `export open` write
nothing. The files, not the database, are under test: SQLite is enough."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from app.exports.keys import instance_signing_key
from app.exports.manifest import fingerprint, manifest_bytes, sha256_hex, sign
from app.models import Statement
from app.sealing import generate_key_pair, seal, write_private_key

from ..support.factories import make_initiative, sync_counters

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _cli(app, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=list(args), input=input)


@pytest.fixture
def export(app, db, tmp_path: Path) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """A fresh export: DE with 3 statements, PL with 2, FR with 1; and the auditor's private key file."""
    initiative, private = make_initiative()
    start = datetime(2026, 3, 1, 9, 0, 0)
    number = 0
    for country, count in (("DE", 3), ("PL", 2), ("FR", 1)):
        for _ in range(count):
            number += 1
            db.session.add(
                Statement(
                    initiative_id=initiative.id,
                    country_code=country,
                    status="confirmed",
                    identity_fingerprint=f"identity-{number}",
                    email_fingerprint=f"email-{number}",
                    sealed_data=seal(
                        initiative.auditor_public_key, {"first_names": f"Person {number}", "family_names": "Tester"}
                    ),
                    confirmed_at=start + timedelta(minutes=number),
                )
            )
    db.session.commit()
    sync_counters(initiative)
    out = tmp_path / "export"
    result = _cli(app, "export", "create", "--initiative", initiative.slug, "--out", str(out))
    assert result.exit_code == 0, result.output
    key_file = tmp_path / "auditor.key"
    write_private_key(key_file, private)
    return {"dir": out, "key": key_file, "opened": tmp_path / "opened", "root": tmp_path}


def _manifest(folder: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / "manifest.json").read_text())


def _write_manifest(folder: Path, manifest: dict) -> None:  # type: ignore[type-arg]
    (folder / "manifest.json").write_bytes(manifest_bytes(manifest))


def _flip_byte(folder: Path) -> None:
    path = folder / "DE.sealed"
    data = bytearray(path.read_bytes())
    position = data.index(b'"sealed":"') + 20
    data[position] = ord("A") if data[position] != ord("A") else ord("B")  # still base64: only the hash can tell
    path.write_bytes(bytes(data))


def _delete_line(folder: Path) -> None:
    path = folder / "DE.sealed"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:1] + lines[2:]))


def _add_line(folder: Path) -> None:
    path = folder / "PL.sealed"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines, lines[0]]))


def _swap_files(folder: Path) -> None:
    de, pl = folder / "DE.sealed", folder / "PL.sealed"
    de_bytes = de.read_bytes()
    de.write_bytes(pl.read_bytes())
    pl.write_bytes(de_bytes)


def _edit_count(folder: Path) -> None:
    manifest = _manifest(folder)
    manifest["countries"]["DE"]["count"] = 4
    manifest["totals"]["statements"] = 7
    _write_manifest(folder, manifest)


def _replace_signature(folder: Path) -> None:
    manifest = _manifest(folder)
    forged = sign(manifest, SigningKey.generate())
    manifest["signature"] = forged["signature"]  # a valid signature, by another key, over the same content
    _write_manifest(folder, manifest)


def _resign_with_other_key(folder: Path) -> None:
    """The forger drops a line, fixes count and hash, and re-signs with a key of their own (put in the manifest)."""
    _delete_line(folder)
    manifest = _manifest(folder)
    manifest["countries"]["DE"]["count"] = 2
    manifest["countries"]["DE"]["sha256"] = sha256_hex((folder / "DE.sealed").read_bytes())
    manifest["totals"]["statements"] = 5
    _write_manifest(folder, sign(manifest, SigningKey.generate()))


def _extra_file(folder: Path) -> None:
    (folder / "IT.sealed").write_bytes((folder / "FR.sealed").read_bytes())


def _missing_file(folder: Path) -> None:
    (folder / "FR.sealed").unlink()


def _missing_manifest(folder: Path) -> None:
    (folder / "manifest.json").unlink()


def _truncated(folder: Path) -> None:
    path = folder / "PL.sealed"
    path.write_bytes(path.read_bytes()[:-10])  # cut mid-record, as a full disk would


CASES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "flipped byte": (_flip_byte, ["DE.sealed: SHA-256 is", "(the file was changed or replaced)"]),
    "deleted line": (
        _delete_line,
        ["DE.sealed: holds 2 records, the manifest says 3 (records were removed)", "DE.sealed: SHA-256 is"],
    ),
    "added line": (
        _add_line,
        ["PL.sealed: holds 3 records, the manifest says 2 (records were added)", "PL.sealed: SHA-256 is"],
    ),
    "swapped files": (
        _swap_files,
        [
            "DE.sealed: line 1 holds a statement of PL, not of DE",
            "PL.sealed: line 1 holds a statement of DE, not of PL",
            "(it is the file the manifest lists as PL.sealed)",
            "(it is the file the manifest lists as DE.sealed)",
            "DE.sealed: holds 2 records, the manifest says 3",
        ],
    ),
    "edited count": (
        _edit_count,
        [
            "the signature does not match the manifest",
            "DE.sealed: holds 3 records, the manifest says 4 (records were removed)",
        ],
    ),
    "replaced signature": (_replace_signature, ["the signature does not match the manifest"]),
    "re-signed with another key": (
        _resign_with_other_key,
        ["not with the expected export key", "re-signed by someone else"],
    ),
    "extra file": (_extra_file, ["IT.sealed: not listed in the manifest (an extra file)"]),
    "missing file": (_missing_file, ["FR.sealed: listed in the manifest but missing"]),
    "missing manifest": (_missing_manifest, ["manifest.json is missing"]),
    "truncated file": (_truncated, ["PL.sealed: line 2 is not a JSON record", "PL.sealed: the last line is cut short"]),
}


def test_untouched_export_verifies(app, export):  # type: ignore[no-untyped-def]
    result = _cli(app, "export", "verify", str(export["dir"]))
    assert result.exit_code == 0, result.output
    assert "problem" not in result.output


@pytest.mark.parametrize("case", list(CASES))
def test_tampering_fails_verify_and_open_writes_nothing(app, export, case: str):  # type: ignore[no-untyped-def]
    tamper, messages = CASES[case]
    tamper(export["dir"])
    result = _cli(app, "export", "verify", str(export["dir"]))
    assert result.exit_code != 0
    for message in messages:
        assert message in result.output, result.output
    assert "failed verification" in result.output

    opened = _cli(
        app, "export", "open", str(export["dir"]), "--key", str(export["key"]), "--out", str(export["opened"])
    )
    assert opened.exit_code != 0
    assert "nothing was written" in opened.output
    assert not export["opened"].exists()
    assert sorted(p.name for p in export["root"].iterdir()) == ["auditor.key", "export"]  # no temporary folder


def test_resigned_export_fails_against_the_published_key_file(app, client, export):  # type: ignore[no-untyped-def]
    published = export["root"] / "published.key"
    published.write_bytes(client.get("/admin/export-key").get_data())
    assert _cli(app, "export", "verify", str(export["dir"]), "--key-file", str(published)).exit_code == 0

    _resign_with_other_key(export["dir"])
    # the manifest is consistent with itself: only the known key exposes the forgery
    result = _cli(app, "export", "verify", str(export["dir"]), "--key-file", str(published))
    assert result.exit_code != 0
    assert f"from {published}" in result.output and "re-signed by someone else" in result.output


def test_key_file_that_is_not_a_key_is_refused(app, export):  # type: ignore[no-untyped-def]
    bad = export["root"] / "bad.key"
    bad.write_text("hello there\n")
    result = _cli(app, "export", "verify", str(export["dir"]), "--key-file", str(bad))
    assert result.exit_code != 0 and "cannot read the export verify key" in result.output


def test_wrong_private_key_fails_cleanly(app, export):  # type: ignore[no-untyped-def]
    wrong = export["root"] / "wrong.key"
    write_private_key(wrong, generate_key_pair()[0])
    result = _cli(app, "export", "open", str(export["dir"]), "--key", str(wrong), "--out", str(export["opened"]))
    assert result.exit_code != 0
    assert "is not the auditor key the statements were sealed to" in result.output
    assert "nothing was written" in result.output
    assert "Traceback" not in result.output
    assert not export["opened"].exists()

    garbage = export["root"] / "garbage.key"
    garbage.write_text("not a key\n")
    result = _cli(app, "export", "open", str(export["dir"]), "--key", str(garbage), "--out", str(export["opened"]))
    assert result.exit_code != 0 and "cannot read the private key" in result.output
    assert not export["opened"].exists()


def test_record_that_does_not_open_leaves_nothing_half_written(app, export):  # type: ignore[no-untyped-def]
    """Signed by the instance itself, yet one blob in the last file is not sealed to the auditor's key: the
    CSVs already written for the files before it must not survive."""
    folder = export["dir"]
    path = folder / "PL.sealed"
    lines = path.read_bytes().splitlines(keepends=True)
    record = json.loads(lines[1])
    record["sealed"] = base64.b64encode(seal(generate_key_pair()[1], {"first_names": "Mallory"})).decode()
    lines[1] = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
    path.write_bytes(b"".join(lines))
    manifest = _manifest(folder)
    manifest["countries"]["PL"]["sha256"] = sha256_hex(path.read_bytes())
    _write_manifest(folder, sign(manifest, instance_signing_key()))
    assert _cli(app, "export", "verify", str(folder)).exit_code == 0

    target = export["opened"]
    target.mkdir()  # an empty folder is allowed, and must stay empty
    result = _cli(app, "export", "open", str(folder), "--key", str(export["key"]), "--out", str(target))
    assert result.exit_code != 0
    assert "PL.sealed: line 2 cannot be opened with this private key" in result.output
    assert list(target.iterdir()) == []
    assert sorted(p.name for p in export["root"].iterdir()) == ["auditor.key", "export", "opened"]


def test_open_refuses_a_folder_that_is_not_empty(app, export):  # type: ignore[no-untyped-def]
    target = export["opened"]
    target.mkdir()
    (target / "DE.csv").write_text("old\n")
    result = _cli(app, "export", "open", str(export["dir"]), "--key", str(export["key"]), "--out", str(target))
    assert result.exit_code != 0 and "is not empty" in result.output
    assert (target / "DE.csv").read_text() == "old\n"
    opened = _cli(
        app, "export", "open", str(export["dir"]), "--key", str(export["key"]), "--out", str(export["root"] / "fresh")
    )
    assert opened.exit_code == 0, opened.output
    assert sorted(p.name for p in (export["root"] / "fresh").iterdir()) == ["DE.csv", "FR.csv", "PL.csv"]


# --- fail closed: the auditor's own machine, which holds no EXPORT_SIGNING_KEY (issue 7, point 2) -------------------


@dataclass(frozen=True)
class Laptop:
    pins: Path  # where this machine keeps its pinned keys
    published: Path  # the key the server publishes at /admin/export-key, fetched by the auditor
    fingerprint: str  # as the server publishes it


@pytest.fixture
def laptop(app, client, export, monkeypatch, tmp_path: Path) -> Laptop:  # type: ignore[no-untyped-def]
    """This process as the auditor's own machine, after the export was made and the published key fetched: no
    EXPORT_SIGNING_KEY, an instance folder of its own, pins in a file of the test's."""
    published = tmp_path / "published-export-key.txt"
    published.write_bytes(client.get("/admin/export-key").get_data())
    fingerprint = published.read_text().split("fingerprint: ")[1].split()[0]
    pins = tmp_path / "laptop-config" / "export-keys"
    monkeypatch.setenv("QUORUM_INSTANCE", str(tmp_path / "laptop"))
    monkeypatch.setenv("QUORUM_EXPORT_PINS", str(pins))
    app.config["EXPORT_SIGNING_KEY"] = ""
    from app.exports.keys import instance_verify_key

    assert instance_verify_key() is None
    return Laptop(pins, published, fingerprint)


def _resign_fresh(folder: Path) -> None:
    """The whole manifest re-signed with a key the forger made, nothing else changed."""
    _write_manifest(folder, sign(_manifest(folder), SigningKey.generate()))


INVENTED = ("Invented Person", "Mallory Forger")


def _invent_people(folder: Path) -> None:
    """Statements nobody signed, sealed to the auditor's real public key (it is in the manifest), counts and hashes
    fixed, the manifest re-signed with the forger's key."""
    manifest = _manifest(folder)
    auditor_public = bytes.fromhex(manifest["auditor_public_key"])
    path = folder / "DE.sealed"
    lines = path.read_bytes().splitlines(keepends=True)
    for number, name in enumerate(INVENTED):
        record = {
            "confirmed_at": f"2026-03-02T10:0{number}:00Z",
            "country": "DE",
            "id": f"00000000-0000-4000-8000-00000000000{number}",
            "sealed": base64.b64encode(seal(auditor_public, {"first_names": name, "family_names": "X"})).decode(),
        }
        lines.append((json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode())
    path.write_bytes(b"".join(lines))
    manifest["countries"]["DE"]["count"] += len(INVENTED)
    manifest["countries"]["DE"]["sha256"] = sha256_hex(path.read_bytes())
    manifest["totals"]["statements"] += len(INVENTED)
    _write_manifest(folder, sign(manifest, SigningKey.generate()))


FORGERIES: dict[str, Callable[[Path], None]] = {
    "lines deleted, re-signed": _resign_with_other_key,
    "invented people sealed to the auditor, re-signed": _invent_people,
    "manifest re-signed with a fresh key": _resign_fresh,
}


def _nothing_opened(export: dict[str, Path]) -> None:
    assert not export["opened"].exists()
    assert not [p for p in export["root"].iterdir() if p.name.startswith(".")]  # no temporary folder either


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forgery_is_refused_without_a_key_file(app, export, laptop, forgery: str):  # type: ignore[no-untyped-def]
    """Before issue 7 each of these passed `verify` and `open` on an auditor's machine without --key-file: the
    manifest was checked against the key it names. Now nothing is trusted that the auditor did not trust."""
    FORGERIES[forgery](export["dir"])
    result = _cli(app, "export", "verify", str(export["dir"]))
    assert result.exit_code != 0
    [line] = result.output.strip().splitlines()  # one line: why, and what to do
    assert line.startswith("Error: no trusted export key for http://127.0.0.1:5000: pass --key-file")
    assert "--pin" in line

    opened = _cli(
        app, "export", "open", str(export["dir"]), "--key", str(export["key"]), "--out", str(export["opened"])
    )
    assert opened.exit_code != 0
    assert "no trusted export key" in opened.output and "nothing was written" in opened.output
    _nothing_opened(export)
    assert not laptop.pins.exists()  # and nothing was pinned behind the auditor's back


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forgery_is_refused_against_the_pinned_key(app, export, laptop, forgery: str):  # type: ignore[no-untyped-def]
    """The auditor pinned the instance's key on an earlier, genuine export; the forgery names another key."""
    trusted = _cli(app, "export", "trust", str(export["dir"]), "--fingerprint", laptop.fingerprint)
    assert trusted.exit_code == 0, trusted.output
    assert _cli(app, "export", "verify", str(export["dir"])).exit_code == 0

    FORGERIES[forgery](export["dir"])
    result = _cli(app, "export", "verify", str(export["dir"]))
    assert result.exit_code != 0
    assert "re-signed by someone else" in result.output
    assert f"pinned for http://127.0.0.1:5000 in {laptop.pins}" in result.output
    opened = _cli(
        app, "export", "open", str(export["dir"]), "--key", str(export["key"]), "--out", str(export["opened"])
    )
    assert opened.exit_code != 0 and "nothing was written" in opened.output
    _nothing_opened(export)

    with_file = _cli(app, "export", "verify", str(export["dir"]), "--key-file", str(laptop.published))
    assert with_file.exit_code != 0 and "re-signed by someone else" in with_file.output


def test_invented_people_never_reach_a_csv(app, export, laptop):  # type: ignore[no-untyped-def]
    """Not even when the auditor is asked: comparing the fingerprint shows the forger's key, and they say no."""
    _invent_people(export["dir"])
    forged = fingerprint(bytes.fromhex(_manifest(export["dir"])["verify_key"]))
    opened = _cli(
        app,
        "export",
        "open",
        str(export["dir"]),
        "--key",
        str(export["key"]),
        "--out",
        str(export["opened"]),
        "--pin",
        input="no\n",
    )
    assert opened.exit_code != 0
    assert forged in opened.output and forged != laptop.fingerprint  # what the auditor compared, and saw differ
    assert "was not confirmed, so nothing was pinned" in opened.output
    _nothing_opened(export)
    assert not laptop.pins.exists()


def test_first_use_asks_and_pins_only_on_yes(app, export, laptop):  # type: ignore[no-untyped-def]
    declined = _cli(app, "export", "verify", str(export["dir"]), "--pin", input="\n")
    assert declined.exit_code != 0 and laptop.fingerprint in declined.output
    assert "http://127.0.0.1:5000/admin/export-key" in declined.output and not laptop.pins.exists()

    accepted = _cli(app, "export", "verify", str(export["dir"]), "--pin", input="yes\n")
    assert accepted.exit_code == 0, accepted.output
    assert f"pinned the export key of http://127.0.0.1:5000 ({laptop.fingerprint}) in {laptop.pins}" in accepted.output
    assert "verified" in accepted.output
    [line] = [x for x in laptop.pins.read_text().splitlines() if not x.startswith("#")]
    instance, key_hex, when = line.split()
    assert instance == "http://127.0.0.1:5000" and f"hex: {key_hex}" in laptop.published.read_text()
    assert when.endswith("Z")

    again = _cli(app, "export", "verify", str(export["dir"]))  # no question the second time
    assert again.exit_code == 0 and "Type yes" not in again.output
    assert "pinned for http://127.0.0.1:5000" in again.output


def test_a_terminal_is_asked_without_pin(app, export, laptop, monkeypatch):  # type: ignore[no-untyped-def]
    from app.commands import exports as commands

    monkeypatch.setattr(commands, "_in_a_terminal", lambda: True)
    result = _cli(
        app,
        "export",
        "open",
        str(export["dir"]),
        "--key",
        str(export["key"]),
        "--out",
        str(export["opened"]),
        input="yes\n",
    )
    assert result.exit_code == 0, result.output
    assert "Type yes if they are the same" in result.output and laptop.pins.is_file()


def test_trust_refuses_what_it_cannot_confirm(app, export, laptop):  # type: ignore[no-untyped-def]
    wrong = _cli(app, "export", "trust", str(export["dir"]), "--fingerprint", "SHA256:" + "A" * 43)
    assert wrong.exit_code != 0 and f"has the fingerprint {laptop.fingerprint}" in wrong.output
    assert not laptop.pins.exists()
    unanswered = _cli(app, "export", "trust", str(export["dir"]), input="")
    assert unanswered.exit_code != 0 and "nothing was pinned" in unanswered.output and not laptop.pins.exists()

    assert _cli(app, "export", "trust", str(export["dir"]), input="yes\n").exit_code == 0
    same = _cli(app, "export", "trust", str(export["dir"]))
    assert same.exit_code == 0 and "already pinned" in same.output

    genuine = laptop.pins.read_text()
    _resign_fresh(export["dir"])
    other = _cli(app, "export", "trust", str(export["dir"]), input="yes\n")
    assert other.exit_code != 0 and "pins another key for http://127.0.0.1:5000" in other.output
    assert laptop.pins.read_text() == genuine
    replaced = _cli(app, "export", "trust", str(export["dir"]), "--replace", input="yes\n")
    assert replaced.exit_code == 0 and laptop.pins.read_text() != genuine  # the auditor says the new key is real

    _replace_signature(export["dir"])  # a signature that does not match even the key the manifest names
    broken = _cli(app, "export", "trust", str(export["dir"]), "--replace", input="yes\n")
    assert broken.exit_code != 0 and "does not match even the key it names" in broken.output


def test_pins_file_that_cannot_be_read_is_a_one_line_refusal(app, export, laptop):  # type: ignore[no-untyped-def]
    laptop.pins.parent.mkdir(parents=True)
    laptop.pins.write_text("http://127.0.0.1:5000 not-a-key\n")
    result = _cli(app, "export", "verify", str(export["dir"]))
    assert result.exit_code != 0
    assert result.output.strip() == f"Error: {laptop.pins}, line 1: expected an instance, a 64-hex-digit key and a date"


def test_the_instance_key_on_the_server_is_trusted(app, export):  # type: ignore[no-untyped-def]
    """On the server itself (EXPORT_SIGNING_KEY set) nothing needs pinning; a forgery fails against that key."""
    _invent_people(export["dir"])
    result = _cli(app, "export", "verify", str(export["dir"]))
    assert result.exit_code != 0 and "this instance's EXPORT_SIGNING_KEY" in result.output


def test_an_altered_manifest_is_never_offered_for_pinning(app, export, laptop):  # type: ignore[no-untyped-def]
    _replace_signature(export["dir"])  # the signature matches no key the manifest names: nothing to compare
    asked = _cli(app, "export", "verify", str(export["dir"]), "--pin", input="yes\n")
    assert asked.exit_code != 0 and "does not match even the key it names: it was altered" in asked.output
    assert "Type yes" not in asked.output and not laptop.pins.exists()

    laptop.pins.parent.mkdir(parents=True)
    genuine = bytes.fromhex(_manifest(export["dir"])["verify_key"])  # pinned before; the full check says what broke
    laptop.pins.write_text(f"http://127.0.0.1:5000 {genuine.hex()} 2026-11-30T09:00:00Z\n")
    pinned = _cli(app, "export", "verify", str(export["dir"]))
    assert pinned.exit_code != 0 and "the signature does not match the manifest" in pinned.output
