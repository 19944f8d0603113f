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


# ------------------------------------------------------------------ the safe YAML loader (issue 14)
def _yaml_case(tmp_path, name, body):
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    return path


def _good(name):
    from pathlib import Path

    src = (Path(__file__).resolve().parents[3] / "include" / "usecases" / "credit_risk.yaml").read_text()
    return src.replace("name: credit_risk", f"name: {name}", 1)


def test_yaml_duplicate_key_names_both_lines(tmp_path):
    import pytest

    from airsage.config import load_usecase_file
    from airsage.errors import ConfigError

    text = _good("dup") + "gates:\n  min_auc: 0.01\n"
    first = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("gates:"))
    last = len(text.splitlines()) - 1
    with pytest.raises(ConfigError) as exc:
        load_usecase_file(_yaml_case(tmp_path, "dup", text))
    assert f"duplicate key 'gates' at lines {first} and {last}" in str(exc.value) and "Fix:" in str(exc.value)
    text = "name: dup2\nschema:\n  label: a\n  label: b\n"
    with pytest.raises(ConfigError, match=r"duplicate key 'label' at lines 3 and 4.*key schema.label"):
        load_usecase_file(_yaml_case(tmp_path, "dup2", text))


def test_yaml_billion_laughs_fails_fast(tmp_path):
    import time

    import pytest

    from airsage.config import load_usecase_file
    from airsage.errors import ConfigError

    body = "name: laughs\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10))
    started = time.monotonic()
    with pytest.raises(ConfigError, match="anchors and aliases are not allowed"):
        load_usecase_file(_yaml_case(tmp_path, "laughs", body))
    assert time.monotonic() - started < 2


def test_yaml_bad_bytes_size_dates_and_nesting(tmp_path):
    import pytest

    from airsage.config import MAX_YAML_BYTES, load_usecase_file
    from airsage.errors import ConfigError

    cases = {
        "latin": (_good("latin").encode() + "# caf\xe9\n".encode("latin-1"), "not UTF-8 text: byte 0xe9"),
        "big": (b"name: big\n" + b"#" * MAX_YAML_BYTES, "byte limit"),
        "date": (_good("date").replace("start_date: 2026-11-01", "start_date: 2026-02-30"),
                 r"'2026-02-30' at line \d+ is not a valid date.*key start_date"),
        "deep": ("name: deep\nx: " + "[" * 1000 + "]" * 1000 + "\n", "nested"),
        "syntax": ("name: syntax\nschema: [1, 2\n", "not valid YAML at line"),
        "typo": (_good("typo").replace("min_auc", "min_aux"), r"gates.min_aux \(line \d+\): unknown key"),
    }
    for name, (body, pattern) in cases.items():
        with pytest.raises(ConfigError, match=pattern) as exc:
            load_usecase_file(_yaml_case(tmp_path, name, body))
        assert f"{name}.yaml" in str(exc.value) and "Fix:" in str(exc.value), name


def test_identifiers_refuse_paths():
    import pytest

    from airsage import identifiers
    from airsage.errors import ConfigError

    assert identifiers.file_id("app-000123") == "app-000123"
    for bad in ("../x", "a/b", "..", "", "a..b", "x\x00"):
        with pytest.raises(ConfigError):
            identifiers.file_id(bad)
    with pytest.raises(ConfigError):
        identifiers.dataset_ref("../x")
    with pytest.raises(ConfigError, match="calendar date"):
        identifiers.partition("2026-02-30")
