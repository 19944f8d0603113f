"""TransformConfig validates like CreateTransformJob does (SageMaker API reference)."""
from __future__ import annotations

import pytest

from airsage.config import TransformSpec
from airsage.errors import ConfigError
from airsage.transform.settings import TransformConfig


def test_defaults_are_sagemakers():
    c = TransformConfig(content_type="text/csv")
    assert (c.accept, c.split_type, c.batch_strategy, c.max_payload_mb, c.join_source, c.assemble_with) == \
        ("text/csv", "Line", "MultiRecord", 6, "None", "Line")
    assert TransformConfig(content_type="text/csv", split_type=None).split_type == "None"


@pytest.mark.parametrize("mb", [-1, 101, 2.5, True])
def test_max_payload_range(mb):
    with pytest.raises(ConfigError) as err:
        TransformConfig(max_payload_mb=mb)
    assert err.value.key == "max_payload_mb"


def test_join_needs_accept_equal_to_content_type():
    with pytest.raises(ConfigError) as err:
        TransformConfig(content_type="text/csv", accept="application/jsonlines", join_source="Input")
    assert err.value.key == "accept" and "join_source" in str(err.value)


@pytest.mark.parametrize(("split", "assemble"), [("Line", "None"), ("None", "None")])
def test_join_needs_assemble_with_equal_to_split_type_line(split, assemble):
    with pytest.raises(ConfigError) as err:
        TransformConfig(content_type="text/csv", split_type=split, assemble_with=assemble, join_source="Input")
    assert err.value.key == "assemble_with"


def test_bad_filter_fails_at_construction_naming_the_setting():
    with pytest.raises(ConfigError) as err:
        TransformConfig(content_type="text/csv", input_filter="$[1:")
    assert err.value.key == "input_filter"


def test_parquet_filters_are_one_level():
    with pytest.raises(ConfigError):
        TransformConfig(output_filter="$.a.b")
    assert TransformConfig(output_filter="$['id','score']").output_filter == "$['id','score']"


def test_from_spec_and_to_sagemaker():
    spec = TransformSpec(content_type="text/csv", input_filter="$[1:]", output_filter="$[0,-1]")
    c = TransformConfig.from_spec(spec)
    assert c.join_source == "Input" and c.accept == "text/csv"
    req = c.to_sagemaker()
    assert req["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}
    assert req["TransformOutput"] == {"Accept": "text/csv", "AssembleWith": "Line"}


def test_spec_rejects_sagemaker_invalid_join():
    with pytest.raises(ValueError):
        TransformSpec(content_type="text/csv", accept="application/jsonlines", join_source="Input")


def test_unknown_keys_are_errors():
    with pytest.raises(ConfigError) as err:
        TransformConfig.from_dict({"content_typ": "text/csv"})
    assert err.value.key == "content_typ"
