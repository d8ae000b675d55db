"""A small persistent document store (SQLite) shared by both emulators.

Each emulator keeps its account's records (JSON documents grouped by kind) in
``<data-dir>/state.sqlite`` and its binary blobs as files under ``<data-dir>/blobs``.
State therefore survives restarts, and a seed command can fill a data dir before the
server starts.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class DocStore:
    """JSON documents keyed by ``(kind, id)``, kept in insertion order."""

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.blob_dir = self.data_dir / "blobs"
        self.blob_dir.mkdir(exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.data_dir / "state.sqlite", check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # Durable across a crash of the emulator (WAL), without an fsync per answered call.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS docs (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, UNIQUE(kind, id))"
        )
        self._db.commit()

    @property
    def lock(self) -> threading.RLock:
        """Held across a read-modify-write that must not interleave with another thread's."""
        return self._lock

    def get(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM docs WHERE kind=? AND id=?", (kind, doc_id)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, doc_id: str, body: dict[str, Any]) -> None:
        text = json.dumps(body, ensure_ascii=False)
        with self._lock:
            cur = self._db.execute(
                "UPDATE docs SET body=? WHERE kind=? AND id=?", (text, kind, doc_id)
            )
            if cur.rowcount == 0:
                self._db.execute(
                    "INSERT INTO docs (kind, id, body) VALUES (?, ?, ?)", (kind, doc_id, text)
                )
            self._db.commit()

    def delete(self, kind: str, doc_id: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM docs WHERE kind=? AND id=?", (kind, doc_id))
            self._db.commit()
        return cur.rowcount > 0

    # An id prefix as a range on the (kind, id) index: a page of a large listing reads only its rows.
    _PREFIX = "kind=? AND id >= ? AND id < ?"

    @staticmethod
    def _prefix(kind: str, prefix: str) -> tuple[str, str, str]:
        return kind, prefix, prefix + "\U0010ffff"

    def iter(self, kind: str, prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ``(id, doc)`` of one kind in insertion order, optionally by id prefix."""
        with self._lock:
            rows = self._db.execute(f"SELECT id, body FROM docs WHERE {self._PREFIX} ORDER BY seq",
                                    self._prefix(kind, prefix)).fetchall()
        for doc_id, body in rows:
            yield doc_id, json.loads(body)

    def page(self, kind: str, prefix: str, offset: int, limit: int, *,
             by_id: bool = False) -> list[tuple[str, dict[str, Any]]]:
        """One page of ``(id, doc)`` by id prefix, in insertion order (or id order)."""
        order = "id" if by_id else "seq"
        with self._lock:
            rows = self._db.execute(f"SELECT id, body FROM docs WHERE {self._PREFIX} ORDER BY {order} "
                                    "LIMIT ? OFFSET ?", (*self._prefix(kind, prefix), limit, offset)).fetchall()
        return [(doc_id, json.loads(body)) for doc_id, body in rows]

    def count(self, kind: str, prefix: str = "") -> int:
        with self._lock:
            return self._db.execute(f"SELECT count(*) FROM docs WHERE {self._PREFIX}",
                                    self._prefix(kind, prefix)).fetchone()[0]

    def blob_path(self, name: str) -> Path:
        """Where the blob called ``name`` lives (sub-folders are created on demand)."""
        path = self.blob_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def close(self) -> None:
        with self._lock:
            self._db.close()
