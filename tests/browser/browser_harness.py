"""What the browser tests share besides fixtures: the use case, its DAGs, how the example is prepared, where
the browser lives and the users' passwords (a plain module, so test files can import it)."""
from __future__ import annotations

import json
from pathlib import Path

UC = "credit_risk"
PARTITION = "2026-11-21"  # prepare_example_data's default end date: the scoring partition
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = ("/usr/bin/chromedriver",)

# The example data (3 days x 800 labelled rows), one published dataset version, and one model trained on it with
# the local backend, its post-training Clarify analysis (the bias gates read it) and its registration as
# PendingManualApproval, and its monitoring baseline: what a `<uc>__train` run leaves behind, minus the
# pre-training analysis, which nothing here needs. ~20 s instead of minutes through Airflow.
PREPARE = f"""
import json
from airsage.config import get_usecase
from airsage.lifecycle import clarify, labels, training
from airsage import storage
from airsage.lifecycle.common import run_job
from airsage.lifecycle.monitoring import suggest_baseline_for_version
uc, key = get_usecase({UC!r}), "browser-e2e"
data = labels.prepare_example_data(uc, end_date={PARTITION!r}, days=3, rows_per_day=800, scoring_rows=150)
ds = labels.latest_dataset(uc, labels.import_labels(uc, [data["manifest"]], log_lineage=False)["version"])
job = run_job(uc, training.train_spec(uc, ds, key), poll_s=0.5)
post = clarify.clarify_plan(uc, job=job, dataset=ds, run_key=key)["post"]
bias = run_job(uc, clarify.clarify_spec(uc, run_key=key, config_uri=post["config_uri"], data_uri=post["data_uri"],
                                        output_uri=post["output_uri"], model_uri=post["model_uri"], stage="post"),
               poll_s=0.5)
r = training.register_trained(uc, job=job, dataset=ds, run_key=key, actor="e2e-setup",
                              clarify_outputs=[bias.output("output")], mirror=False)
# the version's Model Monitor baseline (what the training DAG's baseline steps leave): the monitoring run of
# the scored partition (SCORE) is judged against it
suggest_baseline_for_version(uc, r["version"], dataset_uri=ds.uri, output_data_uri=job.output("output_data"),
                             clarify_analysis_uri=storage.join(bias.output("output"), "analysis.json"))
print(json.dumps({{"dataset_version": ds.version, "version": str(r["version"]), "status": str(r["status"]),
                  "failed_gates": [g["name"] for g in r["gates"] if not g["passed"]]}}))
"""

# every DAG of a use case, by suffix (dags/*.py)
DAGS = ("import_labels", "train", "clarify", "batch_transform", "monitor", "human_review", "approve_model",
        "promote_model")
APPROVE = f"{UC}__approve_model"
ASK = "ask_approver"  # the approval run's human-in-the-loop task
REVIEW = f"{UC}__human_review"
REVIEW_TASK = "review_record"
APPROVAL_COMMENT = "Gates passed; bias and AUC reviewed in the browser."

# After the approval: the champion scores the partition with the transform job on the local backend and the
# monitor job judges it against the baseline (what `<uc>__batch_transform` and `<uc>__monitor` run, without
# Airflow's task overhead); `dashboard.rebuild` then writes the dashboard's summaries from what exists (the
# way an installation that ran before the dashboard gets them). Prints the rows, five inference ids, the verdict.
SCORE = f"""
import json
import pyarrow.parquet as pq
from airsage import dashboard, storage
from airsage.config import get_usecase
from airsage.lifecycle import transform
from airsage.lifecycle.common import run_job
from airsage.lifecycle.governance import resolve_model
from airsage.lifecycle.monitoring import monitor_partition
uc = get_usecase({UC!r})
model = resolve_model(uc, alias="champion")
job = run_job(uc, transform.transform_spec(uc, model, {PARTITION!r}, "browser-score"), poll_s=0.5)
report = transform.read_transform_report(job)
monitored = monitor_partition(uc, partition={PARTITION!r}, run_key="browser-monitor")
rebuilt = dashboard.rebuild(uc)
with storage.local_copy(report["capture_file"]) as local:
    ids = pq.read_table(local, columns=["inference_id"]).column(0).to_pylist()
print(json.dumps({{"version": str(model.version), "rows": report["records_out"], "inference_ids": ids[:5],
                  "alert": bool(monitored.get("alert")), "rebuilt": rebuilt}}, default=str))
"""


def passwords(af) -> dict[str, str]:
    return json.loads(Path(af.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())


def login(ui, airflow, user: str) -> None:
    """Sign ``user`` in on Airflow's login page with the session's password for them."""
    ui.login(user, passwords(airflow)[user])
