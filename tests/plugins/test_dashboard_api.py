"""The dashboard app with Airflow's own authentication (simple auth manager, real JWTs): nothing is
reachable anonymously, the JSON API answers authenticated users, pages render, reports are served
without path traversal, and users only see use cases whose DAGs they may read."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def auth():
    from airflow import settings
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.models.revoked_token import RevokedToken

    RevokedToken.__table__.create(settings.engine, checkfirst=True)  # get_user checks revoked token ids
    am = create_auth_manager()
    return am, {role: am.generate_jwt(SimpleAuthManagerUser(username=f"{role}1", role=role))
                for role in ("admin", "viewer")}


@pytest.fixture
def client(auth, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from airsage_airflow.dashboard.app import create_app

    monkeypatch.setenv("AIRSAGE__DATA_ROOT", str(tmp_path / "data"))
    return TestClient(create_app())


@pytest.fixture
def history(client):
    """Summaries of credit_risk: two versions, a scored + monitored partition, a report, audit events."""
    from airsage import storage
    from airsage.config import get_usecase
    from airsage.dashboard import record_decision, record_monitor_run, record_partition, record_version
    from airsage.registry.audit import AuditLog
    from airsage.config import load_settings

    uc = get_usecase("credit_risk")
    audit = AuditLog(storage.join(load_settings().resolved_data_root, "_audit"))
    base = {"name": "credit_risk", "run_id": "run-1", "created_at": "2026-11-20T09:00:00+00:00",
            "metrics": {"auc": 0.81, "baseline_auc": 0.74}}
    record_version(uc, {**base, "version": "1", "status": "PendingManualApproval", "aliases": [],
                        "tags": {"gate_results": '[{"name": "min_auc", "passed": true}]'}})
    audit.append("credit_risk", action="register", actor="airflow", version="1")
    record_decision(uc, {**base, "version": "1", "status": "Approved", "aliases": ["champion"],
                         "tags": {"approved_by": "approver", "approval_ts": "2026-11-20T10:00:00+00:00"}},
                    action="approve", actor="approver", comment="fine")
    audit.append("credit_risk", action="approve", actor="approver", version="1", to_version="1", reason="fine")
    record_version(uc, {**base, "version": "2", "status": "PendingManualApproval", "aliases": []})
    record_partition(uc, {"status": "Completed", "model_version": "1", "records_out": 800,
                          "started_at": "2026-11-22T02:00:00+00:00"}, partition="2026-11-21")
    report = uc.path("monitor", "runs", "dt=2026-11-21", "r1", "report.html")
    storage.write_text(report, "<!DOCTYPE html><html><body>monitoring report</body></html>")
    record_monitor_run(uc, {"partition": "2026-11-21", "model_version": "1", "alert": True,
                            "reasons": ["data drift: <b>40%</b>"], "drifted_share": 0.4, "report_uri": report})
    return uc


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/openapi.json", "/api/v1/docs", "/docs", "/openapi.json",
                                  "/api/v1/overview", "/api/v1/usecases",
                                  "/api/v1/usecases/credit_risk/versions/1",
                                  "/api/v1/usecases/credit_risk/partitions/2026-11-21",
                                  "/api/v1/usecases/credit_risk/lineage?inference_id=x"])
def test_the_api_refuses_anonymous_and_forged_requests(client, path):
    assert client.get(path).status_code in (401, 303, 404)  # never 200 without a token
    assert client.get(path, headers=bearer("not-a-jwt")).status_code in (401, 403, 303, 404)
    if path.startswith("/api/v1/") and not path.endswith("/docs"):
        assert client.get(path).status_code == 401


@pytest.mark.parametrize("path", ["/", "/usecases/credit_risk/versions/1", "/usecases/credit_risk/partitions/2026-11-21",
                                  "/lineage", "/usecases/credit_risk/versions/1/card",
                                  "/usecases/credit_risk/reports/monitor/runs/dt=2026-11-21/r1/report.html"])
def test_pages_send_anonymous_browsers_to_the_airflow_login(client, path):
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and "/auth/login" in r.headers["location"] and "next=" in r.headers["location"]


def test_overview_json_with_a_bearer_token_and_with_the_ui_cookie(client, auth, history):
    _, tokens = auth
    r = client.get("/api/v1/overview", headers=bearer(tokens["viewer"]))
    assert r.status_code == 200
    u = next(x for x in r.json()["usecases"] if x["usecase"] == "credit_risk")
    assert u["champion"]["version"] == "1" and u["champion"]["decided_by"] == "approver"
    assert u["pending_approvals"] == ["2"] and u["last_partition"]["rows"] == 800
    assert u["latest_verdict"]["alert"] is True
    client.cookies.set("_token", tokens["admin"])  # what the Airflow UI holds
    assert client.get("/api/v1/me").json() == {"user": "admin1"}
    assert "/usecases/{usecase}/lineage" in str(client.get("/api/v1/openapi.json").json()["paths"])
    only = client.get("/api/v1/overview", params={"status": "PendingManualApproval"}).json()
    assert [v["version"] for v in only["usecases"][0]["versions"]] == ["2"]
    bad = client.get("/api/v1/overview", params={"status": "Nope"})
    assert bad.status_code == 400 and bad.json()["fix"]


def test_pages_render_with_their_element_ids_and_escape_data(client, auth, history):
    client.cookies.set("_token", auth[1]["viewer"])
    page = client.get("/")
    assert page.status_code == 200 and 'id="uc-credit_risk"' in page.text and 'id="lineage-search"' in page.text
    assert 'id="uc-credit_risk-champion-link"' in page.text and "<svg" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    v = client.get("/usecases/credit_risk/versions/1")
    assert v.status_code == 200 and 'id="audit-check" data-verified="True"' in v.text
    assert client.get("/usecases/credit_risk/versions/2").text.count('id="approval-task-link"') == 1
    p = client.get("/usecases/credit_risk/partitions/2026-11-21")
    assert p.status_code == 200 and "&lt;b&gt;40%&lt;/b&gt;" in p.text and "<b>40%</b>" not in p.text
    assert 'id="monitor-report-link"' in p.text
    missing = client.get("/usecases/credit_risk/versions/99")
    assert missing.status_code == 404 and 'id="error-fix"' in missing.text


def test_reports_are_served_from_storage_without_traversal(client, auth, history, tmp_path):
    client.cookies.set("_token", auth[1]["viewer"])
    ok = client.get("/usecases/credit_risk/reports/monitor/runs/dt=2026-11-21/r1/report.html")
    assert ok.status_code == 200 and "monitoring report" in ok.text
    assert ok.headers["content-security-policy"].startswith("default-src 'none'")
    (tmp_path / "secret.html").write_text("TOPSECRET-CONTENT")
    for path in ("reports%2F..%2F..%2Fsecret.html", "..%2Fsecret.html", "reports/%2e%2e/%2e%2e/secret.html",
                 "raw/features/x.html", "reports/x.py"):
        r = client.get(f"/usecases/credit_risk/reports/{path}")
        assert r.status_code in (400, 404) and "TOPSECRET" not in r.text, path
    assert client.get("/usecases/credit_risk/reports/reports/nothing.html").status_code == 404


def test_lineage_api_and_search_box(client, auth, history):
    client.cookies.set("_token", auth[1]["viewer"])
    r = client.get("/api/v1/usecases/credit_risk/lineage", params={"inference_id": "app-0"})
    assert r.status_code == 404 and "was not found" in r.json()["error"] and r.json()["fix"]
    page = client.get("/lineage", params={"usecase": "credit_risk", "inference_id": "app-0"})
    assert page.status_code == 200 and 'id="lineage-error"' in page.text


def test_users_see_only_use_cases_whose_dags_they_may_read(client, auth, history, monkeypatch):
    am, tokens = auth
    monkeypatch.setattr(am, "is_authorized_dag", lambda **kw: kw["user"].get_name() == "admin1")
    client.cookies.set("_token", tokens["viewer"])
    assert client.get("/api/v1/overview").json()["usecases"] == []
    assert client.get("/api/v1/usecases/credit_risk/versions/1").status_code == 403
    client.cookies.set("_token", tokens["admin"])
    assert client.get("/api/v1/usecases/credit_risk/versions/1").status_code == 200


def test_the_plugin_mounts_the_app_lazily_and_adds_a_models_nav_entry(auth, monkeypatch, tmp_path):
    from fastapi.testclient import TestClient

    monkeypatch.setenv("AIRSAGE__DATA_ROOT", str(tmp_path / "data"))
    import airsage_dashboard as plugin_module

    plugin = plugin_module.AirsageDashboardPlugin
    (app_entry,) = plugin.fastapi_apps
    assert app_entry["url_prefix"] == "/airsage" and isinstance(app_entry["app"], plugin_module.LazyApp)
    (view,) = plugin.external_views
    assert (view["name"], view["destination"], view["href"], view["nav_top_level"]) == ("Models", "nav", "/airsage/", True)
    c = TestClient(app_entry["app"])
    assert c.get("/api/v1/me").status_code == 401
    assert c.get("/api/v1/me", headers=bearer(auth[1]["viewer"])).json() == {"user": "viewer1"}


def test_loading_the_plugin_imports_nothing_heavy():
    # (jinja2 is not listed: airflow.plugins_manager imports it itself)
    probe = ("import sys; import airsage_dashboard; heavy = [m for m in ('fastapi', 'pandas', 'mlflow', "
             "'airsage_airflow.dashboard.app', 'airsage.dashboard') if m in sys.modules]; print(heavy)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
