"""The lifecycle's steps, one module per workflow (named like the DAGs), independent of any orchestrator.

Every DAG task and every CLI command calls these functions, so the UI, a scheduled run, ``airflow dags
test`` and ``airsage ...`` run the same code. Each step is idempotent for its ``run_key`` (derived from
the Airflow run id): a retried or re-run step reattaches or replaces, it never duplicates. Heavy modules
are imported inside the functions; where data lives is ``airsage.layout``'s business, what crosses a
task boundary is ``airsage.contracts``'.

``labels`` (example data, label import, datasets, active learning) · ``training`` · ``clarify`` ·
``governance`` (decisions, cards, what to serve) · ``transform`` · ``review`` · ``monitoring``
(+ ``monitoring_data``, ``monitoring_adhoc``) · ``jobs`` (job kind -> arguments and spec builder) ·
``summary`` · ``common``. May import all of airsage, never Airflow.
"""
