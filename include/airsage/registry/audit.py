"""Append-only audit log of registry decisions: one immutable JSON object per event.

Events live under ``<data_root>/_audit/<model>/`` as ``event-<seq>.json`` (seq zero-padded), written
with ``storage.write_if_absent`` (a hard link locally, ``If-None-Match: *`` on S3): an event is never
overwritten, and two writers can never claim the same sequence number — the loser takes the next one.
Order is the sequence number (events also carry a UTC timestamp). Writers hold the registry lock, so
timestamps increase with the sequence too.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from airsage import storage
from airsage.errors import StorageError

PREFIX = "event-"
MAX_CLAIM_ATTEMPTS = 1000


def safe_name(name: str) -> str:
    """A model name as one path segment."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)


def _seq_of(uri: str) -> int | None:
    m = re.search(rf"{PREFIX}(\d+)\.json$", uri)
    return int(m.group(1)) if m else None


class AuditLog:
    """The audit events of one registry (``root`` = ``<data_root>/_audit``)."""

    def __init__(self, root: str):
        self.root = root

    def prefix(self, model: str) -> str:
        return storage.join(self.root, safe_name(model))

    def _uris(self, model: str) -> list[str]:
        return [u for u in storage.list_files(self.prefix(model), suffixes=(".json",)) if _seq_of(u) is not None]

    def events(self, model: str) -> list[dict[str, Any]]:
        """Every event of ``model``, oldest first."""
        uris = sorted(self._uris(model), key=_seq_of)
        return [storage.read_json(u) for u in uris]

    def append(self, model: str, *, action: str, actor: str, version: str | None = None,
               from_version: str | None = None, to_version: str | None = None, from_status: str | None = None,
               to_status: str | None = None, reason: str = "", extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write one event with the next free sequence number; return it."""
        uris = self._uris(model)
        seq = max((_seq_of(u) for u in uris), default=0) + 1
        for _ in range(MAX_CLAIM_ATTEMPTS):
            event = {
                "seq": seq,
                "ts": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
                "model": model,
                "version": None if version is None else str(version),
                "action": action,
                "actor": actor,
                "from_version": None if from_version is None else str(from_version),
                "to_version": None if to_version is None else str(to_version),
                "from_status": None if from_status is None else str(from_status),
                "to_status": None if to_status is None else str(to_status),
                "reason": reason,
                "extra": extra or {},
            }
            data = (json.dumps(event, indent=2, sort_keys=False, default=str) + "\n").encode()
            if storage.write_if_absent(storage.join(self.prefix(model), f"{PREFIX}{seq:010d}.json"), data):
                return event
            seq += 1  # somebody without the lock took this number: take the next one
        raise StorageError(f"could not append an audit event for {model} after {MAX_CLAIM_ATTEMPTS} attempts",
                           fix="Check that the audit prefix is writable and not being flooded.")
