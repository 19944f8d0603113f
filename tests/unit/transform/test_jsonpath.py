"""The JSONPath subset of SageMaker's DataProcessing (SageMaker developer guide: batch-transform data processing)."""
from __future__ import annotations

import pytest

from airsage.errors import ConfigError
from airsage.transform.jsonpath import RecordError, parse, select_columns

ROW = ["id7", "1", "2", "3", "4", "5"]  # a CSV row is a JSON array


@pytest.mark.parametrize(("path", "expected"), [
    ("$", ROW),
    ("$[0]", "id7"),
    ("$[-1]", "5"),
    ("$[1:]", ["1", "2", "3", "4", "5"]),
    ("$[1:4]", ["1", "2", "3", "4"]),  # inclusive: 2nd through 5th column (DG)
    ("$[:2]", ["id7", "1", "2"]),  # [:5] = first through sixth column (DG) -> inclusive end
    ("$[0,-1]", ["id7", "5"]),
    ("$[1,3,5]", ["1", "3", "5"]),
    ("$[0,4:]", ["id7", "4", "5"]),  # OutputFilter example "$[0,5:]" mixes an index and a slice
    ("$[-2:]", ["4", "5"]),
    ("$[*]", ROW),
    ("$[2:99]", ["2", "3", "4", "5"]),  # slice bounds are clamped
])
def test_index_paths_on_a_csv_row(path, expected):
    assert parse(path).apply(ROW) == expected


DOC = {"id": 1, "features": [0.5, "red"], "meta": {"a": 1, "b": 2}}


@pytest.mark.parametrize(("path", "expected"), [
    ("$.features", [0.5, "red"]),
    ("$['id','features']", {"id": 1, "features": [0.5, "red"]}),
    ("$['id']", 1),
    ("$.meta.*", [1, 2]),
    ("$.meta['a','b']", {"a": 1, "b": 2}),
    ("$.meta.['a','b']", {"a": 1, "b": 2}),  # the DG's "$.field1.['child1','child2']" form
    ("$.features[1]", "red"),
])
def test_name_paths_on_an_object(path, expected):
    assert parse(path).apply(DOC) == expected


@pytest.mark.parametrize(("path", "problem"), [
    ("features", "must start with '$'"),
    ("$." + "a" * 62, "at most 63"),
    ("$.field1['child1','child2.grandchild']", "nested children"),
    ("$['a','b'].c", "nothing may follow a multi-child bracket"),
    ("$[[0,1]]", "nested brackets"),
    ("$[1:2:3]", "no step"),
    ("$[x]", "neither an index"),
    ("$[1", "never closed"),
    ("$['a',1]", "do not mix"),
    ("$..a", "expected a name"),
])
def test_unsupported_paths_name_the_setting_and_the_fix(path, problem):
    with pytest.raises(ConfigError) as err:
        parse(path, "output_filter")
    assert problem in str(err.value)
    assert err.value.key == "output_filter"
    assert err.value.fix


def test_63_characters_is_allowed():
    parse("$." + "a" * 61)


@pytest.mark.parametrize(("path", "doc"), [
    ("$[6]", ROW), ("$[-7]", ROW), ("$.missing", DOC), ("$['id','nope']", DOC), ("$.id.x", DOC), ("$[0]", DOC),
])
def test_paths_that_do_not_fit_a_record_are_record_errors(path, doc):
    with pytest.raises(RecordError):
        parse(path).apply(doc)


def test_column_selection_for_tables():
    cols = ["id", "a", "b", "score"]
    assert select_columns(parse("$"), cols) == cols
    assert select_columns(parse("$[0,-1]"), cols) == ["id", "score"]
    assert select_columns(parse("$['id','score']"), cols) == ["id", "score"]
    assert select_columns(parse("$[1:]"), cols) == ["a", "b", "score"]
    with pytest.raises(ConfigError):
        select_columns(parse("$['nope']"), cols, "output_filter")
