from __future__ import annotations

import pytest
import yaml

from airsage.config import REPO_ROOT, get_usecase, load_settings, load_usecase_file, parse_usecase
from airsage.errors import ConfigError

SRC = REPO_ROOT / "include" / "usecases" / "credit_risk.yaml"


def base() -> dict:
    return yaml.safe_load(SRC.read_text())


def test_bundled_usecase_loads():
    uc = get_usecase("credit_risk")
    assert len(uc.schema_.numeric_features) == 30 and len(uc.schema_.categorical_features) == 5
    assert uc.schema_.label == "default" and uc.compute.train.backend == "local"


@pytest.mark.parametrize("mutate, key", [
    (lambda d: d["training"].update(algoritm="xgboost"), "training.algoritm"),
    (lambda d: d["gates"].update(min_auc=1.5), "gates.min_auc"),
    (lambda d: d["schema"].update(positive_labels=[]), "schema.positive_labels"),
    (lambda d: d["compute"].__setitem__("train", {"backend": "sagemaker"}) if "compute" in d else d.update(
        compute={"train": {"backend": "sagemaker"}}), "sagemaker.role_arn"),
    (lambda d: d["review"]["rules"].append({"feature": "nope", "op": ">", "value": 1}), "nope"),
])
def test_errors_name_file_key_and_fix(mutate, key):
    data = base()
    mutate(data)
    with pytest.raises(ConfigError) as err:
        parse_usecase(data, "credit_risk.yaml")
    text = str(err.value)
    assert "credit_risk.yaml" in text and key in text and "Fix:" in text


def test_file_name_must_match(tmp_path):
    f = tmp_path / "other.yaml"
    f.write_text(SRC.read_text())
    with pytest.raises(ConfigError, match="differs from the file name"):
        load_usecase_file(f)


def test_env_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRSAGE__DATA_ROOT", str(tmp_path / "d"))
    monkeypatch.setenv("AIRSAGE__AWS__REGION", "eu-west-1")
    s = load_settings()
    assert s.resolved_data_root == str(tmp_path / "d") and s.aws.region == "eu-west-1"
    monkeypatch.setenv("AIRSAGE__NOPE", "x")
    with pytest.raises(ConfigError, match="nope"):
        load_settings()


def test_paths_under_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRSAGE__DATA_ROOT", str(tmp_path))
    uc = get_usecase("credit_risk")
    assert uc.path("predictions", "dt=2026-11-21") == str(tmp_path / "credit_risk" / "predictions" / "dt=2026-11-21")
