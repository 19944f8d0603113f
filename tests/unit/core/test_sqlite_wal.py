"""The embedded Airflow metadata DB runs in SQLite's write-ahead-log mode (readers do not wait for a writer)."""
from __future__ import annotations

import sqlite3


def test_sqlite_wal_switches_the_file_and_leaves_other_databases_alone(tmp_path):
    from airsage.demo import sqlite_wal

    db = tmp_path / "airflow.db"
    sqlite3.connect(db).execute("create table t (x)")
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert sqlite_wal(f"sqlite:///{db}?timeout=30")
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # kept by the file
    assert sqlite_wal(f"sqlite:///{db}")  # idempotent
    assert not sqlite_wal("postgresql+psycopg2://airflow@localhost/airflow")
