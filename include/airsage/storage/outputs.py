"""Output safety and publishing a directory as a unit.

``check_output``: an output may not be, contain or lie inside an input, and may replace only a directory
that Airsage published (its ``_SUCCESS`` marker is the ownership record); ``force`` moves foreign content
aside, never deletes it. ``atomic_dir`` stages a directory and swaps it in (locally) or uploads it under
a "publishing" marker (S3); ``is_complete`` tells a finished output from one still being published."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airsage.errors import StorageError
from airsage.storage.files import _list_all_s3, read_bytes, write_bytes
from airsage.storage.uri import (SUCCESS_MARKER, _abs_local, _local, _refuse, _resolved, _s3_error, is_s3, join,
                                 overlap, relative, s3_client, split_s3)
from airsage.storage.workdir import _held_lock, _sweep_dead, private_workdir

log = logging.getLogger("airsage.storage")

# --------------------------------------------------------------------------- output safety
#: The ``_SUCCESS`` marker of a directory Airsage published is a small JSON document (``MARKER_FORMAT``):
#: what published it (``kind``), when, from which inputs, and the files it wrote. It is both the
#: completeness signal (``is_complete``) and the ownership record that lets a later run replace the
#: directory. An empty ``_SUCCESS`` (Spark, Hadoop, SageMaker, Airsage before this format) is not ours.
MARKER_FORMAT = "airsage-output/1"
GENERIC_KIND = "output"
#: names of Airsage's own temporary entries (stages, swapped-out copies, lock files)
_TEMP_NAME = re.compile(r"^\..+\.(stage|old|tmp)-[0-9a-f]{8}(\.lock)?$")
_SHOWN = 3  # foreign files named in a refusal


def marker_document(kind: str | None, files: list[str] | None, *, inputs: tuple[str, ...] = (),
                    state: str = "complete") -> dict[str, Any]:
    import datetime as dt

    return {"format": MARKER_FORMAT, "kind": kind or GENERIC_KIND, "state": state,
            "published_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "inputs": [str(i) for i in inputs], "files": None if files is None else sorted(files)}


def _parse_marker(data: bytes | None) -> dict[str, Any] | None:
    if not data or len(data) > 64 << 20:
        return None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == MARKER_FORMAT else None


def read_marker(uri: str) -> dict[str, Any] | None:
    """The Airsage ownership record of the output directory ``uri`` (None: absent or not Airsage's)."""
    try:
        return _parse_marker(read_bytes(join(uri, SUCCESS_MARKER)))
    except StorageError:
        return None


def mark_complete(uri: str, *, kind: str | None = None, inputs: tuple[str, ...] = (), client=None) -> str:
    """Write the ownership/completeness marker of a directory that something else filled (a SageMaker
    job's output prefix). Its files are not listed: every file below it counts as Airsage's.

    Idempotent: an Airsage marker that is already complete is kept (its time stays the publish time).
    ``client``: the S3 client to use (a backend's injected one; default ``s3_client()``)."""
    marker = join(uri, SUCCESS_MARKER)
    body = json.dumps(marker_document(kind, None, inputs=inputs)).encode()
    if not is_s3(uri) or client is None:
        existing = read_marker(uri)
        if existing is not None and existing.get("state") != "publishing" and existing.get("kind") == (kind or GENERIC_KIND):
            return marker
        return write_bytes(marker, body)
    bucket, key = split_s3(marker)
    try:
        existing = _parse_marker(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    except Exception:  # noqa: BLE001 - absent
        existing = None
    if existing is not None and existing.get("state") != "publishing" and existing.get("kind") == (kind or GENERIC_KIND):
        return marker
    try:
        client.put_object(Bucket=bucket, Key=key, Body=body)
    except Exception as exc:  # noqa: BLE001
        raise _s3_error(marker, exc) from exc
    return marker


def _foreign(files: list[str], marker_of) -> list[str]:
    """The relative paths among ``files`` (every file below an output directory) that Airsage did not
    write: a file is Airsage's when a directory enclosing it carries an Airsage marker (the directory is
    Airsage's output as a whole: its sidecars and files of older runs go with it), or when it is an
    Airsage temporary. A folder without a marker is Airsage's only if everything in it is."""
    markers: dict[str, dict | None] = {}
    for f in files:
        if f.rsplit("/", 1)[-1] == SUCCESS_MARKER:
            d = f.rsplit("/", 1)[0] if "/" in f else ""
            markers[d] = marker_of(d)
    foreign = []
    for f in files:
        parts = f.split("/")
        if any(_TEMP_NAME.match(p) for p in parts):
            continue
        owner = None
        for depth in range(len(parts) - 1, -1, -1):
            d = "/".join(parts[:depth])
            if markers.get(d) is not None:
                owner = d
                break
        if owner is None:
            foreign.append(f)
    return foreign


def _local_files(root: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):  # does not follow symlinked directories
        rel = os.path.relpath(dirpath, root)
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            out.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return sorted(out)


def _s3_files(uri: str) -> list[str]:
    return sorted(relative(u, uri) for u in _list_all_s3(uri))


def check_output(uri: str, *, inputs: tuple[str, ...] | list[str] = (), force: bool = False,
                 kind: str | None = None) -> dict[str, Any]:
    """Refuse an output location before anything is written; every directory publish goes through it.

    * The output must not be, contain or lie inside any of ``inputs`` (symlinks and ``..`` resolved):
      never overridable.
    * It must not be a symbolic link, the file-system root, a top-level directory, the home directory,
      or a bucket root.
    * An existing directory (prefix) may be replaced only when Airsage published it — its ``_SUCCESS``
      marker is Airsage's, of the same ``kind`` — or when every file in it lies in such a directory
      (a run folder holding a published ``_staging``). ``force``
      overrides this rule only; the foreign content is then moved aside (never deleted).

    Returns ``{"uri", "exists", "set_aside", "marker"}`` for the publisher."""
    raw = str(uri)
    flag = "--force (force=True)"
    if is_s3(raw):
        bucket, key = split_s3(raw)
        parts = key.rstrip("/").split("/")
        if not key.strip("/"):
            _refuse(f"output {raw} is a bucket root", "Write below a prefix, e.g. s3://bucket/airsage/predictions/...")
        if any(p in (".", "..", "") for p in parts):
            _refuse(f"output {raw} has '.', '..' or empty path segments", "Give the output prefix in plain form.")
    else:
        path = _abs_local(raw)
        if path.is_symlink():
            _refuse(f"output {raw} is a symbolic link (to {os.path.realpath(path)})",
                    "Point the output at the real directory, or at a new one.")
        real = path.resolve()
        if len(real.parts) <= 2 or real == Path.home().resolve():
            _refuse(f"output {raw} resolves to {real}, a top-level or home directory",
                    "Write outputs to a dedicated folder below your data root, e.g. <data root>/predictions/dt=...")
    target = _resolved(raw)
    for inp in inputs or ():
        if inp in (None, ""):
            continue
        how = overlap(target, str(inp))
        if how:
            _refuse(f"output {raw} {how} the input {inp}: publishing it would "
                    + ("replace the input" if how != "lies inside" else "put the output inside its own input"),
                    "Write the output to a separate location (a sibling folder or prefix), never onto or inside an input.")
    info: dict[str, Any] = {"uri": target, "exists": False, "set_aside": False, "marker": None}
    if is_s3(target):
        files = _s3_files(target)
        info["exists"] = bool(files)
        marker_of = lambda d: _parse_marker(_s3_get(join(target, d, SUCCESS_MARKER) if d else join(target, SUCCESS_MARKER)))  # noqa: E731
    else:
        path = Path(target)
        if path.exists() and not path.is_dir():
            if not force:
                _refuse(f"output {raw} is an existing file, not a directory Airsage published",
                        f"Choose another output location, or pass {flag} to move the file aside.")
            return {**info, "exists": True, "set_aside": True}
        files = _local_files(path) if path.is_dir() else []
        info["exists"] = path.is_dir()
        marker_of = lambda d: _parse_marker(_read_local(path / d / SUCCESS_MARKER))  # noqa: E731
    if not files:
        return info
    foreign = _foreign(files, marker_of)
    marker = marker_of("")
    info["marker"] = marker
    problem = None
    if foreign:
        shown = ", ".join(foreign[:_SHOWN]) + (f" (+{len(foreign) - _SHOWN} more)" if len(foreign) > _SHOWN else "")
        problem = (f"output {raw} already holds {len(foreign)} file(s) that Airsage did not publish there "
                   f"({shown})")
    elif marker is not None and kind and marker.get("kind") not in (kind, None):
        problem = (f"output {raw} is a {marker.get('kind')!r} output published by Airsage "
                   f"(at {marker.get('published_at')}), not a {kind!r} output")
    if problem:
        if not force:
            _refuse(problem + ": refusing to replace it",
                    f"Choose another (new or empty) output location, or pass {flag} to move the existing content "
                    "aside (nothing is deleted).")
        info["set_aside"] = True
    return info


def _read_local(path: Path) -> bytes | None:
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None


def _s3_get(uri: str) -> bytes | None:
    bucket, key = split_s3(uri)
    try:
        return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception:  # noqa: BLE001 - absent
        return None


def _aside_name(name: str) -> str:
    import datetime as dt

    return f"{name}.replaced-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:4]}"


# --------------------------------------------------------------------------- publishing a directory
@contextlib.contextmanager
def atomic_dir(uri: str, *, inputs: tuple[str, ...] | list[str] = (), force: bool = False,
               kind: str | None = None) -> Iterator[Path]:
    """Stage a whole directory locally; on success it replaces ``uri`` as a unit.

    ``check_output`` runs first (and again just before the swap): the output may not overlap
    ``inputs`` and may replace only a directory Airsage published as the same ``kind`` (``force``:
    foreign content is moved aside to ``<name>.replaced-<time>``, never deleted). The ``_SUCCESS``
    marker written last records kind, time, inputs and files (the ownership record).

    Locally the staged directory is renamed into place (the old one is swapped out first and
    removed after), so readers see the old or the new output, never a mix. A killed run's stage is
    removed by the next run of the same target (a lock tells it from a live writer's). On S3 the
    files are uploaded under a "publishing" marker, stale keys of the previous output removed, and
    the final marker written last; readers of an S3 output wait for it (``is_complete``).
    """
    inputs = tuple(str(i) for i in inputs or () if i not in (None, ""))
    check_output(uri, inputs=inputs, force=force, kind=kind)
    if is_s3(uri):
        with private_workdir("stage", uri) as stage:
            yield stage
            _publish_s3(_resolved(uri), stage, inputs=inputs, force=force, kind=kind)
        return
    target = _abs_local(uri).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}."
    _sweep_dead(target.parent, prefix, restore_to=target)
    token = uuid.uuid4().hex[:8]
    stage = target.with_name(f"{prefix}stage-{token}")
    with _held_lock(target.with_name(f"{prefix}stage-{token}.lock")):
        stage.mkdir()
        try:
            yield stage
            files = [f for f in _local_files(stage) if f != SUCCESS_MARKER]
            (stage / SUCCESS_MARKER).write_text(json.dumps(marker_document(kind, files, inputs=inputs), indent=1))
            info = check_output(str(target), inputs=inputs, force=force, kind=kind)  # what is there now
            old = None
            if target.exists() or target.is_symlink():
                if info["set_aside"]:
                    aside = target.with_name(_aside_name(target.name))
                    os.rename(target, aside)
                    log.warning("moved the previous content of %s aside to %s (force)", target, aside)
                else:
                    old = target.with_name(f"{prefix}old-{token}")
                    os.rename(target, old)
            os.rename(stage, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)  # every file in it was Airsage's (checked above)
        finally:
            if stage.exists():
                shutil.rmtree(stage, ignore_errors=True)


def _publish_s3(uri: str, stage: Path, *, inputs: tuple[str, ...], force: bool, kind: str | None) -> None:
    bucket, _ = split_s3(uri)
    client = s3_client()
    info = check_output(uri, inputs=inputs, force=force, kind=kind)
    if info["set_aside"]:  # move the foreign objects to a sibling prefix (copy, then delete the originals)
        aside = uri.rstrip("/") + "." + _aside_name("")[1:]
        for src in _list_all_s3(uri):
            rel = relative(src, uri)
            client.copy_object(Bucket=bucket, Key=split_s3(join(aside, rel))[1],
                               CopySource={"Bucket": bucket, "Key": split_s3(src)[1]})
            client.delete_object(Bucket=bucket, Key=split_s3(src)[1])
        log.warning("moved the previous content of %s aside to %s (force)", uri, aside)
    marker_key = split_s3(join(uri, SUCCESS_MARKER))[1]
    local = [f for f in _local_files(stage) if f != SUCCESS_MARKER]
    new_keys = {split_s3(join(uri, rel))[1]: rel for rel in local}
    present = [split_s3(u)[1] for u in _list_all_s3(uri)]
    # 1. a "publishing" marker: the prefix stays ours if this run is killed, and readers wait
    listed = sorted({relative(f"s3://{bucket}/{k}", uri) for k in present if k != marker_key} | set(local))
    client.put_object(Bucket=bucket, Key=marker_key,
                      Body=json.dumps(marker_document(kind, listed, inputs=inputs, state="publishing")).encode())
    for key, rel in sorted(new_keys.items()):
        client.upload_file(str(stage / rel), bucket, key)
    stale = [k for k in present if k not in new_keys and k != marker_key]
    for i in range(0, len(stale), 1000):
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[i:i + 1000]]})
    client.put_object(Bucket=bucket, Key=marker_key,
                      Body=json.dumps(marker_document(kind, local, inputs=inputs)).encode())


def is_complete(uri: str) -> bool:
    """True when a directory output is complete: its ``_SUCCESS`` marker exists and is not the
    "publishing" marker of an S3 publish still in progress (or killed)."""
    marker = join(uri, SUCCESS_MARKER)
    if not is_s3(uri):
        data = _read_local(_local(marker))
        return data is not None and (_parse_marker(data) or {}).get("state") != "publishing"
    data = _s3_get(marker)
    return data is not None and (_parse_marker(data) or {}).get("state") != "publishing"
