"""The version page's "Shadow history" and the API's ``shadow`` field, from a ShadowSummary at
layout.shadow_summary (the fixture of tests/unit/cards/test_shadow_fixture.py); the page through the
FastAPI app with Airflow's own authentication (as tests/plugins/test_dashboard_api.py)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from dashboard_support import make_version

from airsage import layout, storage
from airsage.dashboard import record_version, version_view

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cards"))
from test_shadow_fixture import summary_fixture  # noqa: E402


def _enabled(uc, on=True):
    return uc.model_copy(update={"shadow": uc.shadow.model_copy(update={"enabled": on})})


def test_version_view_carries_the_shadow_section(uc, registry):
    uc = _enabled(uc)
    record_version(uc, make_version(2, "Approved", aliases=["champion"], approved_by="bob").to_dict())
    record_version(uc, make_version(4, "PendingManualApproval").to_dict())
    storage.write_json(layout.shadow_summary(uc, "4"), summary_fixture())
    view = version_view(uc, "4", reg=registry)
    sh = view["shadow"]
    assert sh["exists"] and sh["status"] == "active" and sh["champion_versions"] == ["1"]
    assert [h["partition"] for h in sh["history"]] == ["2026-11-18", "2026-11-19", "2026-11-20"]
    assert sh["gate"]["reasons"] and sh["quality"]["status"] == "ok"
    json.dumps(view, allow_nan=False)  # what the API answers: strict JSON ("Infinity" stays a string)
    storage.write_json(layout.shadow_summary(uc, "4"), summary_fixture(history=[], partitions=0))
    assert version_view(uc, "4", reg=registry)["shadow"]["history"] == []


def test_without_a_summary_the_page_says_why(uc, registry):
    record_version(uc, make_version(2, "Approved", aliases=["champion"], approved_by="bob").to_dict())
    record_version(uc, make_version(4, "PendingManualApproval").to_dict())
    on = _enabled(uc)
    assert version_view(on, "4", reg=registry)["shadow"]["message"].startswith("No shadow partition scored yet")
    assert version_view(on, "2", reg=registry)["shadow"]["message"].startswith("Not scored in shadow")
    off = version_view(_enabled(uc, False), "4", reg=registry)["shadow"]
    assert off["exists"] is False and "off for this use case" in off["message"]


# ---------------------------------------------------------------------- through the app
@pytest.fixture(scope="module")
def tokens():
    from airflow import settings
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.models.revoked_token import RevokedToken

    RevokedToken.__table__.create(settings.engine, checkfirst=True)
    am = create_auth_manager()
    return {role: am.generate_jwt(SimpleAuthManagerUser(username=f"{role}1", role=role))
            for role in ("admin", "viewer")}


@pytest.fixture
def client(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from airsage_airflow.dashboard.app import create_app

    monkeypatch.setenv("AIRSAGE__DATA_ROOT", str(tmp_path / "data"))
    return TestClient(create_app())


@pytest.fixture
def shadowed(client):
    """credit_risk: v1 champion, v2 pending with three shadow partitions."""
    from airsage.config import get_usecase
    from airsage.dashboard import record_partition

    uc = get_usecase("credit_risk")
    base = {"name": "credit_risk", "run_id": "run-1", "created_at": "2026-11-20T09:00:00+00:00",
            "metrics": {"auc": 0.81}, "tags": {}}
    record_version(uc, {**base, "version": "1", "status": "Approved", "aliases": ["champion"]})
    record_version(uc, {**base, "version": "2", "status": "PendingManualApproval", "aliases": []})
    record_partition(uc, {"status": "Completed", "model_version": "1", "records_out": 5000,
                          "started_at": "2026-11-21T02:00:00+00:00"}, partition="2026-11-20")
    storage.write_json(layout.shadow_summary(uc, "2"), summary_fixture())
    return uc


def test_the_version_page_shows_the_shadow_history(client, tokens, shadowed):
    client.cookies.set("_token", tokens["viewer"])
    page = client.get("/usecases/credit_risk/versions/2")
    assert page.status_code == 200
    text = page.text
    section = text.split('<h2 id="shadow">Shadow history</h2>', 1)[1].split("<h2>Lineage</h2>", 1)[0]
    assert 'id="shadow-status" data-status="active"' in section
    assert 'href="/usecases/credit_risk/versions/1">v1</a>' in section  # the champion it was compared with
    assert 'id="shadow-gate" data-passed="False"' in section and "flip rate in age_group=18-25 is 5.71%" in section
    assert "96.2% (14,430 rows)" in section
    assert "570 (3.8%): 360 to default (2.4%), 210 to no default (1.4%)" in section
    assert section.count('<tr data-partition="2026-11-') == 3
    assert 'id="shadow-chart"><svg' in section and ">2026-11-18</text>" in section  # flip rates, dates ticked
    assert 'href="/usecases/credit_risk/partitions/2026-11-20">2026-11-20</a>' in section
    assert "<td>+0.0160</td>" in section and "<td>400</td>" in section  # AUC delta and labelled rows of a day
    assert 'id="shadow-groups"' in section and "age_group=18-25 (d): flip rate 5.7%" in section
    assert "male &lt;b&gt;|x" in section and "<b>|x" not in section  # autoescaped
    assert "<td>∞</td>" in section  # an infinite DI, as Clarify spells it, is shown, not a crash
    assert 'id="shadow-quality" data-status="ok"' in section and "delta <strong>+0.0138</strong>" in section
    champion = client.get("/usecases/credit_risk/versions/1").text
    assert 'id="shadow-none"' in champion


def test_the_version_api_has_a_shadow_field(client, tokens, shadowed):
    client.cookies.set("_token", tokens["admin"])
    r = client.get("/api/v1/usecases/credit_risk/versions/2")
    assert r.status_code == 200
    sh = r.json()["shadow"]
    assert sh["exists"] and sh["partitions"] == 3 and sh["flips"]["to_positive"] == 360
    assert sh["history"][2] == {"partition": "2026-11-20", "champion_version": "1", "rows": 5000,
                                "agreement_rate": 0.96, "flip_rate": 0.04, "to_positive": 130, "to_negative": 70,
                                "max_group_flip_rate": 0.058, "psi": 0.012, "max_abs_bias_change": 0.021,
                                "auc_delta": 0.016, "labelled_rows": 400}
    assert client.get("/api/v1/usecases/credit_risk/versions/1").json()["shadow"]["exists"] is False
    client.cookies.clear()
    assert client.get("/api/v1/usecases/credit_risk/versions/2").status_code == 401
