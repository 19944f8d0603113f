"""Model monitoring compatible with SageMaker Model Monitor (pure domain code, no Airflow).

Rooms inside:

* ``baseline``      ``suggest_baseline`` -> Model Monitor ``statistics.json`` / ``constraints.json``
* ``checks``        ``analyze`` -> ``constraint_violations.json`` (the six data-quality checks)
* ``drift``         effect-size drift per feature (PSI, Jensen-Shannon, normalised Wasserstein),
                    the importance-weighted dataset rule, prediction (score) drift
* ``data_monitor``  ``monitor_data``: data quality + drift in one pass over the current data
* ``model_quality`` binary-classification metrics, constraints and violations; delayed ground truth
* ``bias_drift``    Clarify bias-drift and feature-attribution (NDCG) rules on two analysis.json documents
* ``clarify_monitors`` bias drift and attribution drift of a scored partition (analysis + rules + files)
* ``sketch``        the quantile summary (exact, or with a proven rank-error bound) behind ``profile``
* ``capture``       captured scoring data by time window;  ``history`` per-run time series
* ``report``        a self-contained HTML report

Importing this package is cheap: the submodules import numpy/pandas/pyarrow themselves.
"""
