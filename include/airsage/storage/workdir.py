"""Private scratch directories (``private_workdir``) and the removal of what killed runs left behind
(stages, swapped-out outputs, scratch folders): a lock that no live process holds marks a dead writer."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("airsage.storage")
STALE_AFTER_S = 6 * 3600  # leftovers without a lock file (older versions) are removed after this age


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


def _sweep_stale(target: Path) -> None:
    """Remove staging / swapped-out directories that killed runs left beside ``target``."""
    _sweep_dead(target.parent, f".{target.name}.", restore_to=target)
