"""The one normalization that decides whether two statements come from the same person (ECI.md, "The same
person twice"). Change it only with a migration plan: every stored fingerprint depends on it."""

from __future__ import annotations

import re
import unicodedata

_SEPARATORS = re.compile(r"[\s\-\u2010\u2011\u2012\u2013\u2014\u2212'\u2019\u02bc`\u00b4]+")
_DOCUMENT_NOISE = re.compile(r"[\s.\-\u2010\u2011\u2012\u2013\u2014\u2212/]+")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize_name(name: str) -> str:
    """NFKC, case-folded, accents removed, runs of spaces, hyphens and apostrophes folded into one space.

    "Zoë" and "ZOE", "Jean-Luc" and "jean luc", "O'Brien" and "O Brien" all normalize alike.
    """
    text = unicodedata.normalize("NFKC", name).casefold()
    text = _strip_accents(text)
    text = _SEPARATORS.sub(" ", text).strip()
    # casefold can reintroduce composed forms (e.g. "ß" -> "ss" is fine, but NFKC again keeps it stable)
    return unicodedata.normalize("NFKC", text)


def normalize_document_number(number: str) -> str:
    """Upper-cased with spaces, dots, hyphens and slashes removed: "ab 12.345-6" -> "AB123456"."""
    text = unicodedata.normalize("NFKC", number).upper()
    return _DOCUMENT_NOISE.sub("", text)


def normalize_postal_code(code: str) -> str:
    """Same treatment as document numbers: "75 001" and "75001", "D02-X285" and "d02 x285" match."""
    return normalize_document_number(code)
