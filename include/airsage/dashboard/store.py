"""Where the dashboard's summaries live, and how they are read and written.

Below a use case's data root (local path or ``s3://``)::

    dashboard/index.json                         the roll-up the overview reads (one file per use case):
                                                 model, champion, previous, every version (compact) and
                                                 every scored partition (compact)
    dashboard/versions/v<N>.json                 one version in full: tags we show, gates, its audit events
    dashboard/partitions/dt=<day>/transform.json the partition's transform report (one writer each)
    dashboard/partitions/dt=<day>/monitor.json   its latest monitoring run summary
    dashboard/partitions/dt=<day>/review.json    its human-review counts
    dashboard/_lock                              a short lease that serialises updates of index.json

Every file is written atomically (``airsage.storage``). Item files have one writer each (registry
decisions are already serialised per model; transform, monitoring and review each own their file).
``index.json`` is read-modify-written by all of them, so that update holds a lease: a create-if-absent
lock object (a hard link locally, ``If-None-Match: *`` on S3) that expires after ``LOCK_TTL_S`` so a
crashed writer cannot block the others for long. ``rebuild`` recreates everything from the real state.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from airsage import layout, storage
from airsage.errors import ConfigError, StorageError, TransientError

SCHEMA = "airsage-dashboard/1"
INDEX_FILE = "index.json"
LOCK_FILE = "_lock"
LOCK_TTL_S = 60.0
LOCK_WAIT_S = 30.0
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_VERSION = re.compile(r"^[0-9]{1,9}$")


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def usecase(uc: Any):
    """A ``UseCase`` from a ``UseCase`` or its name (the integrator may pass either)."""
    if isinstance(uc, str):
        from airsage.config import get_usecase

        return get_usecase(uc)
    if not hasattr(uc, "data_root") or not hasattr(uc, "registered_model_name"):
        raise ConfigError(f"{uc!r} is not a use case", key="usecase",
                          fix="Pass an airsage.config.UseCase or the use case's name.")
    return uc


def check_day(day: Any) -> str:
    """A partition as ``YYYY-MM-DD`` (dates, datetimes and ISO strings are accepted)."""
    if isinstance(day, (dt.date, dt.datetime)):
        return (day.date() if isinstance(day, dt.datetime) else day).isoformat()
    text = str(day or "")[:10]
    if not _DAY.match(text):
        raise ConfigError(f"partition {day!r} is not a date", key="partition", fix="Use the YYYY-MM-DD form.")
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"partition {day!r} is not a date", key="partition", fix="Use the YYYY-MM-DD form.") from None
    return text


def check_version(version: Any) -> str:
    v = str(version if version is not None else "").strip()
    if v.startswith("v"):
        v = v[1:]
    if not _VERSION.match(v):
        raise ConfigError(f"model version {version!r} is not a version number", key="model_version",
                          fix="Pass the registered version number, e.g. 3.")
    return str(int(v))


def root(uc) -> str:
    return layout.dashboard(uc)


def index_uri(uc) -> str:
    return storage.join(root(uc), INDEX_FILE)


def version_uri(uc, version: str) -> str:
    return storage.join(root(uc), "versions", f"v{check_version(version)}.json")


def partition_uri(uc, day: str, part: str) -> str:
    if part not in ("transform", "monitor", "review"):
        raise ValueError(part)
    return storage.join(root(uc), "partitions", f"dt={check_day(day)}", f"{part}.json")


def empty_index(uc) -> dict[str, Any]:
    return {"schema": SCHEMA, "usecase": uc.name, "model": uc.registered_model_name, "owner": uc.owner,
            "champion": None, "previous": None, "updated_at": None, "versions": {}, "partitions": {}}


# ---------------------------------------------------------------------- reading (with a small cache)
_cache: dict[str, tuple[tuple[int, int], Any]] = {}
_cache_lock = threading.Lock()


def read_json(uri: str, default: Any = None) -> Any:
    """A JSON document, or ``default`` when absent. Local files are cached by (mtime, size): the overview
    re-reads only the index files that changed."""
    if storage.is_s3(uri):
        try:
            return storage.read_json(uri) if storage.exists(uri) else default
        except StorageError:
            return default
    try:
        st = os.stat(uri)
    except OSError:
        return default
    key = (st.st_mtime_ns, st.st_size)
    with _cache_lock:
        hit = _cache.get(uri)
    if hit and hit[0] == key:
        return hit[1]
    try:
        with open(uri, "rb") as fh:
            doc = json.loads(fh.read())
    except (OSError, ValueError):
        return default
    with _cache_lock:
        if len(_cache) > 4096:
            _cache.clear()
        _cache[uri] = (key, doc)
    return doc


def read_index(uc) -> dict[str, Any]:
    doc = read_json(index_uri(uc))
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        return empty_index(uc)
    return doc


def write_json(uri: str, doc: Any) -> str:
    return storage.write_json(uri, doc, indent=None)


# ---------------------------------------------------------------------- the index lease
@contextlib.contextmanager
def index_lock(uc, *, wait_s: float = LOCK_WAIT_S, ttl_s: float = LOCK_TTL_S) -> Iterator[None]:
    """Hold the use case's dashboard lease (create-if-absent lock object with an expiry)."""
    uri = storage.join(root(uc), LOCK_FILE)
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait_s
    delay = 0.02
    while True:
        body = json.dumps({"token": token, "expires": time.time() + ttl_s, "pid": os.getpid()}).encode()
        if storage.write_if_absent(uri, body):
            break
        try:
            held = storage.read_json(uri)
        except (StorageError, ValueError, OSError):
            held = None
        if held is None or float(held.get("expires", 0)) < time.time():
            storage.delete(uri)  # expired (a crashed writer) or vanished between the two calls
            continue
        if time.monotonic() > deadline:
            raise TransientError(f"the dashboard summaries of {uc.name} are locked by another writer ({uri})",
                                 fix=f"Retry; if no writer is running, delete {uri} (it expires after {ttl_s:.0f} s).")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    try:
        yield
    finally:
        try:
            held = storage.read_json(uri)
            if held.get("token") == token:
                storage.delete(uri)
        except (StorageError, ValueError, OSError):
            pass


def update_index(uc, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Apply ``change`` to the use case's index under the lease and publish it atomically."""
    with index_lock(uc):
        idx = read_index(uc)
        idx = json.loads(json.dumps(idx))  # never mutate the cached copy
        idx.update({"usecase": uc.name, "model": uc.registered_model_name, "owner": uc.owner})
        change(idx)
        idx["updated_at"] = now()
        write_json(index_uri(uc), idx)
    return idx
