"""The model dashboard (issue 15) in a real (headless) Chromium: a signed-in user clicks *Models* in Airflow's
navigation, sees ``credit_risk`` with its champion and its latest monitoring verdict, opens the version, its
model card and Clarify report, the scored partition and its monitoring report, and traces one inference id to
the approval behind it with the search box. Nobody reaches the dashboard without signing in; each of the
example's users sees it, read-only.

State: the ``scored`` fixture (``conftest.py``): the prepared version approved by ``approver`` (in the approval
page test, or by the fixture), the partition scored by it and monitored, the summaries written.
``AIRSAGE_SCREENSHOTS=docs/screenshots`` saves the README's screenshots of the overview and the version page.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from selenium.webdriver.common.by import By

from browser_harness import login, APPROVAL_COMMENT, PARTITION, UC, passwords

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

USERS = ("admin", "approver", "reviewer")
VERSION_PAGE = "#version-status"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is an answer to check, not to follow
        return None



@pytest.fixture
def dashboard(ui, airflow, scored):
    """The dashboard as ``admin`` reaches it: *Models* in the navigation."""
    login(ui, airflow, "admin")
    return ui.open_models()


# ---------------------------------------------------------------------- the overview
def test_models_in_the_navigation_opens_the_dashboard_with_the_champion(ui, airflow, scored, dashboard):
    assert ui.driver.execute_script("return window.top.location.pathname").startswith("/plugin/airsage-models")
    assert dashboard.url.startswith(f"{airflow.base_url}/airsage/"), dashboard.url  # the app, in the iframe
    assert dashboard.text("#current-user") == "admin"
    card = dashboard.find(f"#uc-{UC}")
    assert card.get_attribute("data-usecase") == UC
    champion = dashboard.find(f"#uc-{UC}-champion-link")
    assert champion.text == f"version {scored['version']}"
    assert "Approved" in dashboard.text(f"#uc-{UC}-champion") and "by approver" in dashboard.text(f"#uc-{UC}-champion")
    # the latest monitoring verdict (of the scored partition) and its trend
    verdict = dashboard.find(f"#uc-{UC}-verdict [data-verdict]")
    assert verdict.get_attribute("data-verdict") == ("alert" if scored["alert"] else "ok")
    assert PARTITION in dashboard.text(f"#uc-{UC}-verdict")
    assert dashboard.all(f"#uc-{UC}-trend svg")
    last = dashboard.text(f"#uc-{UC}-last-partition")
    assert PARTITION in last and f"{scored['rows']} rows" in last and f"model v{scored['version']}" in last
    row = dashboard.find(f"#uc-{UC}-v{scored['version']}")
    assert row.get_attribute("data-status") == "Approved" and "approver" in row.text
    # the screenshot for the README: the whole UI, navigation included
    ui.driver.switch_to.default_content()
    ui.screenshot("dashboard-overview")


def test_the_status_filter_narrows_the_versions(ui, airflow, scored, dashboard):
    dashboard.select("#filter-status", "Rejected")
    before = dashboard.url
    dashboard.find("#filter-apply").click()
    ui.wait(lambda: dashboard.url != before and dashboard.all(f"#uc-{UC}"), "the filtered overview")
    assert "status=Rejected" in dashboard.url
    assert not dashboard.all(f"#uc-{UC} tr[data-status]")  # no rejected version exists
    dashboard.select("#filter-status", "Approved")
    dashboard.find("#filter-apply").click()
    ui.wait(lambda: "status=Approved" in dashboard.url and dashboard.all(f"#uc-{UC}"), "the approved versions")
    assert [r.get_attribute("data-status") for r in dashboard.all(f"#uc-{UC} tr[data-status]")] == ["Approved"]


# ---------------------------------------------------------------------- a version
def test_the_version_page_shows_its_card_clarify_report_and_verified_audit_trail(ui, airflow, scored, dashboard):
    v = scored["version"]
    dashboard.follow(f"#uc-{UC}-champion-link", VERSION_PAGE, "the version page")
    assert dashboard.url.endswith(f"/airsage/usecases/{UC}/versions/{v}")
    assert dashboard.text("#version-status") == "Approved" and dashboard.all("#version-champion")
    assert dashboard.find("#audit-check").get_attribute("data-verified") == "True"
    trail = dashboard.text("#audit-trail")
    assert "approve" in trail and "approver" in trail and APPROVAL_COMMENT in trail
    assert not dashboard.all("#approval-task-link")  # decided: no pending approval to link to
    assert "approve by approver" in dashboard.text("#approval-events")
    assert PARTITION in dashboard.text("#partitions-scored")
    ui.driver.switch_to.default_content()
    ui.screenshot("dashboard-version")
    ui.driver.switch_to.frame(dashboard._iframe())

    card = dashboard.open_report("#model-card-link", f"Model card: {UC} version {v}")
    assert "Approved" in card and "Evaluation" in card
    clarify = dashboard.all(".clarify-link")
    assert clarify, "no Clarify report linked"
    report = dashboard.open_report(".clarify-link", f"{UC}: bias and explainability")
    assert "Post-training bias" in report and "SHAP" in report


def test_the_clarify_report_names_its_version_dataset_and_run(ui, airflow, scored, dashboard):
    dashboard.follow(f"#uc-{UC}-champion-link", VERSION_PAGE, "the version page")
    dataset = dashboard.text("#lineage").split("dataset version", 1)[1].split()[0]
    report = dashboard.open_report(".clarify-link", f"{UC}: bias and explainability")
    assert dataset in report and "browser-e2e" in report  # PREPARE's dataset version and run key


def test_the_version_page_shows_the_shadow_history(ui, airflow, scored, dashboard):
    # the evidence shadow scoring leaves for a version (tests/unit/cards/test_shadow_fixture.py), written where
    # the nightly comparison writes it: the champion, approved after three shadow partitions
    import sys
    from pathlib import Path

    from airflow_services import run_python

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "cards"))
    from test_shadow_fixture import summary_fixture

    v = scored["version"]
    doc = summary_fixture(challenger_version=v, status="stopped", stopped_reason="approved by approver")
    run_python(f"""
import json
from airsage import layout, storage
from airsage.config import get_usecase
storage.write_json(layout.shadow_summary(get_usecase({UC!r}), {v!r}), json.loads({json.dumps(doc)!r}))
print(json.dumps({{"written": True}}))
""", airflow.env)
    dashboard.follow(f"#uc-{UC}-champion-link", VERSION_PAGE, "the version page")
    assert dashboard.find("#shadow").text == "Shadow history"
    status = dashboard.find("#shadow-status")
    assert status.get_attribute("data-status") == "stopped" and "approved by approver" in status.text
    assert "2026-11-18 to 2026-11-20" in status.text
    assert dashboard.find("#shadow-gate").get_attribute("data-passed") == "False"
    assert "96.2%" in dashboard.text("#shadow-agreement")
    assert "360 to default" in dashboard.text("#shadow-flips")
    rows = dashboard.all("#shadow-history tr[data-partition]")
    assert [r.get_attribute("data-partition") for r in rows] == ["2026-11-18", "2026-11-19", "2026-11-20"]
    assert "male <b>|x" in dashboard.text("#shadow-groups")  # shown as text, not markup
    assert "+0.0138" in dashboard.text("#shadow-quality")
    ui.driver.execute_script("document.getElementById('shadow').scrollIntoView()")
    ui.screenshot("dashboard-shadow")


# ---------------------------------------------------------------------- a partition
def test_the_partition_page_shows_the_transform_and_the_monitoring_report(ui, airflow, scored, dashboard):
    dashboard.follow(f"#uc-{UC}-last-partition a", "#partition-title", "the partition page")
    assert dashboard.url.endswith(f"/airsage/usecases/{UC}/partitions/{PARTITION}")
    assert dashboard.text("#transform-rows") == str(scored["rows"])
    assert f">{scored['version']}<" in dashboard.find("#transform-report").get_attribute("innerHTML")
    verdict = dashboard.find("#monitor-verdict")
    assert verdict.get_attribute("data-alert") == str(scored["alert"])
    assert f"{scored['rows']} rows" in verdict.text
    report = dashboard.open_report("#monitor-report-link", PARTITION)
    assert UC in report and f"{scored['rows']}" in report


# ---------------------------------------------------------------------- lineage
def test_the_search_box_traces_an_inference_id_to_its_approval(ui, airflow, scored, dashboard):
    inference_id = scored["inference_ids"][3]
    dashboard.trace(UC, inference_id)
    result = dashboard.find("#lineage-result")
    assert result.get_attribute("data-inference-id") == inference_id
    assert dashboard.text("#lineage-partition") == PARTITION
    assert dashboard.text("#lineage-version").startswith(f"{UC} v{scored['version']}")
    approvals = dashboard.text("#lineage-approvals")
    assert "approve by approver" in approvals and APPROVAL_COMMENT in approvals
    assert f"dt={PARTITION}" in dashboard.text("#lineage-output-file")
    # one click on: the version that made the prediction
    dashboard.follow("#lineage-version", VERSION_PAGE, "the version page from the lineage")
    assert dashboard.text("#version-status") == "Approved"


def test_an_unknown_inference_id_says_so_and_how_to_fix_it(ui, airflow, scored, dashboard):
    dashboard.trace(UC, "no-such-prediction-42")
    assert not dashboard.all("#lineage-result")
    assert "no-such-prediction-42" in dashboard.text("#lineage-error")
    assert "Fix:" in dashboard.text("main")


# ---------------------------------------------------------------------- who sees it
def test_anonymous_access_is_refused(ui, airflow, scored):
    ui.logout()
    ui.open_dashboard_url(f"/airsage/usecases/{UC}/versions/{scored['version']}")
    ui.wait(lambda: "/auth/login" in ui.driver.current_url, "the redirect to Airflow's login")
    assert "airsage" in ui.driver.current_url  # back to the dashboard after signing in (next=...)
    assert not ui.driver.find_elements(By.CSS_SELECTOR, "#version-status")
    # without a browser: the API answers 401, a page or report redirects to the login (nothing is served)
    no_redirects = urllib.request.build_opener(NoRedirect)
    for path, status in (("/airsage/api/v1/overview", 401),
                         (f"/airsage/api/v1/usecases/{UC}/lineage?inference_id={scored['inference_ids'][0]}", 401),
                         (f"/airsage/usecases/{UC}/versions/{scored['version']}/card", 303),
                         ("/airsage/", 303)):
        req = urllib.request.Request(airflow.base_url + path)
        with pytest.raises(urllib.error.HTTPError) as refused:
            no_redirects.open(req, timeout=30)
        assert refused.value.code == status, (path, refused.value.code)
        if status == 303:
            assert "/auth/login" in refused.value.headers["Location"], refused.value.headers["Location"]
        else:
            assert UC not in refused.value.read().decode(errors="replace")


@pytest.mark.parametrize("user", USERS)
def test_each_user_sees_the_dashboard_read_only(ui, airflow, scored, user):
    login(ui, airflow, user)
    dash = ui.open_models()
    assert dash.text("#current-user") == user
    assert dash.find(f"#uc-{UC}-champion-link").text == f"version {scored['version']}"
    # read-only for everyone: the only forms are the filters and the search (GET); deciding happens in Airflow
    forms = dash.all("form")
    assert {f.get_attribute("id") for f in forms} == {"filters", "lineage-search"}
    assert all((f.get_attribute("method") or "get").lower() == "get" for f in forms)
    buttons = {b.text for b in dash.all("button, input[type=submit]")}
    assert buttons == {"Apply", "Trace"}, buttons
    # the JSON API answers as that user (the UI's token), nothing of another user's session
    me = json.loads(ui.driver.execute_script(
        "const r = new XMLHttpRequest(); r.open('GET', arguments[0], false); r.send(); return r.responseText;",
        f"{airflow.base_url}/airsage/api/v1/me"))
    assert me == {"user": user}
