"""Fixtures of the browser tests: Airflow as ``make up`` runs it, a pending model version, headless Chromium.

* ``airflow`` (module scope, like every fixture here: stopped when the browser module ends, so its services
  and the browser do not load the machine while the same pytest-xdist worker runs other files): the example
  use case prepared in a temporary Airsage home on the embedded SQLite state (example data, one imported dataset version, one model trained and registered as
  ``PendingManualApproval`` -- directly through the lifecycle functions, which is much cheaper than a training
  run through Airflow), then api-server, scheduler, dag-processor and triggerer started through
  ``airsage.services`` (what ``make up`` uses), via the HITL e2e's harness (``tests/e2e/airflow_services.py``).
* ``browser`` (module): Debian's ``chromium`` driven by ``chromedriver`` through selenium, headless, with a
  fresh profile. The tests skip, naming the reason, only when the browser or selenium is not installed
  (``make test`` installs both: see the Makefile's ``$(VENV)/.browser`` step).
* ``champion`` (module): the prepared version approved -- by the approval page test when it ran first in
  this session (it does, in file order), else here through the REST API as ``approver`` (a file run alone, or
  on its own pytest-xdist worker) -- and its approval run finished.
* ``scored`` (module): the champion has scored the partition, the monitor has judged it and the dashboard
  summaries are written (``browser_harness.SCORE``, ~15 s).
* ``ui`` (function): the page helpers (``ui.AirflowUI``) on that browser; a test signs in as the user it needs
  (``login`` is a no-op when that user is signed in already, which keeps the package fast).

``AIRSAGE_SCREENSHOTS=DIR`` makes the tests save the README's screenshots there (``docs/screenshots``).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))  # the harness of the HITL e2e: one copy, shared
sys.path.insert(0, str(HERE))

from airflow_services import ApiError, airflow_services, isolated_env, run_python  # noqa: E402
from browser_harness import (APPROVAL_COMMENT, APPROVE, ASK, CHROMEDRIVER, CHROMIUM, DAGS, PREPARE,  # noqa: E402
                             SCORE, UC)


def _first(paths) -> str | None:
    return next((p for p in paths if Path(p).exists()), None)


@pytest.fixture(scope="session")
def browser_binaries() -> tuple[str, str]:
    """Chromium and chromedriver, or a skip naming what is missing and how ``make test`` installs it."""
    missing = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (requirements-test.txt)")
    chromium, driver = _first(CHROMIUM), _first(CHROMEDRIVER)
    if not chromium:
        missing.append("Debian's chromium package")
    if not driver:
        missing.append("Debian's chromium-driver package")
    if missing:
        pytest.skip(f"no browser to test with: {', '.join(missing)} not installed (make test installs them with "
                    f"apt-get when it runs as root; as another user: sudo apt-get install chromium chromium-driver)")
    return chromium, driver


@pytest.fixture(scope="module")
def airflow(browser_binaries, tmp_path_factory, request):
    """Airflow's four components on a fresh home with a pending model version; stopped at the end."""
    from airsage.demo import init_airflow

    t0 = time.monotonic()
    env = isolated_env(tmp_path_factory.mktemp("browser-home"))
    init_airflow(env)
    prepared = run_python(PREPARE, env, timeout_s=600)
    t1 = time.monotonic()
    failed_before = request.session.testsfailed
    with airflow_services(env, dag_ids=[f"{UC}__{d}" for d in DAGS]) as af:
        af.prepared = prepared
        # the approval request, started now so it is waiting by the time the approval tests run: admin asks
        # for a decision on the pending version with the form's defaults (decision: ask in the UI)
        admin = af.api("admin")
        admin.unpause(APPROVE)
        af.approval_run_id = admin.trigger(APPROVE, {"version": prepared["version"]}, run_id="browser-approve")
        print(f"\nprepared in {t1 - t0:.0f} s ({prepared}); Airflow up on {af.base_url} after "
              f"{time.monotonic() - t0:.0f} s")
        yield af
        if request.session.testsfailed > failed_before:
            print(af.component_logs(tail=60))


@pytest.fixture(scope="module")
def champion(airflow) -> str:
    """The prepared version, approved through ``<uc>__approve_model``'s request (see the module docstring)."""
    run_id, version = airflow.approval_run_id, airflow.prepared["version"]
    admin = airflow.api("admin")
    if admin.dag_run(APPROVE, run_id)["state"] != "success":
        try:
            answered = admin.hitl_detail(APPROVE, run_id, ASK)["response_received"]
        except ApiError as e:  # the request is not written yet
            if e.status != 404:
                raise
            answered = False
        if not answered:
            detail = airflow.wait_awaiting_input(APPROVE, run_id, ASK, count=1, timeout_s=300)[0]
            airflow.api("approver").respond(APPROVE, run_id, ASK, ["Approve"],
                                            {p: APPROVAL_COMMENT for p in detail["params"]})
        airflow.wait_run(APPROVE, run_id, timeout_s=300)
    return version


@pytest.fixture(scope="module")
def scored(airflow, champion) -> dict:
    """The partition scored by the champion and monitored; the dashboard's summaries written."""
    t0 = time.monotonic()
    out = run_python(SCORE, airflow.env, timeout_s=600)
    assert out["version"] == champion and out["rows"] > 0 and out["inference_ids"], out
    print(f"\nscored and monitored in {time.monotonic() - t0:.0f} s: {out}")
    return out


@pytest.fixture(scope="module")
def driver(browser_binaries):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = browser_binaries
    profile = tempfile.mkdtemp(prefix="airsage-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1000", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    log = Path(profile).with_suffix(".chromedriver.log")
    d = webdriver.Chrome(options=opts, service=Service(executable_path=chromedriver, log_output=str(log)))
    d.set_page_load_timeout(60)
    try:
        yield d
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def ui(driver, airflow, request):
    from ui import AirflowUI

    page = AirflowUI(driver, airflow.base_url, screenshots=os.environ.get("AIRSAGE_SCREENSHOTS"))
    failed_before = request.session.testsfailed
    yield page
    if request.session.testsfailed > failed_before:  # what the page showed when the test failed
        shot = Path(tempfile.gettempdir()) / f"airsage-browser-{request.node.name}.png"
        driver.save_screenshot(str(shot))
        print(f"\nscreenshot of the failure: {shot}\nURL: {driver.current_url}")
