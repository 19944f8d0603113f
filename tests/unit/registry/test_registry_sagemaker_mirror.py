"""The SageMaker Model Registry mirror driven by ``ModelRegistry`` against a moto server.

MLflow is the throwaway sqlite registry of the other registry tests; the model artifact, the training
output and the reports live in a moto S3 bucket, as they do when SageMaker trains.
"""
from __future__ import annotations

import json
import logging

import pytest
from registry_testkit import FAIL, PASS

from airsage.errors import AirsageError, TransientError
from airsage.registry import sagemaker_mirror as smm

BUCKET = "airsage-mirror"
ROOT = f"s3://{BUCKET}/credit_risk"


@pytest.fixture
def s3_job(aws, job):
    """The session's training outputs uploaded to moto S3: (model.tar.gz URI, output.tar.gz URI)."""
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.upload_file(job.model_artifact_uri, BUCKET, "credit_risk/jobs/train-1/output/model.tar.gz")
    s3.upload_file(job.output_data_uri, BUCKET, "credit_risk/jobs/train-1/output/output.tar.gz")
    return f"{ROOT}/jobs/train-1/output/model.tar.gz", f"{ROOT}/jobs/train-1/output/output.tar.gz"


@pytest.fixture
def mirrored(uc):
    """The use case with the mirror on and its data root in the moto bucket."""
    return uc.model_copy(update={"sagemaker": uc.sagemaker.model_copy(update={"mirror_model_registry": True}),
                                 "data": uc.data.model_copy(update={"root": ROOT})})


def _put(key: str, doc: dict) -> str:
    import boto3

    boto3.client("s3").put_object(Bucket=BUCKET, Key=f"credit_risk/{key}", Body=json.dumps(doc).encode())
    return f"{ROOT}/{key}"


def _register(reg, uc, s3_job, dataset, run_key, gates=PASS):
    model, output = s3_job
    return reg.register_training(uc, model_artifact_uri=model, output_data_uri=output, dataset=dataset,
                                 run_key=run_key, gate_results=gates, actor="airflow:credit_risk__train")


def _packages(group: str) -> list[dict]:
    import boto3

    return boto3.client("sagemaker").list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]


def _describe(arn: str) -> dict:
    import boto3

    return boto3.client("sagemaker").describe_model_package(ModelPackageName=arn)


class CountingFactory:
    """A mirror factory that counts the mirrors it builds (0 = no SageMaker client was even created) and
    can make chosen client methods fail like IAM would."""

    def __init__(self, fail: set[str] = frozenset()):
        self.built, self.fail = 0, set(fail)

    def __call__(self, uc):
        import boto3

        self.built += 1
        return smm.SageMakerRegistryMirror.from_usecase(uc, client=_Client(boto3.client("sagemaker"), self.fail))


class _Client:
    def __init__(self, client, fail):
        self._client, self._fail = client, fail

    def __getattr__(self, method):
        if method in self._fail:
            from botocore.exceptions import ClientError

            def denied(**_):
                raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not authorized"},
                                   "ResponseMetadata": {"HTTPStatusCode": 400}}, method)
            return denied
        return getattr(self._client, method)


def test_register_mirrors_a_pending_version_with_its_reports_and_a_retry_adds_nothing(
        reg, mirrored, s3_job, dataset, monkeypatch, caplog):
    run_key = "manual__2026-11-20"
    pre = _put(f"reports/clarify/{run_key}/pre_training/analysis.json", {"pre_training_bias_metrics": {}})
    post = _put(f"reports/clarify/{run_key}/post_training/analysis.json", {"post_training_bias_metrics": {}})
    post_cfg = _put(f"reports/clarify/{run_key}/input/post-config/analysis_config.json", {"methods": {}})
    mq = _put("monitor/baselines/v1/model_quality.json", {"binary_classification_metrics": {}})
    mq_cons = _put("monitor/baselines/v1/model_quality_constraints.json", {"version": 0.0})

    with caplog.at_level(logging.INFO, logger="airsage.registry.sagemaker_mirror"):
        v = _register(reg, mirrored, s3_job, dataset, run_key)
    group = mirrored.registered_model_name.replace("_", "-")
    [summary] = _packages(group)
    arn = summary["ModelPackageArn"]
    assert v.version == "1" and v.tags[smm.TAG_PACKAGE_ARN] == arn
    assert v.tags[smm.TAG_PACKAGE_STATUS] == "PendingManualApproval"
    d = _describe(arn)
    assert d["ModelApprovalStatus"] == "PendingManualApproval"
    assert d["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == s3_job[0]
    assert d["InferenceSpecification"]["Containers"][0]["Image"].endswith("/sagemaker-xgboost:3.2-0")
    uri = lambda x: {"ContentType": "application/json", "S3Uri": x}  # noqa: E731
    assert d["ModelMetrics"] == {"ModelQuality": {"Statistics": uri(mq), "Constraints": uri(mq_cons)},
                                 "Bias": {"PreTrainingReport": uri(pre), "PostTrainingReport": uri(post)},
                                 "Explainability": {"Report": uri(post)}}
    assert d["DriftCheckBaselines"] == {
        "ModelQuality": {"Statistics": uri(mq), "Constraints": uri(mq_cons)},
        "Bias": {"ConfigFile": uri(post_cfg), "PreTrainingConstraints": uri(pre), "PostTrainingConstraints": uri(post)},
        "Explainability": {"Constraints": uri(post), "ConfigFile": uri(post_cfg)}}
    assert d["CustomerMetadataProperties"]["mlflow:model_name"] == mirrored.registered_model_name
    assert d["CustomerMetadataProperties"]["mlflow:version"] == "1"
    assert d["CustomerMetadataProperties"]["airsage:run_key"] == run_key
    # the MLflow run's merged analysis.json sits in a local artifact store here: skipped, and said so
    assert any("not on S3" in r.getMessage() and r.getMessage().endswith("artifacts/clarify/analysis.json")
               for r in caplog.records)

    factory = CountingFactory()
    monkeypatch.setattr(reg, "mirror_factory", factory)
    again = _register(reg, mirrored, s3_job, dataset, run_key)
    assert again.version == "1" and again.tags[smm.TAG_PACKAGE_ARN] == arn
    assert len(_packages(group)) == 1 and factory.built == 0  # in step already: no SageMaker call
    assert [v.version for v in reg.list_versions(mirrored.registered_model_name)] == ["1"]
    assert [e["action"] for e in reg.audit_events(mirrored.registered_model_name)] == ["register"]

    approved = reg.approve(mirrored.registered_model_name, "1", approver="alice", comment="AUC beats champion",
                           usecase=mirrored)
    d = _describe(arn)
    assert d["ModelApprovalStatus"] == "Approved"
    assert d["ApprovalDescription"] == "Approved by alice: AUC beats champion"
    assert approved.tags[smm.TAG_PACKAGE_STATUS] == "Approved" and factory.built == 1
    reg.approve(mirrored.registered_model_name, "1", approver="alice", comment="again", usecase=mirrored)
    assert factory.built == 1 and len(_packages(group)) == 1  # a re-sync of the same status is a no-op
    assert [e["action"] for e in reg.audit_events(mirrored.registered_model_name)] == ["register", "approve"]


def test_gate_rejected_and_person_rejected_versions(reg, mirrored, s3_job, dataset):
    name = mirrored.registered_model_name
    gated = _register(reg, mirrored, s3_job, dataset, "gated", gates=FAIL)
    d = _describe(gated.tags[smm.TAG_PACKAGE_ARN])
    assert d["ModelApprovalStatus"] == "Rejected"
    assert d["CustomerMetadataProperties"]["airsage:failed_checks"] == "min_auc"
    assert "quality gates failed: min_auc" in d["ModelPackageDescription"]

    pending = _register(reg, mirrored, s3_job, dataset, "pending")
    arn = pending.tags[smm.TAG_PACKAGE_ARN]
    assert arn != gated.tags[smm.TAG_PACKAGE_ARN] and _describe(arn)["ModelApprovalStatus"] == "PendingManualApproval"
    rejected = reg.reject(name, pending.version, approver="bob", comment="leaks a proxy feature", usecase=mirrored)
    d = _describe(arn)
    assert (d["ModelApprovalStatus"], d["ApprovalDescription"]) == ("Rejected", "Rejected by bob: leaks a proxy feature")
    assert rejected.tags[smm.TAG_PACKAGE_STATUS] == "Rejected"
    assert sorted(p["ModelApprovalStatus"] for p in _packages(name.replace("_", "-"))) == ["Rejected", "Rejected"]


def test_a_mirror_failure_fails_after_mlflow_and_a_retry_completes_it_once(reg, mirrored, s3_job, dataset,
                                                                          monkeypatch):
    name = mirrored.registered_model_name
    group = name.replace("_", "-")
    monkeypatch.setattr(reg, "mirror_factory", CountingFactory(fail={"create_model_package"}))
    with pytest.raises(AirsageError) as err:
        _register(reg, mirrored, s3_job, dataset, "r1")
    assert not isinstance(err.value, TransientError)
    assert "sagemaker:CreateModelPackage" in err.value.fix and "mirror_model_registry: false" in err.value.fix
    [v] = reg.list_versions(name)  # MLflow has the version, the audit log its event, SageMaker nothing
    assert str(v.status) == "PendingManualApproval" and smm.TAG_PACKAGE_ARN not in v.tags
    assert [e["action"] for e in reg.audit_events(name)] == ["register"] and _packages(group) == []

    monkeypatch.setattr(reg, "mirror_factory", CountingFactory())
    retried = _register(reg, mirrored, s3_job, dataset, "r1")
    assert retried.version == v.version and len(_packages(group)) == 1
    assert [x.version for x in reg.list_versions(name)] == [v.version]
    assert [e["action"] for e in reg.audit_events(name)] == ["register"]

    monkeypatch.setattr(reg, "mirror_factory", CountingFactory(fail={"update_model_package"}))
    with pytest.raises(AirsageError, match="UpdateModelPackage|update_model_package"):
        reg.approve(name, v.version, approver="carol", comment="ok", usecase=mirrored)
    assert str(reg.get_version(name, v.version).status) == "Approved"  # the decision stands in MLflow
    monkeypatch.setattr(reg, "mirror_factory", CountingFactory())
    reg.approve(name, v.version, approver="carol", comment="ok", usecase=mirrored)
    d = _describe(retried.tags[smm.TAG_PACKAGE_ARN])
    assert (d["ModelApprovalStatus"], d["ApprovalDescription"]) == ("Approved", "Approved by carol: ok")
    assert [e["action"] for e in reg.audit_events(name)] == ["register", "approve"]


def test_mirror_off_makes_no_sagemaker_call(reg, uc, register, monkeypatch):
    import boto3

    def no_sagemaker(*a, **kw):
        raise AssertionError("SageMaker was called with the mirror off")

    real_client = boto3.client
    monkeypatch.setattr(smm.SageMakerRegistryMirror, "from_usecase", classmethod(no_sagemaker))
    monkeypatch.setattr(boto3, "client", lambda service, *a, **kw: no_sagemaker() if service == "sagemaker"
                        else real_client(service, *a, **kw))
    assert uc.sagemaker.mirror_model_registry is False
    v = register(uc, "off")
    approved = reg.approve(uc.registered_model_name, v.version, approver="alice", comment="fine", usecase=uc)
    assert str(approved.status) == "Approved"
    assert not any(k.startswith("sagemaker_") for k in approved.tags)


def test_refused_and_throttled_calls_translate_to_permanent_and_transient_errors():
    from botocore.exceptions import ClientError, EndpointConnectionError

    def err(code, status):
        return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                           "UpdateModelPackage")

    denied = smm._translate("update_model_package", err("AccessDeniedException", 400))
    assert type(denied) is AirsageError and "sagemaker:UpdateModelPackage" in denied.fix
    assert isinstance(smm._translate("update_model_package", err("ThrottlingException", 400)), TransientError)
    assert isinstance(smm._translate("update_model_package", err("InternalFailure", 500)), TransientError)
    offline = smm._translate("create_model_package", EndpointConnectionError(endpoint_url="http://x"))
    assert isinstance(offline, TransientError) and "mirror_model_registry: false" in offline.fix
    assert smm.metadata_value("a,b;c") == "a_b_c" and len(smm.metadata_value("x" * 300)) == 256


def test_a_version_decided_before_the_mirror_was_on_is_mirrored_with_its_decision(reg, uc, mirrored, s3_job, dataset):
    v = _register(reg, uc, s3_job, dataset, "before")  # mirror off: nothing in SageMaker
    assert smm.TAG_PACKAGE_ARN not in v.tags
    reg.approve(uc.registered_model_name, v.version, approver="dana", comment="reviewed", usecase=uc)
    # the mirror is switched on later: a re-run decision (a no-op in MLflow) creates the package as it stands
    done = reg.approve(mirrored.registered_model_name, v.version, approver="dana", comment="reviewed",
                       usecase=mirrored)
    d = _describe(done.tags[smm.TAG_PACKAGE_ARN])
    assert (d["ModelApprovalStatus"], d["ApprovalDescription"]) == ("Approved", "Approved by dana: reviewed")
    assert done.tags[smm.TAG_PACKAGE_STATUS] == "Approved"
    assert [e["action"] for e in reg.audit_events(uc.registered_model_name)] == ["register", "approve"]


def test_a_deferred_mirror_waits_for_the_baseline_and_carries_it(reg, mirrored, s3_job, dataset, monkeypatch):
    """The training DAG registers with mirror=False and mirrors once the version's monitoring baseline is
    published, so the package's (immutable) DriftCheckBaselines hold the data-quality baseline."""
    factory = CountingFactory()
    monkeypatch.setattr(reg, "mirror_factory", factory)
    model, output = s3_job
    v = reg.register_training(mirrored, model_artifact_uri=model, output_data_uri=output, dataset=dataset,
                              run_key="deferred", gate_results=PASS, actor="airflow:credit_risk__train", mirror=False)
    group = mirrored.registered_model_name.replace("_", "-")
    assert factory.built == 0 and smm.TAG_PACKAGE_ARN not in v.tags
    stats = _put("monitor/baselines/v1/statistics.json", {"version": 0.0, "dataset": {"item_count": 3}})
    cons = _put("monitor/baselines/v1/constraints.json", {"version": 0.0, "features": []})
    mirrored_v = reg.sync_mirror(mirrored, v.version)
    [summary] = _packages(group)
    assert mirrored_v.tags[smm.TAG_PACKAGE_ARN] == summary["ModelPackageArn"]
    uri = lambda x: {"ContentType": "application/json", "S3Uri": x}  # noqa: E731
    d = _describe(summary["ModelPackageArn"])
    assert d["DriftCheckBaselines"]["ModelDataQuality"] == {"Statistics": uri(stats), "Constraints": uri(cons)}
    assert d["ModelMetrics"]["ModelDataQuality"] == {"Statistics": uri(stats), "Constraints": uri(cons)}
    reg.sync_mirror(mirrored, v.version)
    assert factory.built == 1 and len(_packages(group)) == 1  # in line already: no second call
