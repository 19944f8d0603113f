"""### Human review of risky predictions (A2I-style)
After each scored partition, routes the records a human should see — low confidence (score within the
use case's band around the threshold), high-risk predictions, and feature rules — capped per night in a
stated priority order, and marks them `pending_review` beside the predictions
(`predictions/dt=<partition>/_review/review_status.parquet`). Each routed record becomes one **Required
action** (Airflow human-in-the-loop) showing the record, the score, why it was routed and its top SHAP
contributions: *Confirm* keeps the model's label, *Override* flips it (with a comment). Each decision is kept
the moment it is made: the task that receives it writes its A2I `output.json` (`review/a2i/`) and its
sidecar row, and logs how many of the partition's records are decided and how many wait. Unanswered tasks
take the use case's default decision after `review.timeout_hours`; the last step only summarises. The label
import reads the decisions as labels and monitoring as ground truth.

Scheduled by the predictions Asset; UI-triggerable for any scored partition.
"""
from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task

from airsage_airflow.assets import predictions_asset, predictions_events
from airsage_airflow import params as form
from airsage_airflow.errors import fail_fast
from airsage_airflow.hitl import DecisionOperator, parse_answer
from airsage_airflow.usecases import default_args, start_date, tags, usecases_or_none


def build(uc):
    @dag(dag_id=f"{uc.name}__human_review", schedule=[predictions_asset(uc)], start_date=start_date(uc),
         catchup=False, max_active_runs=4, default_args=default_args(uc), tags=tags(uc, "Review"), doc_md=__doc__,
         description="Route risky or uncertain predictions to reviewers (A2I-style); decisions become labels.",
         params={
             "partition": form.partition("Empty = the partition named by the predictions Asset event."),
             "output_uri": form.uri("Predictions URI", "Empty = <root>/predictions/dt=<partition>."),
         })
    def human_review():
        @task
        @fail_fast
        def queue_reviews(params=None, triggering_asset_events=None) -> dict:
            from airsage.lifecycle import review

            params = form.validated(params)
            if params["partition"]:
                targets = [(params["partition"], params["output_uri"] or None)]
            else:  # every partition the triggering predictions events name, once each
                targets = [(e.partition, params["output_uri"] or e.output_uri)
                           for e in predictions_events(triggering_asset_events, predictions_asset(uc))]
            if not targets:
                from airsage.errors import ConfigError

                raise ConfigError("no partition to review", key="partition", fix="Give the form's partition (YYYY-MM-DD).")
            queued = review.queue_partitions(uc, targets)
            print(f"Routing: {queued['routing']}")
            return queued

        queued = queue_reviews()

        @task
        def review_prompts(queued: dict) -> list[dict]:
            """Each task's subject (record id, score, predicted label name, reasons) and body (the record)."""
            return [{"subject": t["subject"], "body": t["body"]} for t in queued["tasks"]]

        def record_answer(context, answer) -> None:
            """Keep the decision the moment it is made: its A2I output.json and its sidecar row."""
            from airsage.lifecycle import review

            ti = context["ti"]
            queued = ti.xcom_pull(task_ids="queue_reviews")
            result = review.record_answer(uc, queued["tasks"][ti.map_index], answer.to_dict(),
                                          predictions_uri=queued["predictions_uri"])
            p = result["progress"]
            print(f"Recorded {result['decision']} by {result['reviewer']} for {result['inference_id']} "
                  f"({result['output_uri']}). Partition: {p['decided']} of {p['routed']} decided, "
                  f"{p['waiting']} waiting.")

        # assigned to review.reviewers (Airflow refuses anyone else's answer); an Override needs a comment: the
        # form cannot require a field for one option only, so the operator refuses such an answer and asks again
        reviews = DecisionOperator.partial(
            task_id="review_record",
            options=["Confirm", "Override"],
            params={"comment": form.comment(description="Why. Required for Override (an Override without a comment "
                                                        "is refused and the task asks again); optional for Confirm.",
                                            required=False)},
            respondents=uc.review.reviewers, respondents_key="review.reviewers",
            comment_required_for=["Override"], comment_min_length=form.MIN_COMMENT,
            on_answer=record_answer,
            response_timeout=dt.timedelta(hours=uc.review.timeout_hours),
            retries=0,
        ).expand_kwargs(review_prompts(queued))

        @task(trigger_rule="all_done")
        @fail_fast
        def record_decisions(queued: dict, ti=None) -> dict:
            from airsage.lifecycle import review

            answers = ti.xcom_pull(task_ids="review_record", map_indexes=list(range(len(queued["tasks"])))) \
                if queued["tasks"] else []
            if not isinstance(answers, list):
                answers = [answers]
            answers = list(answers) + [None] * (len(queued["tasks"]) - len(answers))
            answers = [parse_answer(a, options=["Confirm", "Override"]) for a in answers]
            result = review.record_decisions(uc, queued=queued, answers=[a.to_dict() if a else None for a in answers])
            print(f"Review status: {result['status']}")
            return result

        reviews >> record_decisions(queued)

    return human_review()


for _uc in usecases_or_none():
    build(_uc)
