"""One URI-based storage layer: a local path (or ``file://``) or ``s3://bucket/key``.

Every write is atomic: a file is written under a temporary name and then published
(``os.replace`` locally, a single PUT on S3), and a directory is staged beside its
target and swapped in, so no reader ever sees a half-written output.

Every directory publish goes through ``check_output`` (``atomic_dir`` calls it): an output may not be,
contain or lie inside an input, and may replace only a directory that Airsage published (its
``_SUCCESS`` marker is an ownership record); ``force`` moves foreign content aside, never deletes it.
What a killed run left (stages, scratch folders) is removed by the next run of the same target.

S3 goes through boto3. The endpoint comes from boto3's own ``AWS_ENDPOINT_URL``
(moto's server in tests, MinIO in docker-compose); credentials from the usual chain, or, inside an
Airflow task, from the Airflow AWS connection (``set_s3_client_factory``, installed by the glue).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airsage.errors import StorageError

log = logging.getLogger("airsage.storage")
_S3 = "s3://"
SUCCESS_MARKER = "_SUCCESS"


def is_s3(uri: str) -> bool:
    return str(uri).startswith(_S3)


def _local(uri: str) -> Path:
    uri = str(uri)
    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    return Path(uri)


def normalize(uri: str | os.PathLike) -> str:
    """Local paths become absolute; S3 URIs are kept as they are (without a trailing slash)."""
    uri = str(uri)
    if is_s3(uri):
        return uri.rstrip("/") if uri.count("/") > 2 else uri
    return str(_local(uri).expanduser().resolve())


def join(uri: str, *parts: str) -> str:
    uri = str(uri)
    clean = [str(p).strip("/") for p in parts if str(p).strip("/")]
    if is_s3(uri):
        return "/".join([uri.rstrip("/"), *clean])
    return str(_local(uri).joinpath(*clean))


def split_s3(uri: str) -> tuple[str, str]:
    if not is_s3(uri):
        raise StorageError(f"{uri!r} is not an s3:// URI", fix="Use s3://bucket/key.")
    rest = uri[len(_S3):]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise StorageError(f"{uri!r} names no bucket", fix="Use s3://bucket/key.")
    return bucket, key


_s3_client_factory = None


def set_s3_client_factory(factory) -> None:
    """Where S3 clients come from (``None``: boto3's default chain). The Airflow glue installs one that
    uses the Airflow AWS connection (``airsage_airflow.aws``); this module never imports Airflow."""
    global _s3_client_factory
    _s3_client_factory = factory


def s3_client():
    if _s3_client_factory is not None:
        return _s3_client_factory()
    import boto3  # local import: boto3 is not needed for local-only work

    return boto3.client("s3")


def _s3_error(uri: str, exc: Exception) -> StorageError:
    return StorageError(f"S3 access to {uri} failed: {exc}",
                        fix="Check the bucket exists, the credentials (AWS connection) and AWS_ENDPOINT_URL.")


# --------------------------------------------------------------------------- reading
def exists(uri: str) -> bool:
    if is_s3(uri):
        bucket, key = split_s3(uri)
        client = s3_client()
        try:
            client.head_object(Bucket=bucket, Key=key)
            return True
        except Exception:  # noqa: BLE001 - a "prefix" exists when it has objects below it
            resp = client.list_objects_v2(Bucket=bucket, Prefix=key.rstrip("/") + "/", MaxKeys=1)
            return resp.get("KeyCount", 0) > 0
    return _local(uri).exists()


def read_bytes(uri: str) -> bytes:
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:  # noqa: BLE001
            raise _s3_error(uri, exc) from exc
    try:
        return _local(uri).read_bytes()
    except FileNotFoundError as exc:
        raise StorageError(f"{uri} does not exist", fix="Check the path (and the use case's data.root).") from exc


def read_text(uri: str) -> str:
    return read_bytes(uri).decode("utf-8")


def read_json(uri: str) -> Any:
    return json.loads(read_bytes(uri))


def list_files(prefix: str, *, suffixes: tuple[str, ...] | None = None,
               escaped: list[str] | None = None) -> list[str]:
    """Every file below ``prefix`` (recursive), sorted; ``prefix`` may also name one file (local or S3
    object), which is then the only one. Names and folders starting with ``.`` or ``_`` (temporary files,
    ``_SUCCESS`` markers, sidecars such as ``_review/``) are skipped below a folder.

    Symbolic links are never followed out of a local folder: a linked folder is not descended, and a
    linked file whose target lies outside ``prefix`` is left out (and appended to ``escaped`` when
    given, so the caller can quarantine it by name without reading it)."""
    out: list[str] = []
    if is_s3(prefix):
        bucket, key = split_s3(prefix)
        key = key.rstrip("/")
        folder = key + "/" if key else ""
        paginator = s3_client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=key):
            for obj in page.get("Contents", []):
                if key and obj["Key"] == key:  # the prefix names one object
                    out.append(f"s3://{bucket}/{obj['Key']}")
                    continue
                if not obj["Key"].startswith(folder):  # a sibling such as <key>-other
                    continue
                parts = obj["Key"][len(folder):].split("/")
                if parts[-1] and not any(p.startswith((".", "_")) for p in parts):
                    out.append(f"s3://{bucket}/{obj['Key']}")
    else:
        root = _local(prefix)
        if root.is_file():
            out = [str(root)]
        elif root.is_dir():
            real_root = root.resolve()
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = [d for d in dirnames if not d.startswith((".", "_"))]
                for d in dirnames:
                    if os.path.islink(os.path.join(dirpath, d)):
                        log.warning("not following the symbolic link %s", os.path.join(dirpath, d))
                for f in filenames:
                    if f.startswith((".", "_")):
                        continue
                    full = os.path.join(dirpath, f)
                    if os.path.islink(full) and not _inside(Path(full).resolve(), real_root):
                        log.warning("skipping %s: a symbolic link to %s, outside %s", full, "<elsewhere>", root)
                        if escaped is not None:
                            escaped.append(full)
                        continue
                    out.append(full)
    if suffixes:
        out = [u for u in out if u.endswith(suffixes)]
    return sorted(out)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def relative(uri: str, base: str) -> str:
    """Path of ``uri`` relative to ``base`` (both of the same kind)."""
    if is_s3(uri):
        return uri[len(base.rstrip("/")) + 1:]
    return os.path.relpath(_local(uri), _local(base))


@contextlib.contextmanager
def local_copy(uri: str) -> Iterator[Path]:
    """A local path holding ``uri``'s content (the file itself when it is local)."""
    if not is_s3(uri):
        yield _local(uri)
        return
    with private_workdir("download", uri) as tmp:
        target = Path(tmp) / (uri.rstrip("/").rsplit("/", 1)[-1] or "object")
        bucket, key = split_s3(uri)
        try:
            s3_client().download_file(bucket, key, str(target))
        except Exception as exc:  # noqa: BLE001
            raise _s3_error(uri, exc) from exc
        yield target


def download_dir(uri: str, local_dir: str | Path) -> Path:
    local_dir = Path(local_dir)
    local_dir.mkdir(parents=True, exist_ok=True)
    if not is_s3(uri):
        src = _local(uri)
        if src.is_file():
            shutil.copy2(src, local_dir / src.name)
        else:
            real = src.resolve()

            def escaping(folder: str, names: list[str]) -> list[str]:  # never copy a link's target from elsewhere
                return [n for n in names if os.path.islink(os.path.join(folder, n))
                        and not _inside(Path(folder, n).resolve(), real)]

            shutil.copytree(src, local_dir, dirs_exist_ok=True, ignore=escaping)
        return local_dir
    bucket, _ = split_s3(uri)
    client = s3_client()
    for f in list_files(uri):
        rel = relative(f, uri) if f != uri else f.rsplit("/", 1)[-1]
        dest = local_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, split_s3(f)[1], str(dest))
    return local_dir


# --------------------------------------------------------------------------- writing
def _tmp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")


@contextlib.contextmanager
def atomic_path(uri: str, *, inputs: tuple[str, ...] | list[str] = ()) -> Iterator[Path]:
    """Yield a temporary local file path; on success publish it at ``uri`` atomically. The file may not
    be one of ``inputs`` nor lie inside one, and may not replace a directory."""
    for inp in inputs or ():
        if inp not in (None, "") and overlap(uri, str(inp)) in ("is", "lies inside"):
            _refuse(f"output file {uri} {overlap(uri, str(inp))} the input {inp}",
                    "Write the output to a separate location, never onto or inside an input.")
    if is_s3(uri):
        with private_workdir("upload", uri) as tmp:
            path = Path(tmp) / "object"
            yield path
            bucket, key = split_s3(uri)
            try:
                s3_client().upload_file(str(path), bucket, key)
            except Exception as exc:  # noqa: BLE001
                raise _s3_error(uri, exc) from exc
        return
    target = _local(uri)
    if target.is_dir() and not target.is_symlink():
        _refuse(f"output file {uri} is an existing directory", "Name a file, not a folder, as the output.")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(target)
    try:
        yield tmp
        if not tmp.exists():
            raise StorageError(f"nothing was written for {uri}")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_open(uri: str, mode: str = "wb", **kwargs) -> Iterator[Any]:
    with atomic_path(uri) as path, open(path, mode, **kwargs) as fh:
        yield fh


def write_bytes(uri: str, data: bytes) -> str:
    with atomic_open(uri, "wb") as fh:
        fh.write(data)
    return uri


def write_text(uri: str, text: str) -> str:
    return write_bytes(uri, text.encode("utf-8"))


def write_json(uri: str, obj: Any, *, indent: int | None = 2) -> str:
    return write_text(uri, json.dumps(obj, indent=indent, sort_keys=False, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


def write_if_absent(uri: str, data: bytes) -> bool:
    """Create ``uri`` only if it does not exist (immutable, append-only objects). True if written."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        client = s3_client()
        try:
            client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
            return True
        except client.exceptions.ClientError as exc:  # 412: somebody wrote it first
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                return False
            raise _s3_error(uri, exc) from exc
    target = _local(uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(target)
    tmp.write_bytes(data)
    try:
        os.link(tmp, target)  # atomic create-if-absent
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink()


def delete(uri: str) -> None:
    """Delete a file or a whole prefix/directory (no error when absent)."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        client = s3_client()
        keys = [split_s3(f)[1] for f in _list_all_s3(uri)]
        if exists(uri) and key not in keys:
            keys.append(key)
        for i in range(0, len(keys), 1000):
            client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]]})
        return
    p = _local(uri)
    if p.is_dir():
        shutil.rmtree(p)
    elif p.exists():
        p.unlink()


def _list_all_s3(prefix: str) -> list[str]:
    bucket, key = split_s3(prefix)
    key = key.rstrip("/") + "/" if key else ""
    out = []
    for page in s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        out += [f"s3://{bucket}/{o['Key']}" for o in page.get("Contents", [])]
    return out


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


def _abs_local(uri: str | os.PathLike) -> Path:
    return Path(os.path.abspath(os.path.expanduser(str(_local(str(uri))))))


def _resolved(uri: str) -> str:
    """Local: absolute with symlinks and ``..`` resolved; S3: as given, without a trailing slash."""
    uri = str(uri)
    if is_s3(uri):
        return uri.rstrip("/") if uri.count("/") > 2 else uri
    return str(_abs_local(uri).resolve())


def _segments(uri: str) -> tuple[str, ...]:
    if is_s3(uri):
        bucket, key = split_s3(uri)
        return ("s3", bucket, *[p for p in key.split("/") if p])
    return ("file", *Path(uri).parts)


def overlap(output_uri: str, input_uri: str) -> str | None:
    """How ``output_uri`` overlaps ``input_uri`` ("is", "lies inside", "contains") after resolving
    symlinks and ``..``; None when they are apart. Local paths never overlap S3 URIs."""
    out, inp = _segments(_resolved(output_uri)), _segments(_resolved(input_uri))
    if out == inp:
        return "is"
    if out[:len(inp)] == inp:
        return "lies inside"
    if inp[:len(out)] == out:
        return "contains"
    return None


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


def _refuse(message: str, fix: str) -> None:
    from airsage.errors import OutputRefusedError

    raise OutputRefusedError(message, fix=fix)


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


# --------------------------------------------------------------------------- leftovers of killed runs
@contextlib.contextmanager
def _held_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created) for the block; the OS releases it if the process dies."""
    import fcntl

    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        try:
            path.unlink()
        except OSError:
            pass
        os.close(fd)


def _owner_dead(lock: Path) -> bool:
    """True when no live process holds ``lock`` (its writer was killed)."""
    import fcntl

    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False  # gone: its writer finished meanwhile
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing releases our probe lock


def _sweep_dead(parent: Path, prefix: str, restore_to: Path | None = None) -> None:
    """Remove what killed writers left in ``parent`` under names ``<prefix><kind>-<token>``: entries whose
    lock (``<prefix>stage-<token>.lock``) no live process holds are removed whatever their age; a
    swapped-out previous output (``old``) is put back when the target itself is missing. Entries without
    a lock file (older Airsage versions) are removed after ``STALE_AFTER_S``."""
    import time

    if not parent.is_dir():
        return
    for entry in sorted(parent.iterdir()):
        name = entry.name
        if not name.startswith(prefix) or name.endswith(".lock"):
            continue
        m = re.fullmatch(r"(stage|old|tmp)-([0-9a-f]{8})", name[len(prefix):])
        if not m:
            continue
        lock = parent / f"{prefix}stage-{m.group(2)}.lock"
        try:
            if lock.exists():
                if not _owner_dead(lock):
                    continue
            elif time.time() - entry.lstat().st_mtime <= STALE_AFTER_S:
                continue
            if m.group(1) == "old" and restore_to is not None and not restore_to.exists():
                os.rename(entry, restore_to)  # killed between the two renames: the previous output comes back
                log.warning("restored %s from %s (a killed run had swapped it out)", restore_to, entry)
            elif entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            if lock.exists() and not any(parent.glob(f"{prefix}*-{m.group(2)}")):
                lock.unlink(missing_ok=True)
        except OSError:
            pass
    for lock in parent.glob(f"{prefix}stage-*.lock"):  # a lock whose entries are gone
        token = lock.name[len(prefix) + len("stage-"):-len(".lock")]
        if not any(parent.glob(f"{prefix}*-{token}")) and _owner_dead(lock):
            lock.unlink(missing_ok=True)


WORK_ROOT_ENV = "AIRSAGE_WORK_DIR"


@contextlib.contextmanager
def private_workdir(purpose: str, key: str) -> Iterator[Path]:
    """A private local scratch directory for work on ``key`` (an output URI): removed at the end, and —
    should the process be killed — by the next ``private_workdir`` of the same purpose and key, whatever
    its age (a lock tells a dead owner from a live one)."""
    import hashlib

    base = Path(os.environ.get(WORK_ROOT_ENV) or tempfile.gettempdir()) / "airsage-work"
    base.mkdir(parents=True, exist_ok=True)
    prefix = f".{purpose}-{hashlib.sha1(str(key).encode()).hexdigest()[:12]}."
    _sweep_dead(base, prefix)
    token = uuid.uuid4().hex[:8]
    work = base / f"{prefix}stage-{token}"
    with _held_lock(base / f"{prefix}stage-{token}.lock"):
        work.mkdir()
        try:
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)


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


STALE_AFTER_S = 6 * 3600  # leftovers without a lock file (older versions) are removed after this age


def _sweep_stale(target: Path) -> None:
    """Remove staging / swapped-out directories that killed runs left beside ``target``."""
    _sweep_dead(target.parent, f".{target.name}.", restore_to=target)


def is_complete(uri: str) -> bool:
    """True when a directory output is complete: its ``_SUCCESS`` marker exists and is not the
    "publishing" marker of an S3 publish still in progress (or killed)."""
    marker = join(uri, SUCCESS_MARKER)
    if not is_s3(uri):
        data = _read_local(_local(marker))
        return data is not None and (_parse_marker(data) or {}).get("state") != "publishing"
    data = _s3_get(marker)
    return data is not None and (_parse_marker(data) or {}).get("state") != "publishing"


def upload_file(local: str | Path, uri: str) -> str:
    with atomic_path(uri) as tmp:
        shutil.copyfile(local, tmp)
    return uri


def unpack_tar(uri: str, dest: str | Path) -> Path:
    """Unpack a ``.tar.gz`` (e.g. a SageMaker ``model.tar.gz``) into ``dest``; a directory is copied."""
    import tarfile

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if str(uri).endswith((".tar.gz", ".tgz")):
        with local_copy(uri) as local, tarfile.open(local, "r:gz") as tar:
            tar.extractall(dest, filter="data")
    else:
        download_dir(uri, dest)
    return dest
