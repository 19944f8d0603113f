"""Fixtures for the production-topology tests (docker-compose.yaml's parts, started directly: no Docker here).

* ``postgres`` (session): the local PostgreSQL (``AIRSAGE_TEST_PG_DSN``, default
  ``postgresql://postgres@127.0.0.1:5432/postgres``) or a skip naming why; ``postgres.create(tag)`` makes a
  uniquely-named database and returns its SQLAlchemy URL; every database made is dropped at teardown.
* ``redis_url`` (session): ``redis://127.0.0.1:6379/<n>`` on an empty database index, claimed with a key so
  parallel runs take different ones (or a skip), flushed at teardown.
* ``s3`` (session): moto's server in a thread on 127.0.0.1 and a free port, standing in for MinIO, with the
  buckets ``airsage`` and ``mlflow``; ``s3.env`` is what every process needs to reach it.
* ``mlflow_server`` (session): ``mlflow server`` with a fresh PostgreSQL backend store and its artifacts proxied
  to ``s3://mlflow/artifacts`` (compose's ``mlflow`` service); yields its URL.

Helpers (``Processes``, ``http_json``, ...) live in ``topology_support``.
"""
from __future__ import annotations

import logging
import os
import sys
import urllib.parse
import uuid
from dataclasses import dataclass, field

import pytest
from topology_support import BIN, Processes, clean_env, free_port

REGION = "us-east-1"
PG_DSN = os.environ.get("AIRSAGE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_HOST, REDIS_PORT = os.environ.get("AIRSAGE_TEST_REDIS", "127.0.0.1:6379").rsplit(":", 1)
DB_PREFIX = "airsage_topo_"
BUCKETS = ("airsage", "mlflow")


def pytest_configure(config):
    config.addinivalue_line("markers", "topology: production topology on local PostgreSQL, Redis and moto S3 "
                                       "(skips when a service is not reachable)")


# ---------------------------------------------------------------------- PostgreSQL
@dataclass
class Postgres:
    dsn: str
    created: list[str] = field(default_factory=list)

    def connect(self, dbname: str | None = None):
        import psycopg2

        dsn = self.dsn if dbname is None else _with_db(self.dsn, dbname)
        conn = psycopg2.connect(dsn, connect_timeout=5)
        conn.autocommit = True
        return conn

    def create(self, tag: str) -> str:
        """A fresh, uniquely-named database; returns its ``postgresql+psycopg2://`` URL."""
        name = f"{DB_PREFIX}{tag}_{uuid.uuid4().hex[:10]}"
        conn = self.connect()  # not ``with conn``: psycopg2 2.9 opens a transaction there, and CREATE DATABASE
        try:                   # cannot run inside one
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        self.created.append(name)
        return _with_db(self.dsn, name).replace("postgresql://", "postgresql+psycopg2://", 1)

    def query(self, url: str, sql: str, args: tuple = ()) -> list[tuple]:
        name = urllib.parse.urlsplit(url).path.lstrip("/")
        conn = self.connect(name)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall()
        finally:
            conn.close()

    def drop_all(self) -> None:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                for name in self.created:
                    cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()


def _with_db(dsn: str, dbname: str) -> str:
    parts = urllib.parse.urlsplit(dsn)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{dbname}"))


@pytest.fixture(scope="session")
def postgres():
    pytest.importorskip("psycopg2", reason="psycopg2-binary is not installed (pip install -r requirements.txt)")
    pg = Postgres(PG_DSN)
    try:
        pg.connect().close()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: not reachable here
        pytest.skip(f"PostgreSQL is not reachable at {PG_DSN} ({' '.join(str(exc).split())}); start it with "
                    "'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start' "
                    "or point AIRSAGE_TEST_PG_DSN at one")
    try:
        yield pg
    finally:
        pg.drop_all()


# ---------------------------------------------------------------------- Redis
@pytest.fixture(scope="session")
def redis_url():
    redis = pytest.importorskip("redis", reason="redis (Celery's Redis transport) is not installed")
    try:
        probe = redis.Redis(host=REDIS_HOST, port=int(REDIS_PORT), socket_timeout=5)
        probe.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT} ({' '.join(str(exc).split())}); start "
                    "it with 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no' "
                    "or point AIRSAGE_TEST_REDIS at one")
    try:
        n_dbs = int(probe.config_get("databases").get("databases", 16))
    except redis.RedisError:  # CONFIG may be disabled; 16 is Redis's default
        n_dbs = 16
    claim = f"airsage-topology:{uuid.uuid4().hex}"
    for index in range(n_dbs - 1, 0, -1):  # an empty database index, counting down from the last one
        client = redis.Redis(host=REDIS_HOST, port=int(REDIS_PORT), db=index, socket_timeout=5)
        # claimed with a key of its own, so a second test run at the same time takes another index
        if client.dbsize() == 0 and client.set("airsage-topology:owner", claim, nx=True, ex=3600):
            if client.dbsize() == 1:
                break
            client.delete("airsage-topology:owner")
    else:
        pytest.skip(f"every Redis database index on {REDIS_HOST}:{REDIS_PORT} holds keys; none is free to use")
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{index}"
    finally:
        client.flushdb()


# ---------------------------------------------------------------------- S3 (moto)
@dataclass(frozen=True)
class S3:
    url: str
    env: dict[str, str]

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name=REGION, aws_access_key_id="testing",
                            aws_secret_access_key="testing")

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """moto's server for the session. Its state is process-global: the compute tests' ``aws`` fixture resets it,
    so the buckets are made here and the topology tests never run between those tests."""
    server_mod = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    nothing = tmp_path_factory.mktemp("no-aws-config")
    env = {
        "AWS_ENDPOINT_URL": url, "MLFLOW_S3_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(nothing / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(nothing / "credentials"),
    }
    try:
        store = S3(url, env)
        client = store.client()
        for bucket in BUCKETS:
            client.create_bucket(Bucket=bucket)
        yield store
    finally:
        server.stop()


# ---------------------------------------------------------------------- MLflow server
@dataclass(frozen=True)
class MlflowServer:
    url: str
    backend_store_uri: str
    artifacts_destination: str


@pytest.fixture(scope="session")
def mlflow_server(postgres, s3, tmp_path_factory):
    """compose's ``mlflow`` service: PostgreSQL backend store, artifacts proxied to S3, one worker."""
    store = postgres.create("mlflow")
    port = free_port()
    work = tmp_path_factory.mktemp("mlflow-server")
    procs = Processes(work / "logs")
    # No job runner: it starts seven huey consumers for GenAI jobs Airsage does not use (CPU on 2 cores).
    env = clean_env(**s3.env, MLFLOW_DISABLE_TELEMETRY="true", GIT_PYTHON_REFRESH="quiet",
                    MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    procs.start("mlflow-server", [str(BIN / "mlflow"), "server", "--backend-store-uri", store,
                                  "--artifacts-destination", "s3://mlflow/artifacts", "--serve-artifacts",
                                  "--host", "127.0.0.1", "--port", str(port), "--workers", "1"], env, cwd=work)
    url = f"http://127.0.0.1:{port}"
    try:
        procs.wait_http(f"{url}/health", timeout_s=240)
        yield MlflowServer(url, store, "s3://mlflow/artifacts")
    except BaseException:
        print(procs.tails(60), file=sys.stderr)
        raise
    finally:
        procs.stop()
