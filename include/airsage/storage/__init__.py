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

The layer is split by concern (``uri``: locations and the S3 client; ``files``: reading and atomic
writes; ``outputs``: output checks, markers and directory publishing; ``workdir``: scratch folders and
the leftovers of killed runs); every name is importable from ``airsage.storage``.
"""
from __future__ import annotations

from typing import Any

from airsage.errors import StorageError  # noqa: F401
from airsage.storage import uri as _uri
from airsage.storage.files import (_json_default, _list_all_s3, _tmp_sibling, atomic_open, atomic_path,  # noqa: F401
                                   delete, download_dir, exists, list_files, local_copy, log, read_bytes, read_json,
                                   read_text, unpack_tar, upload_file, write_bytes, write_if_absent, write_json,
                                   write_text)
from airsage.storage.outputs import (_SHOWN, _TEMP_NAME, GENERIC_KIND, MARKER_FORMAT, _aside_name,  # noqa: F401
                                     _foreign, _local_files, _parse_marker, _publish_s3, _read_local, _s3_files,
                                     _s3_get, atomic_dir, check_output, is_complete, mark_complete, marker_document,
                                     read_marker)
from airsage.storage.uri import (_S3, SUCCESS_MARKER, _abs_local, _inside, _local, _refuse,  # noqa: F401
                                 _resolved, _s3_error, _segments, is_s3, join, normalize, overlap, relative,
                                 s3_client, set_s3_client_factory, split_s3)
from airsage.storage.workdir import (STALE_AFTER_S, WORK_ROOT_ENV, _held_lock, _owner_dead,  # noqa: F401
                                     _sweep_dead, _sweep_stale, private_workdir)


def __getattr__(name: str) -> Any:
    if name == "_s3_client_factory":  # the current factory lives with ``s3_client`` (set_s3_client_factory)
        return _uri._s3_client_factory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
