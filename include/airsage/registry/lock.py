"""An exclusive, cross-process lock around each registry mutation (one lock file per model).

``fcntl.flock`` on ``<settings.home>/locks/registry-<model>.lock``: held per open file description,
so it excludes other threads (each opens the file itself) and other processes on the same host, and
the kernel releases it when a holder dies. It does not span hosts: a multi-host Airflow deployment
also routes every registry-mutating task through the Airflow pool ``airsage_registry`` (1 slot).
The audit log's create-if-absent sequence numbers stay consistent even without the lock.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from airsage.errors import TransientError
from airsage.registry.audit import safe_name


@contextlib.contextmanager
def registry_lock(lock_dir: str | os.PathLike, model: str, *, timeout_s: float = 300.0,
                  poll_s: float = 0.05) -> Iterator[Path]:
    """Hold the model's registry lock; raise ``TransientError`` (retryable) after ``timeout_s``."""
    path = Path(lock_dir) / f"registry-{safe_name(model)}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TransientError(f"the registry lock {path} was busy for {timeout_s:.0f} s",
                                         fix="Retry; if it stays busy, find the process holding it "
                                             f"(fuser {path}).") from None
                time.sleep(poll_s)
        try:
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
