"""Rendering a template once for many readers: a marker where each reader's own value goes (a CSRF token, a link),
the result cut at the markers and kept, each reader's text filled in (docs/decisions/014-signing-path-performance.md).

The markers carry a random word made when the process starts, so that nothing an organizer writes can be taken for
one. A marker is rendered like any value: a value filled into an HTML template must be escaped as Jinja would have
escaped it (`escape`), a value filled into a plain-text template is written as it is.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_NONCE = secrets.token_hex(8)
_SLOT = re.compile(rf'"slot-{_NONCE}\[json:([^\]]+)\]"|slot-{_NONCE}\[([^\]]+)\]')


def marker(name: str) -> str:
    """What to render where slot `name` goes."""
    return f"slot-{_NONCE}[{name}]"


def json_marker(name: str) -> str:
    """A marker for a value a template writes through `tojson`: the JSON string it becomes, quotes and all, is the
    slot `name`."""
    return marker(f"json:{name}")


@dataclass(frozen=True)
class SlottedText:
    """A rendered text cut at its markers: the text between them, and (position, name) of each slot."""

    parts: tuple[str, ...]
    slots: tuple[tuple[int, str], ...]

    @classmethod
    def cut(cls, text: str) -> SlottedText:
        parts: list[str] = []
        slots: list[tuple[int, str]] = []
        end = 0
        for match in _SLOT.finditer(text):
            parts.append(text[end : match.start()])
            slots.append((len(parts), match.group(1) or match.group(2)))
            parts.append("")
            end = match.end()
        parts.append(text[end:])
        return cls(tuple(parts), tuple(slots))

    def fill(self, values: Mapping[str, str]) -> str:
        parts = list(self.parts)
        for position, name in self.slots:
            parts[position] = values[name]
        return "".join(parts)


class Recent(Generic[K, V]):
    """A bounded mapping that forgets the least recently used entry first; safe for threaded servers."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = make()  # outside the lock: two threads may both make it, and either result is the same
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)
