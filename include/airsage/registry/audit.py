"""Append-only, hash-chained audit log of registry decisions: one immutable JSON object per event.

Events live under ``<data_root>/_audit/<model>/`` as ``event-<seq>.json`` (seq zero-padded), written
with ``storage.write_if_absent`` (a hard link locally, ``If-None-Match: *`` on S3): an event is never
overwritten, and two writers can never claim the same sequence number — the loser takes the next one.
Order is the sequence number (events also carry a UTC timestamp). Writers hold the registry lock, so
timestamps increase with the sequence too.

**Hash chain.** Each event carries ``prev_sha256`` (the SHA-256 of the previous event's canonical JSON,
``None`` for the first) and ``sha256`` (the SHA-256 of its own canonical JSON). The canonical JSON of an
event is the event *without* its ``sha256`` field, serialised with sorted keys, no whitespace and UTF-8
(``canonical_json``). Editing, removing or reordering an event breaks the chain at that event, which
``check_chain`` names. (Rewriting the whole chain from the first event is not detected by the chain
alone; ``registry.verify`` also checks MLflow's state against the log.)

**Who.** ``actor`` is the authenticated person (or service) that decided; ``source`` says through which
door: ``airflow-ui``, ``airflow-api``, ``cli:<os user>``, ``airflow`` (a scheduled task) … so an auditor
can tell a decision given in the web UI from one typed at a terminal.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from airsage import storage
from airsage.errors import StorageError

PREFIX = "event-"
MAX_CLAIM_ATTEMPTS = 1000
HASH_FIELD = "sha256"
PREV_FIELD = "prev_sha256"
#: actions that move the ``champion`` alias
CHAMPION_MOVES = ("approve", "promote", "rollback")
#: actions that decide a version's approval status
DECISIONS = ("register", "approve", "reject")


def safe_name(name: str) -> str:
    """A model name as one path segment."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)


def _seq_of(uri: str) -> int | None:
    m = re.search(rf"{PREFIX}(\d+)\.json$", uri)
    return int(m.group(1)) if m else None


def canonical_json(event: dict[str, Any]) -> bytes:
    """The bytes an event's hash covers: every field but ``sha256``, sorted keys, compact, UTF-8."""
    body = {k: v for k, v in event.items() if k != HASH_FIELD}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def event_hash(event: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(event)).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """The first place where the chain does not hold."""

    seq: int | None
    file: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


class AuditLog:
    """The audit events of one registry (``root`` = ``<data_root>/_audit``)."""

    def __init__(self, root: str):
        self.root = root

    def prefix(self, model: str) -> str:
        return storage.join(self.root, safe_name(model))

    def _uri(self, model: str, seq: int) -> str:
        return storage.join(self.prefix(model), f"{PREFIX}{seq:010d}.json")

    def _uris(self, model: str) -> list[str]:
        return [u for u in storage.list_files(self.prefix(model), suffixes=(".json",)) if _seq_of(u) is not None]

    def events(self, model: str) -> list[dict[str, Any]]:
        """Every event of ``model``, oldest first."""
        uris = sorted(self._uris(model), key=_seq_of)
        return [storage.read_json(u) for u in uris]

    def files(self, model: str) -> list[tuple[str, dict[str, Any] | None]]:
        """(file URI, event or None when the file is not valid JSON), oldest first (for verification)."""
        out = []
        for u in sorted(self._uris(model), key=_seq_of):
            try:
                out.append((u, storage.read_json(u)))
            except (ValueError, StorageError, OSError):
                out.append((u, None))
        return out

    def _prev_hash(self, model: str, seq: int) -> str | None:
        if seq <= 1:
            return None
        try:
            return event_hash(storage.read_json(self._uri(model, seq - 1)))
        except (FileNotFoundError, StorageError) as exc:
            raise StorageError(f"audit event {seq - 1} of {model} is missing: cannot chain event {seq} to it",
                               fix="Run `airsage registry verify` for this use case; restore the audit log "
                                   "from its backup (versioned bucket) before recording new decisions.") from exc

    def append(self, model: str, *, action: str, actor: str, version: str | None = None,
               from_version: str | None = None, to_version: str | None = None, from_status: str | None = None,
               to_status: str | None = None, reason: str = "", extra: dict[str, Any] | None = None,
               source: str = "cli") -> dict[str, Any]:
        """Write one event with the next free sequence number, chained to the event before it; return it."""
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
                "source": source,
                "from_version": None if from_version is None else str(from_version),
                "to_version": None if to_version is None else str(to_version),
                "from_status": None if from_status is None else str(from_status),
                "to_status": None if to_status is None else str(to_status),
                "reason": reason,
                "extra": extra or {},
                PREV_FIELD: self._prev_hash(model, seq),
            }
            event = json.loads(json.dumps(event, default=str))  # the stored form is what gets hashed
            event[HASH_FIELD] = event_hash(event)
            data = (json.dumps(event, indent=2, sort_keys=False, ensure_ascii=False) + "\n").encode()
            if storage.write_if_absent(self._uri(model, seq), data):
                return event
            seq += 1  # somebody without the lock took this number: take the next one
        raise StorageError(f"could not append an audit event for {model} after {MAX_CLAIM_ATTEMPTS} attempts",
                           fix="Check that the audit prefix is writable and not being flooded.")

    def check_chain(self, model: str) -> tuple[list[dict[str, Any]], ChainBreak | None]:
        """(the events up to the first break, the first break or None)."""
        good: list[dict[str, Any]] = []
        prev_hash = None
        for i, (uri, event) in enumerate(self.files(model), start=1):
            name = uri.rsplit("/", 1)[-1]
            seq = _seq_of(uri)
            if event is None or not isinstance(event, dict):
                return good, ChainBreak(seq, name, "not a valid JSON event (edited or damaged)")
            if seq != i or event.get("seq") != seq:
                return good, ChainBreak(seq, name, f"expected event {i} here (seq {event.get('seq')!r}): an event "
                                                   "was removed, renamed or inserted")
            if HASH_FIELD not in event:
                if good and HASH_FIELD in good[-1]:
                    return good, ChainBreak(seq, name, "has no sha256 although the events before it are chained")
                prev_hash = event_hash(event)  # written before the chain existed: anchored by the next event
                good.append(event)
                continue
            if event[HASH_FIELD] != event_hash(event):
                return good, ChainBreak(seq, name, "its content does not match its sha256 (edited after it was written)")
            if event.get(PREV_FIELD) != prev_hash:
                return good, ChainBreak(seq, name, "its prev_sha256 does not match the event before it "
                                                   "(an earlier event was edited, removed or replaced)")
            prev_hash = event[HASH_FIELD]
            good.append(event)
        return good, None


# ---------------------------------------------------------------------- what the log says the state is
def last_decision(events: list[dict[str, Any]], version: str) -> dict[str, Any] | None:
    """The last event that decided ``version``'s approval status (register, approve or reject)."""
    hits = [e for e in events if e.get("version") == str(version) and e.get("action") in DECISIONS]
    return hits[-1] if hits else None


def expected_aliases(events: list[dict[str, Any]]) -> dict[str, tuple[str | None, dict[str, Any] | None]]:
    """``{"champion": (version, event), "previous": (version, event)}`` as the log's champion moves left them.

    Every champion move since the hash chain records the resulting ``previous`` in ``extra.previous``;
    older events are replayed by the rule they were written under (``previous`` = the replaced champion).
    """
    champion: tuple[str | None, dict[str, Any] | None] = (None, None)
    previous: tuple[str | None, dict[str, Any] | None] = (None, None)
    for e in events:
        if e.get("action") not in CHAMPION_MOVES:
            continue
        extra = e.get("extra") or {}
        if "previous" in extra:
            previous = (None if extra["previous"] is None else str(extra["previous"]), e)
        elif e.get("from_version") not in (None, e.get("to_version")):
            previous = (e["from_version"], e)
        champion = (e.get("to_version"), e)
    return {"champion": champion, "previous": previous}


def describe(event: dict[str, Any] | None) -> str:
    """One line naming an event for an auditor."""
    if event is None:
        return "no event"
    who = event.get("actor", "?") + (f" via {event['source']}" if event.get("source") else "")
    return f"event {event.get('seq')} ({event.get('action')} by {who} at {event.get('ts')})"
