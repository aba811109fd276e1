"""The message catalogs as the tests read them: compiled before a run, extracted afresh, and a pseudo-locale.

The catalogs live in translations/ (README, "Languages"); pybabel's options are in pyproject.toml, which the fresh
extraction here reads too, so that it extracts exactly what `make translations-extract` would.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from config import ROOT

TRANSLATIONS = ROOT / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"
PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")

SIGNER_SOURCES = (
    "templates/signing/",
    "templates/email/",
    "templates/errors/",
    "templates/sharing/",
    "templates/base.html",
    "templates/_error_summary.html",
    "templates/_progress_map.html",
    "app/signing/",
    "app/eci/",
    "app/sharing/",
    "app/statements/lifecycle.py",
    "app/languages.py",
    "app/errors.py",
    "app/progress_map.py",
    "app/rate_limits.py",
    "app/template_helpers.py",
    "app/initiative_texts.py",
    "app/initiatives.py",
    "app/mail/",
    "app/updates/sending.py",
)
"""Where the words a signer reads come from: every page they see and every email they get (issue 8). A message found
in any of these must be translated in all 24 languages; one found only in staff pages may wait (English is shown)."""


def for_signers(message: Message) -> bool:
    return any(path.startswith(SIGNER_SOURCES) for path, _line in message.locations)


def catalog_path(code: str) -> Path:
    return TRANSLATIONS / code / "LC_MESSAGES" / "messages.po"


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def compile_catalogs(directory: Path = TRANSLATIONS) -> None:
    """What `make translations` does, for a run started with pytest alone: each .mo older than its .po made again."""
    for po in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        catalog = read_catalog(po, po.parent.parent.name)
        with mo.open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)


@contextlib.contextmanager
def _in(directory: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)


def extract_afresh(output: Path) -> Catalog:
    """`pybabel extract` from the repository's root with the project's options (pyproject.toml), into `output`."""
    with _in(ROOT), contextlib.redirect_stderr(io.StringIO()):
        CommandLineInterface().run(["pybabel", "-q", "extract", "-o", str(output)])
    return read_catalog(output)


def keys(catalog: Catalog) -> set[tuple[str | None, str, str | None]]:
    """(context, msgid, plural msgid) of every message but the header."""
    return {(m.context, _singular(m), _plural(m)) for m in catalog if m.id}


def _singular(message: Message) -> str:
    return message.id[0] if isinstance(message.id, tuple) else message.id


def _plural(message: Message) -> str | None:
    return message.id[1] if isinstance(message.id, tuple) else None


def placeholders(text: str) -> set[tuple[str, str]]:
    """The named placeholders of a python-format string, with their conversion: {("title", "s"), ("age", "d")}."""
    return set(PLACEHOLDER.findall(text))


def pseudo_catalog(template: Catalog, locale: str) -> Catalog:
    """Every message "translated" as itself in brackets: a page rendered in it shows, outside brackets, only what
    did not go through the catalog (tests/integration/test_pseudo_locale.py)."""
    pseudo = Catalog(locale=locale)
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            forms = [f"[{message.id[0]}]"] + [f"[{message.id[1]}]"] * (pseudo.num_plurals - 1)
            pseudo.add(message.id, tuple(forms), context=message.context, flags=message.flags)
        else:
            pseudo.add(message.id, f"[{message.id}]", context=message.context, flags=message.flags)
    return pseudo


def write_compiled(catalog: Catalog, directory: Path, locale: str) -> None:
    folder = directory / locale / "LC_MESSAGES"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "messages.mo").open("wb") as handle:
        write_mo(handle, catalog)
