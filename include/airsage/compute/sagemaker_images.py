"""Which container image a SageMaker job runs, per region.

The ECR accounts are AWS's, copied from the SageMaker Python SDK's ``image_uri_config``
(``xgboost.json`` framework versions up to 3.2-0, ``clarify.json``, ``model-monitor.json``).
Only a few regions are listed on purpose: a region that is missing is a ``ConfigError`` naming the
fix (add it here, or set ``sagemaker.image_uri``), never a guessed account.
"""
from __future__ import annotations

from airsage.errors import ConfigError

# SageMaker XGBoost framework container (script mode), SDK image_uri_config/xgboost.json
XGBOOST_FRAMEWORK_ACCOUNTS = {
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-west-2": "246618743249",
    "eu-west-1": "141502667606",
    "eu-central-1": "492215442770",
}
# SageMaker Clarify processing container 1.0, SDK image_uri_config/clarify.json
CLARIFY_ACCOUNTS = {
    "us-east-1": "205585389593",
    "us-east-2": "211330385671",
    "us-west-2": "306415355426",
    "eu-west-1": "131013547314",
    "eu-central-1": "017069133835",
}
# Model Monitor analyzer (Deequ), SDK image_uri_config/model-monitor.json
MODEL_MONITOR_ACCOUNTS = {
    "us-east-1": "156813124566",
    "us-east-2": "777275614652",
    "us-west-2": "159807026194",
    "eu-west-1": "468650794304",
    "eu-central-1": "048819808253",
}
# Framework versions; the same accounts and repository for all (SDK xgboost.json; 3.2-0 added by SDK PR #6008).
XGBOOST_FRAMEWORK_VERSIONS = ("1.0-1", "1.2-1", "1.2-2", "1.3-1", "1.5-1", "1.7-1", "2.1-0", "3.0-5", "3.2-0")
# Airsage needs Python >= 3.11 in the job. 3.2-0 ships Python 3.12 and XGBoost 3.2 (aws/deep-learning-containers
# PR #6024); 3.0-5 ships Python 3.10 (PR #6174) and the older images older Pythons.
RUNS_AIRSAGE = frozenset({"3.2-0"})


def _ecr(account: str, region: str, repository: str, tag: str | None) -> str:
    suffix = ".amazonaws.com.cn" if region.startswith("cn-") else ".amazonaws.com"
    return f"{account}.dkr.ecr.{region}{suffix}/{repository}" + (f":{tag}" if tag else "")


def _account(table: dict[str, str], region: str, what: str) -> str:
    if region not in table:
        raise ConfigError(f"no {what} image account known for region {region!r}", key="sagemaker.region",
                          fix=f"Use one of {sorted(table)}, set sagemaker.image_uri to your own image, or add the "
                              f"region's account from the SageMaker SDK's image_uri_config to "
                              f"airsage/compute/sagemaker_images.py.")
    return table[region]


def xgboost_image_uri(region: str, framework_version: str = "3.2-0") -> str:
    """The SageMaker XGBoost framework image (training and serving in script mode)."""
    if framework_version not in XGBOOST_FRAMEWORK_VERSIONS:
        raise ConfigError(f"unknown SageMaker XGBoost framework version {framework_version!r}",
                          key="sagemaker.framework_version", fix=f"Use one of {sorted(RUNS_AIRSAGE)}.")
    if framework_version not in RUNS_AIRSAGE:
        raise ConfigError(f"the SageMaker XGBoost {framework_version} image has a Python older than 3.11, which "
                          "Airsage's code needs", key="sagemaker.framework_version",
                          fix=f"Use framework_version {sorted(RUNS_AIRSAGE)[-1]} (Python 3.12), or build your own "
                              "image FROM it and set sagemaker.image_uri.")
    return _ecr(_account(XGBOOST_FRAMEWORK_ACCOUNTS, region, "SageMaker XGBoost"), region, "sagemaker-xgboost",
                framework_version)


def clarify_image_uri(region: str) -> str:
    """SageMaker Clarify's processing image ``sagemaker-clarify-processing:1.0``."""
    return _ecr(_account(CLARIFY_ACCOUNTS, region, "Clarify"), region, "sagemaker-clarify-processing", "1.0")


def model_monitor_image_uri(region: str) -> str:
    """Model Monitor's analyzer image (the SDK uses it untagged)."""
    return _ecr(_account(MODEL_MONITOR_ACCOUNTS, region, "Model Monitor"), region,
                "sagemaker-model-monitor-analyzer", None)
