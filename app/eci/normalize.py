"""The one normalization that decides whether two statements come from the same person (ECI.md, "The same
person twice"). Change it only with a migration plan: every stored fingerprint depends on it.

Names: invisible format characters (zero-width space, soft hyphen, direction marks) dropped; Unicode NFKC;
case-folded ("ß" -> "ss", Greek final "ς" -> "σ"); accents removed, which includes the Latin letters with a stroke
that Unicode does not decompose ("Łukasz" -> "lukasz", "Søren" -> "soren", "Đurić" -> "duric"); runs of spaces,
hyphens and apostrophes folded into one space; ends trimmed. Ligatures are letters, not accents: "æ" and "œ" stay.
Removing accents is applied to every script alike, so Cyrillic "й" becomes "и" and "ё" becomes "е".

Document numbers and postal codes: invisible characters dropped, NFKC, upper-cased, spaces, dots, hyphens and
slashes removed.
"""

from __future__ import annotations

import re
import unicodedata

# Hyphens and dashes (U+2010..U+2015, minus sign) and apostrophes as typed or auto-corrected: ' ’ ‘ ʼ ʻ ` ´ ′
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212'\u2018\u2019\u02bb\u02bc`\u00b4\u2032]+")
_DOCUMENT_NOISE = re.compile(r"[\s.\-\u2010-\u2015\u2212/]+")

# Letters with a stroke have no Unicode decomposition, so stripping combining marks leaves them: fold them by hand.
# The ones written in the EU's languages: Danish ø, Croatian đ, Maltese ħ, Polish and Sorbian ł, Sami ŧ and ǥ.
_STROKES = str.maketrans({"ø": "o", "đ": "d", "ħ": "h", "ł": "l", "ŧ": "t", "ǥ": "g"})


def _drop_invisible(text: str) -> str:
    """Format characters (Unicode category Cf) are invisible, so a pasted one must not make a different person."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_STROKES)


def normalize_name(name: str) -> str:
    """NFKC, case-folded, accents removed, runs of spaces, hyphens and apostrophes folded into one space.

    "Zoë" and "ZOE", "Jean-Luc" and "jean luc", "O'Brien" and "O Brien" all normalize alike.
    """
    text = unicodedata.normalize("NFKC", _drop_invisible(name)).casefold()
    text = _strip_accents(text)
    text = _SEPARATORS.sub(" ", text).strip()
    # stripping marks leaves the decomposed base letters (e.g. Hangul jamo): NFKC composes them again
    return unicodedata.normalize("NFKC", text)


def normalize_document_number(number: str) -> str:
    """Upper-cased with spaces, dots, hyphens and slashes removed: "ab 12.345-6" -> "AB123456"."""
    text = unicodedata.normalize("NFKC", _drop_invisible(number)).upper()
    return _DOCUMENT_NOISE.sub("", text)


def normalize_postal_code(code: str) -> str:
    """Same treatment as document numbers: "75 001" and "75001", "D02-X285" and "d02 x285" match."""
    return normalize_document_number(code)
