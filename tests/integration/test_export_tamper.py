"""Every way an export can be altered makes `export verify` fail saying what is wrong, and `export open` write
nothing. The files, not the database, are under test: SQLite is enough."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from app.exports.keys import instance_signing_key
from app.exports.manifest import manifest_bytes, sha256_hex, sign
from app.models import Statement
from app.sealing import generate_key_pair, seal, write_private_key

from ..support.factories import make_initiative, sync_counters

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _cli(app, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=list(args))


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
