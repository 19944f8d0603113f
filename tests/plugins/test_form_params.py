"""A task re-validates its run's form values with the form's own schema and fails permanently naming the fix."""
from __future__ import annotations

import pytest
from airflow.sdk import Param
from airflow.sdk.definitions.param import ParamsDict
from airflow.sdk.exceptions import AirflowFailException

from airsage_airflow import params as form


def _params(**values):
    """A run's params as a task sees them: the form's fields with the run's values, unvalidated (as a run created
    without the server's check, e.g. from an old serialized form, would carry them)."""
    fields = {"partition": form.partition(), "model_version": form.model_version("x"),
              "dataset_version": form.dataset_version(), "input_uri": form.uri("Input URI", "x"),
              "model_alias": form.model_alias("champion"), "await_approval": Param(True, type="boolean")}
    d = ParamsDict(fields, suppress_exception=True)
    for k, v in values.items():
        d.get_param(k).value = v
    return d


def test_defaults_and_good_values_pass_and_blank_optional_values_become_none():
    assert form.validated(_params()) == {"partition": None, "model_version": None, "dataset_version": None,
                                          "input_uri": None, "model_alias": "champion", "await_approval": True}
    got = form.validated(_params(partition="2024-02-29", model_version="12", dataset_version="ds-0123456789ab",
                                 input_uri="  ", model_alias="challenger"))
    assert got["partition"] == "2024-02-29" and got["model_version"] == "12" and got["input_uri"] is None


@pytest.mark.parametrize(("field", "value", "says"), [
    ("partition", "2026-02-30", "2026-11-21"),  # matches the pattern, is no calendar date
    ("partition", "not-a-date", "leave it empty"),
    ("model_version", "0", "'3'"),
    ("dataset_version", "latest please", "ds-0123456789ab"),
    ("model_alias", "", "required"),
    ("model_alias", "../x", "champion"),
])
def test_a_bad_value_fails_permanently_naming_the_field_and_the_fix(field, value, says):
    with pytest.raises(AirflowFailException) as err:
        form.validated(_params(**{field: value}))
    text = str(err.value)
    assert text.startswith(f"Form field '{field}'") and "\nFix: " in text and says.lower() in text.lower(), text


def test_only_the_named_fields_are_checked():
    assert form.validated(_params(partition="bad"), names=["model_version"]) == {"model_version": None}


def test_a_plain_dict_without_schemas_passes_through():
    assert form.validated({"partition": "2026-11-21", "x": 1}) == {"partition": "2026-11-21", "x": 1}
