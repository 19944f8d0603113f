"""``make up``'s launcher reads Airflow's JSON output even when log lines come first."""
from __future__ import annotations


def test_the_dag_list_is_read_past_log_lines():
    from airsage.services import _json_list

    out = ('2026-12-05T12:25:16Z [warning  ] Could not import graphviz. [py.warnings]\n'
           '[{"dag_id": "credit_risk__train", "is_paused": "False"}]\n')
    assert _json_list(out) == [{"dag_id": "credit_risk__train", "is_paused": "False"}]
    assert _json_list("[]") == []
    assert _json_list("no JSON here [at all]") == []
