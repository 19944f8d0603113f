"""Reading and writing files, local or on S3. Every write is atomic: a file is written under a temporary
name and then published (``os.replace`` locally, a single PUT on S3), so no reader sees half a file."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airsage.errors import StorageError
from airsage.storage.uri import _inside, _local, _refuse, _s3_error, is_s3, overlap, relative, s3_client, split_s3
from airsage.storage.workdir import private_workdir

log = logging.getLogger("airsage.storage")


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
