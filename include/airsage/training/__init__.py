"""Training and evaluation: deterministic split, XGBoost / scikit-learn, held-out metrics."""
