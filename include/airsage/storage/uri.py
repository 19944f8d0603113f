"""URI primitives of the storage layer: local paths (or ``file://``) and ``s3://bucket/key``, the S3 client
(``set_s3_client_factory``), and how two locations overlap once resolved (for the output checks)."""
from __future__ import annotations

import os
from pathlib import Path

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


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def relative(uri: str, base: str) -> str:
    """Path of ``uri`` relative to ``base`` (both of the same kind)."""
    if is_s3(uri):
        return uri[len(base.rstrip("/")) + 1:]
    return os.path.relpath(_local(uri), _local(base))


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


def _refuse(message: str, fix: str) -> None:
    from airsage.errors import OutputRefusedError

    raise OutputRefusedError(message, fix=fix)
