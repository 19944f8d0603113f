"""rebuild backfills the summaries from existing state; lineage joins one inference id to its evidence;
report paths cannot leave the use case's root."""
from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airsage import storage
from airsage.dashboard import lineage, partition_view, rebuild, report_uri, version_view
from airsage.dashboard import store
from airsage.dashboard.views import check_report_path
from airsage.errors import ConfigError


def _capture(uc, day, ids, version):
    n = len(ids)
    table = pa.table({"inference_id": ids, "captured_at": pa.array([None] * n, pa.timestamp("us", tz="UTC")),
                      "income": [1.0] * n, "score": [0.1 * (i % 10) for i in range(n)],
                      "predicted_label": [i % 2 for i in range(n)], "model_name": ["credit_risk"] * n,
                      "model_version": [version] * n})
    path = uc.path("capture", f"dt={day}", f"dt-{day}.parquet")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(table, path, row_group_size=50)
    return path


def _out(uc, day, name, ids):
    path = uc.path("predictions", f"dt={day}", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(pa.table({"inference_id": ids, "score": [0.5] * len(ids)}), path)
    return path


@pytest.fixture
def installation(uc):
    """State as a lifecycle leaves it, with no dashboard summaries."""
    ids_20 = [f"app-20261120-{i:05d}" for i in range(200)]
    ids_21 = [f"app-20261121-{i:05d}" for i in range(300)]
    _capture(uc, "2026-11-20", ids_20, "1")
    _capture(uc, "2026-11-21", ids_21, "2")
    _out(uc, "2026-11-21", "part-a.parquet.out", ids_21[:150])
    _out(uc, "2026-11-21", "part-b.parquet.out", ids_21[150:])
    storage.write_json(uc.path("reports", "transform", "dt=2026-11-21", "job-1.json"),
                       {"status": "Completed", "model_version": "2", "records_out": 300, "records_in": 300,
                        "files_failed": 0, "started_at": "2026-11-22T02:00:00+00:00", "run_key": "dt-2026-11-21",
                        "output_uri": uc.path("predictions", "dt=2026-11-21"), "files": []})
    for run, finished, alert in (("old", "2026-11-22T03:00:00", False), ("new", "2026-11-22T04:00:00", True)):
        storage.write_json(uc.path("monitor", "runs", "dt=2026-11-21", run, "run.json"),
                           {"alert": alert, "reasons": ["prediction drift: x"] if alert else [], "drifted_share": 0.3,
                            "prediction_drift": alert, "model_quality": "ok", "model_version": "2", "run_key": run,
                            "report_uri": uc.path("monitor", "runs", "dt=2026-11-21", run, "report.html"),
                            "output_uri": uc.path("monitor", "runs", "dt=2026-11-21", run), "finished_at": finished})
    storage.write_text(uc.path("monitor", "runs", "dt=2026-11-21", "new", "report.html"), "<html>report</html>")
    sidecar = uc.path("predictions", "dt=2026-11-21", "_review", "review_status.parquet")
    os.makedirs(os.path.dirname(sidecar), exist_ok=True)
    pq.write_table(pa.table({"inference_id": ids_21[:4], "status": ["pending_review", "reviewed", "reviewed",
                                                                     "timed_out"],
                             "reviewer": [None, "rita", "rita", None], "decision": [None, "override", "confirm",
                                                                                   "timeout_default"]}), sidecar)
    storage.write_json(uc.path("datasets", "ds-aaaaaaaaaaaa", "manifest.json"),
                       {"hash": "h" * 64, "labeling_jobs": ["labeling-job/credit-risk-labels"]})
    return uc


def test_rebuild_backfills_versions_partitions_monitoring_and_reviews(installation, registry):
    uc = installation
    out = rebuild(uc, reg=registry, settings=None)
    assert (out["versions"], out["partitions"], out["monitored"], out["reviewed"]) == (4, 2, 1, 1)
    idx = store.read_index(uc)
    assert (idx["champion"], idx["previous"]) == ("2", "1")
    assert idx["versions"]["1"]["decided_by"] == "alice" and idx["versions"]["3"]["failed_checks"] == ["min_auc"]
    p20, p21 = idx["partitions"]["2026-11-20"], idx["partitions"]["2026-11-21"]
    assert (p20["rows"], p20["model_version"]) == (200, "1")  # from the capture file's metadata
    assert (p21["rows"], p21["model_version"], p21["scored_at"]) == (300, "2", "2026-11-22T02:00:00+00:00")
    assert p21["alert"] is True and p21["prediction_drift"] is True  # the newest run of the day wins
    assert (p21["routed"], p21["pending_review"], p21["reviewed"], p21["timed_out"]) == (4, 1, 2, 1)
    assert rebuild(uc, reg=registry)["versions"] == 4 and len(store.read_index(uc)["partitions"]) == 2  # idempotent


def test_version_view_checks_the_trail_against_the_audit_log(installation, registry):
    uc = installation
    rebuild(uc, reg=registry)
    v = version_view(uc, "2", reg=registry)
    assert v["is_champion"] and v["audit_check"]["verified"] is True
    assert [e["action"] for e in v["audit_trail"]] == ["register", "approve"]  # its own events; no champion move since
    assert [p["day"] for p in v["partitions_scored"]] == ["2026-11-21"]
    assert v["lineage"]["labeling_jobs"] == ["labeling-job/credit-risk-labels"]
    auc = next(m for m in v["comparison"] if m["metric"] == "auc")
    assert (auc["version"], auc["baseline"]) == (0.82, 0.75)
    v4 = version_view(uc, "4", reg=registry)
    assert v4["pending_approval"] and next(m for m in v4["comparison"] if m["metric"] == "auc")["champion"] == 0.82
    registry.events = [e for e in registry.events if e["action"] != "approve"]  # the log lost the approval
    assert version_view(uc, "2", reg=registry)["audit_check"]["verified"] is False
    with pytest.raises(ConfigError, match="no version 9"):
        version_view(uc, "9", reg=registry)


def test_partition_view_links_the_monitoring_report(installation, registry):
    uc = installation
    rebuild(uc, reg=registry)
    p = partition_view(uc, "2026-11-21")
    assert p["monitor_report"] == "monitor/runs/dt=2026-11-21/new/report.html"
    assert [d["status"] for d in p["review_decisions"]] == ["pending_review", "reviewed", "reviewed", "timed_out"]
    uri, media = report_uri(uc, p["monitor_report"])
    assert storage.read_text(uri) == "<html>report</html>" and media.startswith("text/html")


def test_lineage_from_an_inference_id_to_approval_dataset_and_code(installation, registry):
    uc = installation
    rebuild(uc, reg=registry)
    out = lineage(uc, "app-20261121-00200", reg=registry)
    assert out["partition"]["day"] == "2026-11-21"
    assert out["partition"]["output_file"].endswith("part-b.parquet.out")
    assert out["model"]["version"] == "2" and out["model"]["status"] == "Approved"
    assert [(e["action"], e["actor"]) for e in out["approval_events"]] == [("approve", "bob")]
    assert out["training_run"]["run_id"] == "mlflow-run-2" and out["code_version"] == "abc2"
    assert out["dataset"] == {"version": "ds-aaaaaaaaaaaa", "hash": "h" * 64, "uri": "/data/datasets/ds-aaaaaaaaaaaa",
                              "rows": "2000", "labeling_jobs": ["labeling-job/credit-risk-labels"]}
    assert out["prediction"]["predicted_label"] == 200 % 2
    older = lineage(uc, "app-20261120-00007", reg=registry)
    assert older["partition"]["day"] == "2026-11-20" and older["model"]["version"] == "1"
    assert [e["actor"] for e in older["approval_events"]] == ["alice"]
    reviewed = lineage(uc, "app-20261121-00001", reg=registry)
    assert reviewed["review"]["reviewer"] == "rita" and reviewed["review"]["decision"] == "override"
    with pytest.raises(ConfigError, match="was not found") as exc:
        lineage(uc, "app-19990101-00000", reg=registry)
    assert exc.value.fix
    with pytest.raises(ConfigError, match="not an inference id"):
        lineage(uc, "", reg=registry)


@pytest.mark.parametrize("bad", ["../secrets.html", "reports/../../etc/passwd.html", "/etc/passwd.html",
                                 "reports\\x.html", "raw/features/x.html", "reports/x.py", "reports/.hidden.html",
                                 "reports//x.html", "s3://bucket/reports/x.html", "reports/x.html\x00.png", ""])
def test_report_paths_cannot_leave_the_root(bad):
    with pytest.raises(ConfigError):
        check_report_path(bad)


def test_a_link_out_of_the_root_is_refused(uc, tmp_path):
    outside = tmp_path / "outside.html"
    outside.write_text("secret")
    link = uc.path("reports", "evil.html")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    os.symlink(outside, link)
    assert check_report_path("reports/evil.html") == "reports/evil.html"
    with pytest.raises(ConfigError, match="leaves the use case's data root"):
        report_uri(uc, "reports/evil.html")
    assert json.dumps(report_uri(uc, "reports/clarify/r/post_training/report.html")[1])
