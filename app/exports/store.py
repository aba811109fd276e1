"""Exports kept in the database: the staff side's exports, which any app server behind the load balancer serves.

Each file (`manifest.json`, `<CC>.sealed`) is a run of `export_chunk` rows of at most CHUNK bytes, written as the
export streams and read back one row at a time, so neither side holds a whole file in memory. The bytes are the
ones `export create --out` would write to a folder: verifying, zipping and opening read them the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from ..extensions import db
from ..models import ExportChunk, ExportRecord
from .manifest import MANIFEST_NAME
from .verify import ExportUnreadable, split_lines

CHUNK = 1 << 20
"""Bytes a row: big enough that a million statements (about 450 MB) take a few hundred rows, small enough for any
driver to pass as one value."""

_chunks = ExportChunk.__table__


class ChunkWriter:
    """One file of a stored export, written into the database a chunk at a time."""

    def __init__(self, export_id: int, name: str) -> None:
        self.export_id = export_id
        self.name = name
        self.buffer = bytearray()
        self.seq = 0

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= CHUNK:
            self._insert(bytes(self.buffer[:CHUNK]))
            del self.buffer[:CHUNK]

    def close(self) -> None:
        if self.buffer or self.seq == 0:
            self._insert(bytes(self.buffer))
            self.buffer.clear()

    def _insert(self, data: bytes) -> None:
        db.session.execute(sa.insert(_chunks).values(export_id=self.export_id, name=self.name, seq=self.seq, data=data))
        self.seq += 1


class StoredExport:
    """An export kept in the database, read as a folder would be (an `ExportSource`)."""

    def __init__(self, record: ExportRecord) -> None:
        self.export_id = record.id
        self.label = f"export {record.id}"

    def members(self) -> set[str]:
        return set(
            db.session.scalars(sa.select(_chunks.c.name).where(_chunks.c.export_id == self.export_id).distinct())
        )

    def manifest_bytes(self) -> bytes:
        if MANIFEST_NAME not in self.members():
            raise ExportUnreadable(f"{MANIFEST_NAME} is missing")
        return b"".join(self.chunks(MANIFEST_NAME))

    def chunks(self, name: str) -> Iterator[bytes]:
        """Row after row by primary key: one chunk in memory at a time, whatever the file's size."""
        where = (_chunks.c.export_id == self.export_id, _chunks.c.name == name)
        numbers = list(db.session.scalars(sa.select(_chunks.c.seq).where(*where).order_by(_chunks.c.seq)))
        for seq in numbers:
            data = db.session.scalar(sa.select(_chunks.c.data).where(*where, _chunks.c.seq == seq))
            if data is None:  # deleted while it was being read (a retention run)
                raise ExportUnreadable(f"{name} of {self.label} was deleted while it was being read")
            yield bytes(data)

    def lines(self, name: str) -> Iterator[bytes]:
        return split_lines(self.chunks(name))
