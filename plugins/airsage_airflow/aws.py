"""AWS clients made from an Airflow AWS connection: credentials live in Airflow's connections (or its
secrets backend), never in a use case or any file of this project.

* ``client(service, conn_id, region)``: a boto3 client through the amazon provider's ``AwsBaseHook``
  (assumed roles, session refresh, the connection's ``endpoint_url`` extra for MinIO / moto / VPC
  endpoints). A connection id that does not exist falls back to boto3's default chain, as the
  provider does (with its warning), so the laptop setup keeps working without any connection.
* ``use_connection_for_storage()``: makes ``airsage.storage`` use ``Settings.aws.conn_id``'s
  connection for every ``s3://`` read and write of the task, and the registry's SageMaker mirror use
  ``sagemaker.aws_conn_id``'s (called by ``airsage_errors``).

Clients are cached per process (boto3 clients are thread-safe).
"""
from __future__ import annotations

import functools
from typing import Any


@functools.lru_cache(maxsize=16)
def client(service: str, conn_id: str | None, region: str | None) -> Any:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id=conn_id, client_type=service, region_name=region)
    return hook.get_client_type(region_name=region)


def use_connection_for_storage() -> None:
    from airsage import storage
    from airsage.config import load_settings

    from airsage.registry import sagemaker_mirror

    aws = load_settings().aws
    storage.set_s3_client_factory(lambda: client("s3", aws.conn_id, aws.region))
    # the optional SageMaker Model Registry mirror: the use case's SageMaker connection
    sagemaker_mirror.set_client_factory(lambda sm: client("sagemaker", sm.aws_conn_id, sm.region))
