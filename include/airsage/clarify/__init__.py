"""SageMaker Clarify-compatible bias metrics and explanations (pure domain code, no Airflow).

Modules (import them directly; this package imports nothing heavy):

* ``metrics``: every Clarify bias metric with smclarify 0.5's definitions; ``bias_report`` (one facet,
  smclarify's output) and ``bias_reports`` (several facets sharing the label/prediction preparation).
* ``analysis_config``: ``AnalysisConfig.parse(obj)`` for Clarify's ``analysis_config.json``.
* ``explain``: exact TreeSHAP for XGBoost, KernelSHAP otherwise; global aggregation; additivity check.
* ``runner``: ``run_analysis(config, dataset, output_uri, model=...)`` writes Clarify's output layout.
* ``report``: the self-contained ``report.html``.
* ``neighbors``: the exact k-NN search behind FT (k-d tree or scikit-learn, whichever is faster).
* ``gates``: ``analysis_config_for_usecase`` (the bias gate itself is ``airsage.training.gates``).
* ``vocabulary``: metric names per stage, full names, meanings, ideal values (``deviation``).

Deliberate differences from smclarify 0.5 / SageMaker Clarify:

1. pandas ``str`` columns work (smclarify 0.5 crashes on pandas 3 strings); they follow the ``object`` rules.
2. One-vs-rest facets skip missing values (smclarify reports a ``"nan"`` entry whose metrics all fail), and
   rows with a missing group variable are ignored by CDDL/CDDPL (smclarify may fail on them).
3. Predicted labels from a model are ``score > probability_threshold`` and used directly as the positive
   predicted label; smclarify's predicted-label type inference applies only to a ``predicted_label`` column.
4. FT's nearest neighbours come from an exact k-d tree search when that is faster than scikit-learn's
   brute force (exact ties at the k-th distance are settled by scikit-learn, as in smclarify); small
   problems use scikit-learn exactly as smclarify does. Values can differ only when two neighbour
   distances differ by less than scikit-learn's rounding error (it uses ||x||^2 - 2x.y + ||y||^2).
5. SHAP for XGBoost models is exact path-dependent TreeSHAP on the margin (log-odds), not KernelSHAP on
   the probability; ``analysis.json`` keeps Clarify's ``explanations.kernel_shap.label0`` keys and records
   the real method in ``airsage.shap_method`` / ``airsage.shap_output_space``. ``methods.shap.explainer:
   kernel`` gives Clarify's algorithm (KernelSHAP against a baseline or a k-means summary).
6. A model URI (``airsage.model.ModelBundle``) replaces Clarify's endpoint; ``predictor`` is accepted and kept.
7. Errors are ``ConfigError`` (naming the key and the fix) where smclarify raises ``ValueError``; metrics
   that cannot be computed are error entries exactly as in smclarify.
8. Not implemented: segment_config, pdp, text/image explanations, features_to_explain, separate
   facet/predicted-label datasets, JSON/image/capture datasets (all rejected by the config parser).
"""
