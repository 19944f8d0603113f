"""One URI-based storage layer: a local path (or ``file://``) or ``s3://bucket/key``.

Every write is atomic: a file is written under a temporary name and then published
(``os.replace`` locally, a single PUT on S3), and a directory is staged beside its
target and swapped in, so no reader ever sees a half-written output.

S3 goes through boto3. The endpoint comes from boto3's own ``AWS_ENDPOINT_URL``
(moto's server in tests, MinIO in docker-compose); credentials from the usual chain, or, inside an
Airflow task, from the Airflow AWS connection (``set_s3_client_factory``, installed by the glue).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airsage.errors import StorageError

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


def list_files(prefix: str, *, suffixes: tuple[str, ...] | None = None) -> list[str]:
    """Every file below ``prefix`` (recursive), sorted; ``prefix`` may also name one file (local or S3
    object), which is then the only one. Names and folders starting with ``.`` or ``_`` (temporary files,
    ``_SUCCESS`` markers, sidecars such as ``_review/``) are skipped below a folder."""
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
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = [d for d in dirnames if not d.startswith((".", "_"))]
                out += [os.path.join(dirpath, f) for f in filenames if not f.startswith((".", "_"))]
    if suffixes:
        out = [u for u in out if u.endswith(suffixes)]
    return sorted(out)


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
    with tempfile.TemporaryDirectory(prefix="airsage-dl-") as tmp:
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
            shutil.copytree(src, local_dir, dirs_exist_ok=True)
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
def atomic_path(uri: str) -> Iterator[Path]:
    """Yield a temporary local file path; on success publish it at ``uri`` atomically."""
    if is_s3(uri):
        with tempfile.TemporaryDirectory(prefix="airsage-up-") as tmp:
            path = Path(tmp) / "object"
            yield path
            bucket, key = split_s3(uri)
            try:
                s3_client().upload_file(str(path), bucket, key)
            except Exception as exc:  # noqa: BLE001
                raise _s3_error(uri, exc) from exc
        return
    target = _local(uri)
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


@contextlib.contextmanager
def atomic_dir(uri: str) -> Iterator[Path]:
    """Stage a whole directory locally; on success it replaces ``uri`` as a unit.

    Locally the staged directory is renamed into place (the old one is swapped out first and
    removed after), so readers see the old or the new output, never a mix. On S3 the files are
    uploaded, stale keys of the previous output removed, and a ``_SUCCESS`` marker written last;
    readers of an S3 output wait for that marker (``is_complete``).
    """
    if is_s3(uri):
        with tempfile.TemporaryDirectory(prefix="airsage-stage-") as tmp:
            stage = Path(tmp)
            yield stage
            bucket, _ = split_s3(uri)
            client = s3_client()
            marker = join(uri, SUCCESS_MARKER)
            if exists(marker):
                delete(marker)
            new_keys = set()
            for f in sorted(p for p in stage.rglob("*") if p.is_file()):
                key = split_s3(join(uri, f.relative_to(stage).as_posix()))[1]
                client.upload_file(str(f), bucket, key)
                new_keys.add(key)
            stale = [k for k in (split_s3(u)[1] for u in _list_all_s3(uri)) if k not in new_keys]
            for i in range(0, len(stale), 1000):
                client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[i:i + 1000]]})
            client.put_object(Bucket=bucket, Key=split_s3(marker)[1], Body=b"")
        return
    target = _local(uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale(target)
    stage = target.with_name(f".{target.name}.stage-{uuid.uuid4().hex[:8]}")
    stage.mkdir()
    try:
        yield stage
        (stage / SUCCESS_MARKER).write_bytes(b"")
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
            os.rename(target, old)
        os.rename(stage, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


STALE_AFTER_S = 6 * 3600


def _sweep_stale(target: Path) -> None:
    """Remove staging / swapped-out directories that a killed run left beside ``target`` (older than 6 h,
    so a concurrent writer's live stage is never touched)."""
    import time

    for leftover in list(target.parent.glob(f".{target.name}.stage-*")) + list(target.parent.glob(f".{target.name}.old-*")):
        try:
            if time.time() - leftover.stat().st_mtime > STALE_AFTER_S:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


def is_complete(uri: str) -> bool:
    """True when a directory output published by ``atomic_dir`` is complete."""
    return exists(join(uri, SUCCESS_MARKER))


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
