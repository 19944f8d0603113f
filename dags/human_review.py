"""### Human review of risky predictions (A2I-style)
After each scored partition, routes the records a human should see — low confidence (score within the
use case's band around the threshold), high-risk predictions, and feature rules — capped per night in a
stated priority order, and marks them `pending_review` beside the predictions
(`predictions/dt=<partition>/_review/review_status.parquet`). Each routed record becomes one **Required
action** (Airflow human-in-the-loop) showing the record, the score, why it was routed and its top SHAP
contributions: *Confirm* keeps the model's label, *Override* flips it. Unanswered tasks take the use case's
default decision after `review.timeout_hours`. Every decision is written as an A2I `output.json`
(`review/a2i/`), which the label import reads as labels and monitoring as ground truth.

Scheduled by the predictions Asset; UI-triggerable for any scored partition.
"""
from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param, dag, task

from airsage_airflow.assets import predictions_asset
from airsage_airflow.errors import fail_fast
from airsage_airflow.usecases import default_args, start_date, tags, usecases_or_none


def build(uc):
    @dag(dag_id=f"{uc.name}__human_review", schedule=[predictions_asset(uc)], start_date=start_date(uc),
         catchup=False, max_active_runs=4, default_args=default_args(uc), tags=tags(uc, "review"), doc_md=__doc__,
         params={
             "partition": Param("", type="string", title="Partition (YYYY-MM-DD)",
                                description="Empty = the partition named by the predictions Asset event."),
             "output_uri": Param("", type="string", title="Predictions URI",
                                 description="Empty = <root>/predictions/dt=<partition>."),
         })
    def human_review():
        @task
        @fail_fast
        def queue_reviews(params=None, triggering_asset_events=None) -> dict:
            from airsage.steps import review

            partition, output_uri = params["partition"], params["output_uri"]
            if not partition and triggering_asset_events:
                extra = next((e.extra for events in triggering_asset_events.values() for e in events), {}) or {}
                partition, output_uri = extra.get("partition", ""), output_uri or extra.get("output_uri", "")
            if not partition:
                from airsage.errors import ConfigError

                raise ConfigError("no partition to review", key="partition", fix="Give the form's partition (YYYY-MM-DD).")
            queued = review.queue_reviews(uc, partition=partition, output_uri=output_uri or None)
            print(f"Routing: {queued['routing']}")
            return queued

        queued = queue_reviews()

        @task
        def review_bodies(queued: dict) -> list[str]:
            return [t["body"] for t in queued["tasks"]]

        reviews = HITLOperator.partial(
            task_id="review_record",
            subject=f"Review a {uc.name} prediction",
            options=["Confirm", "Override"],
            params={"comment": Param(None, type=["null", "string"], title="Comment",
                                     description="Why (kept with the label).")},
            response_timeout=dt.timedelta(hours=uc.review.timeout_hours),
            retries=0,
        ).expand(body=review_bodies(queued))

        @task(trigger_rule="all_done")
        @fail_fast
        def record_decisions(queued: dict, ti=None) -> dict:
            from airsage.steps import review

            answers = ti.xcom_pull(task_ids="review_record", map_indexes=list(range(len(queued["tasks"])))) \
                if queued["tasks"] else []
            if not isinstance(answers, list):
                answers = [answers]
            answers = list(answers) + [None] * (len(queued["tasks"]) - len(answers))
            result = review.record_decisions(uc, queued=queued, answers=answers)
            print(f"Review status: {result['status']}")
            return result

        reviews >> record_decisions(queued)

    return human_review()


for _uc in usecases_or_none():
    build(_uc)
