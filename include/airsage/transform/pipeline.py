"""The engine's Parquet pipeline: read -> predict -> write (-> write capture), plus optional side
consumers (shadow challengers), each stage in its own thread so they overlap (pyarrow and XGBoost
release the GIL)."""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

IN_FLIGHT = 3  # row groups alive at once: one being read, one predicted, one written (bounds memory)
END = object()


def run_pipeline(items: list[int], read: Callable, predict: Callable, write: Callable,
                 write_capture: Callable | None = None, sides: Sequence[Callable] = (),
                 in_flight: int = IN_FLIGHT) -> None:
    """Run read -> predict -> write (-> write_capture) over ``items`` in order, the stages overlapping in
    threads. ``read(item)`` returns ``(table, x, ids, extra)``; ``write`` returns what ``write_capture``
    needs besides the row group (the labels).

    Each ``side(item, x, ids, scores, extra)`` runs in its own thread beside the writer, on every row
    group in order. A side must not raise (it records its own failure and returns at once from then on):
    an exception escaping it is dropped, never stopping the other stages.

    The reader takes a slot before reading and the last consumer of a row group frees it, so at most
    ``in_flight`` row groups are alive. The first error in a main stage stops the others and is re-raised."""
    q_read: queue.Queue = queue.Queue()
    q_write: queue.Queue = queue.Queue()
    q_capture: queue.Queue = queue.Queue()
    q_sides: list[queue.Queue] = [queue.Queue() for _ in sides]
    slots = threading.Semaphore(in_flight)
    stop = threading.Event()
    errors: list[BaseException] = []
    users: dict[int, int] = {}  # row group -> consumers still holding it (only with sides)
    users_lock = threading.Lock()

    def release(item: int) -> None:
        if sides:
            with users_lock:
                users[item] -= 1
                if users[item]:
                    return
                del users[item]
        slots.release()

    def put(q: queue.Queue, item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def get(q: queue.Queue) -> Any:
        while True:
            try:
                return q.get(timeout=0.05)
            except queue.Empty:
                if stop.is_set():
                    return END

    def fail(exc: BaseException) -> None:
        errors.append(exc)
        stop.set()

    def reader() -> None:
        try:
            for item in items:
                while not slots.acquire(timeout=0.05):
                    if stop.is_set():
                        return
                if stop.is_set() or not put(q_read, (item, *read(item))):
                    return
            put(q_read, END)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            fail(exc)

    def writer() -> None:
        try:
            while (got := get(q_write)) is not END:
                item, table, ids, scores = got
                labels = write(table, ids, scores, item)
                if write_capture is not None:
                    if not put(q_capture, (item, table, ids, scores, labels)):
                        return
                else:
                    release(item)
                del got, table, ids, scores, labels
            if write_capture is not None:
                put(q_capture, END)
        except BaseException as exc:  # noqa: BLE001
            fail(exc)

    def capture_writer() -> None:
        try:
            while (got := get(q_capture)) is not END:
                item, table, ids, scores, labels = got
                write_capture(table, ids, scores, labels, item)
                del got, table, ids, scores, labels
                release(item)
        except BaseException as exc:  # noqa: BLE001
            fail(exc)

    def side_runner(side: Callable, q: queue.Queue) -> Callable[[], None]:
        def run() -> None:
            while (got := get(q)) is not END:
                item, x, ids, scores, extra = got
                try:
                    if not stop.is_set():
                        side(item, x, ids, scores, extra)
                except BaseException:  # noqa: BLE001 - a side never stops the champion
                    pass
                finally:
                    del got, x, ids, scores, extra
                    release(item)
        return run

    threads = [threading.Thread(target=reader, name="transform-read", daemon=True),
               threading.Thread(target=writer, name="transform-write", daemon=True)]
    if write_capture is not None:
        threads.append(threading.Thread(target=capture_writer, name="transform-capture", daemon=True))
    threads += [threading.Thread(target=side_runner(s, q), name=f"transform-shadow-{i}", daemon=True)
                for i, (s, q) in enumerate(zip(sides, q_sides))]
    for t in threads:
        t.start()
    try:
        while (got := get(q_read)) is not END:
            item, table, x, ids, extra = got
            scores = predict(x)
            if sides:
                with users_lock:
                    users[item] = 1 + len(sides)
                for q in q_sides:
                    q.put((item, x, ids, scores, extra))
            if not put(q_write, (item, table, ids, scores)):
                break
            del got, table, x, ids, extra, scores
        put(q_write, END)
    except BaseException as exc:  # noqa: BLE001
        fail(exc)
    finally:
        for q in q_sides:
            q.put(END)
        if errors:
            stop.set()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
