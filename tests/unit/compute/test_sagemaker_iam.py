"""The IAM lists match what the backend really calls, and name real SageMaker operations."""
from __future__ import annotations

import json

import botocore.session
import pytest
from botocore import xform_name
from sagemaker_specs import ROLE, settings

from airsage.compute import sagemaker as backend_mod
from airsage.compute import sagemaker_iam as iam
from airsage.compute.sagemaker_requests import CREATE_OPERATION

OPERATIONS = set(botocore.session.get_session().get_service_model("sagemaker").operation_names)
TO_API = {xform_name(op): op for op in OPERATIONS}


def test_every_listed_sagemaker_action_is_a_real_operation():
    runtime = set(botocore.session.get_session().get_service_model("sagemaker-runtime").operation_names)  # IAM prefix: sagemaker
    listed = {a.split(":", 1)[1] for actions in iam.CALLER_ACTIONS.values() for a in actions}
    listed |= {a.split(":", 1)[1] for a in iam.CALLER_COMMON + iam.EXECUTION_MANAGED_CLARIFY}
    assert listed <= OPERATIONS | runtime, listed - OPERATIONS - runtime


@pytest.mark.parametrize("kind", ["train", "tune", "transform", "clarify", "monitor"])
def test_the_caller_may_do_everything_the_backend_calls(kind):
    called = {TO_API[backend_mod.DESCRIBE[kind][0]], TO_API[backend_mod.STOP[kind]], CREATE_OPERATION[kind]}
    if kind == "transform":
        called |= {"CreateModel", "DescribeModel"}
    assert {f"sagemaker:{op}" for op in called} <= set(iam.CALLER_ACTIONS[kind])


def test_mirror_calls_are_covered():
    from airsage.registry import sagemaker_mirror

    source = open(sagemaker_mirror.__file__).read()
    used = {op for snake, op in TO_API.items() if f'"{snake}"' in source or f".{snake}(" in source}
    assert used and {f"sagemaker:{op}" for op in used} <= set(iam.CALLER_ACTIONS["mirror"])


def test_policies_scope_passrole_code_and_kms():
    sm = settings(kms_key_id="arn:aws:kms:us-east-1:123456789012:key/k1", subnets=["subnet-1"],
                  security_group_ids=["sg-1"])
    caller = iam.caller_policy(sm, ["train", "transform"], output_prefixes=["s3://airsage-test/predictions"],
                               name_prefix="credit-risk-")
    json.dumps(caller)
    by_sid = {s["Sid"]: s for s in caller["Statement"]}
    assert by_sid["PassExecutionRole"]["Resource"] == ROLE
    assert by_sid["PassExecutionRole"]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert "arn:aws:sagemaker:us-east-1:123456789012:training-job/credit-risk-*" in by_sid["SageMakerJobs"]["Resource"]
    assert "sagemaker:CreateProcessingJob" not in by_sid["SageMakerJobs"]["Action"]
    assert by_sid["CodeObjects0"]["Resource"] == "arn:aws:s3:::airsage-test/airsage/code/*"
    assert by_sid["MarkersList0"]["Condition"] == {"StringLike": {"s3:prefix": ["predictions/*", "predictions"]}}
    assert by_sid["Kms"]["Resource"] == sm.kms_key_id
    role = iam.execution_role_policy(sm, read_prefixes=["s3://airsage-test/data"],
                                     write_prefixes=["s3://airsage-test/models"], managed_clarify=True)
    sids = {s["Sid"] for s in role["Statement"]}
    assert {"ReadObjects0", "ReadObjects1", "WriteObjects0", "LogsAndMetrics", "Vpc", "Kms", "ClarifyShadowEndpoint"} <= sids
    assert "OwnImage" not in sids  # AWS's images need no ECR permissions in the role
