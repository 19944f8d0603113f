"""The bias-metric vocabulary of SageMaker Clarify, once: metric names per stage, their full names, what
each means, its balanced range and its ideal value (stdlib only; the gates, the report, the metrics and
bias-drift monitoring all read it from here).

Ideal values: 1 for the ratio DI (disparate impact), 0 for every other metric. ``deviation`` is the
distance from the ideal, the quantity a bias bound limits (``|DI - 1|``, ``|DPL|``, ...).
Names and meanings follow SageMaker Clarify's documentation of its pre- and post-training bias metrics.
"""
from __future__ import annotations

PRE_TRAINING = ("CDDL", "CI", "DPL", "JS", "KL", "KS", "LP", "TVD")
POST_TRAINING = ("AD", "CDDPL", "DAR", "DCA", "DCR", "DI", "DPPL", "DRR", "FT", "GE", "RD", "SD", "TE")
DESCRIPTIONS = {
    "CI": "Class Imbalance (CI)",
    "DPL": "Difference in Positive Proportions in Labels (DPL)",
    "KL": "Kullback-Liebler Divergence (KL)",
    "JS": "Jensen-Shannon Divergence (JS)",
    "LP": "L-p Norm (LP)",
    "TVD": "Total Variation Distance (TVD)",
    "KS": "Kolmogorov-Smirnov Distance (KS)",
    "CDDL": "Conditional Demographic Disparity in Labels (CDDL)",
    "DPPL": "Difference in Positive Proportions in Predicted Labels (DPPL)",
    "DI": "Disparate Impact (DI)",
    "DCA": "Difference in Conditional Acceptance (DCA)",
    "DCR": "Difference in Conditional Rejection (DCR)",
    "RD": "Recall Difference (RD)",
    "SD": "Specificity Difference (SD)",
    "DAR": "Difference in Acceptance Rates (DAR)",
    "DRR": "Difference in Rejection Rates (DRR)",
    "AD": "Accuracy Difference (AD)",
    "CDDPL": "Conditional Demographic Disparity in Predicted Labels (CDDPL)",
    "TE": "Treatment Equality (TE)",
    "FT": "Flip Test (FT)",
    "GE": "Generalized Entropy (GE)",
}

ALL = frozenset(PRE_TRAINING + POST_TRAINING)
#: metric -> ideal value (every metric not listed: 0)
IDEAL = {"DI": 1.0}


def ideal(metric: str) -> float:
    return IDEAL.get(metric, 0.0)


def deviation(metric: str, value: float) -> float:
    """Distance of a metric value from the metric's ideal value (``|DI - 1|``, ``|x|`` otherwise)."""
    return abs(value - ideal(metric))


# metric -> (meaning, balanced range, ideal value, "notable" deviation used to highlight a value)
METRIC_INFO: dict[str, tuple[str, str, float, float]] = {
    "CI": ("Is facet group d under-represented? (n_a - n_d) / n", "[-1, 1]; 0 = same size", 0.0, 0.5),
    "DPL": ("Difference in observed positive-label rates, a minus d", "[-1, 1]; 0 = parity", 0.0, 0.1),
    "KL": ("Kullback-Leibler divergence of the label distributions of a and d", "[0, +inf); 0 = same", 0.0, 0.1),
    "JS": ("Jensen-Shannon divergence of the label distributions", "[0, ln 2]; 0 = same", 0.0, 0.05),
    "LP": ("L2 distance between the label distributions", "[0, sqrt 2]; 0 = same", 0.0, 0.1),
    "TVD": ("Total variation distance between the label distributions", "[0, 1]; 0 = same", 0.0, 0.1),
    "KS": ("Largest gap between the label distributions", "[0, 1]; 0 = same", 0.0, 0.1),
    "CDDL": ("Demographic disparity of labels, conditioned on the group variable", "[-1, 1]; 0 = none", 0.0, 0.1),
    "DPPL": ("Difference in predicted positive rates, a minus d", "[-1, 1]; 0 = parity", 0.0, 0.1),
    "DI": ("Disparate impact: predicted positive rate of d over that of a", "[0, +inf); 1 = parity, "
           "0.8-1.25 (four-fifths rule)", 1.0, 0.2),
    "DCA": ("Difference in conditional acceptance (observed / predicted positives), a minus d",
            "(-inf, +inf); 0 = none", 0.0, 0.1),
    "DCR": ("Difference in conditional rejection (observed / predicted negatives), d minus a",
            "(-inf, +inf); 0 = none", 0.0, 0.1),
    "RD": ("Recall (true positive rate) difference, a minus d", "[-1, 1]; 0 = none", 0.0, 0.1),
    "SD": ("Specificity (true negative rate) difference, d minus a", "[-1, 1]; 0 = none", 0.0, 0.1),
    "DAR": ("Precision difference, a minus d", "[-1, 1]; 0 = none", 0.0, 0.1),
    "DRR": ("Rejection-rate (TN / predicted negatives) difference, d minus a", "[-1, 1]; 0 = none", 0.0, 0.1),
    "AD": ("Accuracy difference, a minus d", "[-1, 1]; 0 = none", 0.0, 0.1),
    "TE": ("Treatment equality: FN/FP ratio of d minus that of a", "(-inf, +inf); 0 = none", 0.0, 0.5),
    "CDDPL": ("Demographic disparity of predictions, conditioned on the group variable", "[-1, 1]; 0 = none",
              0.0, 0.1),
    "FT": ("Flip test: share of d whose prediction flips under their nearest a-neighbours (positive minus "
           "negative flips)", "[-1, 1]; 0 = none", 0.0, 0.1),
    "GE": ("Generalized entropy of the prediction 'benefit' (facet-independent)", "[0, 0.5]; 0 = equal", 0.0, 0.1),
}
assert set(METRIC_INFO) == ALL and all(METRIC_INFO[m][2] == ideal(m) for m in ALL)
