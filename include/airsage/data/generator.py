"""The bundled example data: seeded, realistic tabular credit applications.

``generate(n, ...)`` returns one DataFrame with 30 numeric and 5 categorical features, the sensitive
attributes ``sex`` and ``age_group`` (carried along, never model inputs), a record id, an event
timestamp and the label ``default`` (1 = defaulted). It is vectorised and chunk-seeded, so any slice
of a large dataset is reproducible on its own (the 20M-row benchmark writes it chunk by chunk).

Knobs:
* ``bias_strength``: extra default log-odds for the facet groups (female, age 18-25) — different
  base rates per group, which Clarify's pre-training metrics (CI, DPL, ...) then detect.
* ``drift``: ``shift`` (income down, debt and utilisation up, credit score down), ``new_category``
  (an unseen ``loan_purpose`` value and an unseen ``region``), ``missing`` (missing values in several
  numeric columns), scaled by ``drift_strength``.
* label delay: ``label_available_at`` = event time + ``label_delay_days`` (delayed ground truth).
* ``fairness_shift`` (default 0, off): a fairness regression for the facet group ``sex = female``:
  the group's credit scores drop by ``80 * fairness_shift`` points and its default log-odds rise by
  ``fairness_shift``, so a fixed model scores the group higher (its predicted positive rate moves:
  DPPL, DI) and the observed labels follow (the label-based post-training metrics move too).
* ``attribution_shift`` (default 0, off): a different feature starts driving the label: the spread of
  ``credit_score`` (the example model's strongest input) shrinks by ``90 % * attribution_shift`` and its
  weight in the label by ``attribution_shift``, while ``num_inquiries_6m`` grows (Poisson mean
  ``1.2 + 6 * attribution_shift``) and weighs ``0.15 + 0.6 * attribution_shift``, and the payment burden
  (``payment_to_income``) grows by ``200 % * attribution_shift``; a fixed model's attributions then rank
  the features differently (feature-attribution drift).
The knobs change no random draw: with them at 0 the data is identical to the data without them.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

CATEGORIES: dict[str, list[str]] = {
    "employment_type": ["salaried", "self_employed", "contractor", "retired", "unemployed"],
    "housing_status": ["rent", "own", "mortgage", "family"],
    "loan_purpose": ["debt_consolidation", "home_improvement", "car", "business", "education", "medical"],
    "region": ["north", "south", "east", "west", "central"],
    "education": ["secondary", "bachelor", "master", "doctorate", "other"],
}
NEW_CATEGORIES = {"loan_purpose": "crypto_investment", "region": "offshore"}
AGE_BINS = [17, 25, 40, 60, 120]
AGE_GROUPS = ["18-25", "26-40", "41-60", "60+"]
NUMERIC = [
    "age", "income", "loan_amount", "loan_term_months", "interest_rate", "debt_to_income", "credit_score",
    "num_open_accounts", "num_delinquencies_2y", "months_since_last_delinquency", "revolving_utilization",
    "num_inquiries_6m", "employment_years", "savings_balance", "checking_balance", "monthly_expenses",
    "num_dependents", "years_at_address", "credit_history_months", "num_late_payments_12m", "total_debt",
    "mortgage_balance", "installment_amount", "payment_to_income", "num_credit_cards", "avg_card_limit",
    "max_days_past_due_24m", "bank_tenure_months", "num_products", "txn_volume_3m",
]
CATEGORICAL = list(CATEGORIES)
RECORD_ID, EVENT_TIME, LABEL = "application_id", "event_ts", "default"
MISSING_COLUMNS = ["income", "employment_years", "savings_balance", "months_since_last_delinquency"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def generate(
    n: int,
    *,
    seed: int = 42,
    day: dt.date | str | None = None,
    chunk: int = 0,
    bias_strength: float = 0.0,
    drift: str = "none",
    drift_strength: float = 1.0,
    label_delay_days: int = 0,
    id_prefix: str = "app",
    fairness_shift: float = 0.0,
    attribution_shift: float = 0.0,
) -> pd.DataFrame:
    """``n`` applications dated ``day`` (default 2026-11-01). Deterministic in (seed, day, chunk)."""
    if drift not in ("none", "shift", "new_category", "missing"):
        raise ValueError(f"unknown drift kind {drift!r}: use none, shift, new_category or missing")
    day = dt.date.fromisoformat(str(day)) if day is not None else dt.date(2026, 11, 1)
    rng = np.random.default_rng([seed, day.toordinal(), chunk])
    s = float(drift_strength) if drift == "shift" else 0.0
    fs, at = float(fairness_shift), float(attribution_shift)
    if not (0.0 <= at <= 1.0):
        raise ValueError(f"attribution_shift {attribution_shift} is outside [0, 1]")

    sex = np.where(rng.random(n) < 0.48, "female", "male")
    age = np.clip(np.round(18 + rng.gamma(4.0, 6.5, n)), 18, 85)
    age_group = np.array(AGE_GROUPS, dtype=object)[np.digitize(age, AGE_BINS[1:-1], right=True)]
    cats = {}
    for name, values in CATEGORIES.items():
        p = np.linspace(2.0, 1.0, len(values))
        cats[name] = np.asarray(values, dtype=object)[rng.choice(len(values), n, p=p / p.sum())]
    if drift == "new_category":
        for name, value in NEW_CATEGORIES.items():
            cats[name][rng.random(n) < 0.25 * drift_strength] = value

    income = rng.lognormal(10.9 - 0.35 * s, 0.45, n)
    employment_years = np.clip(rng.gamma(2.0, 3.0, n) * (age - 17) / 30, 0, 45)
    credit_history_months = np.clip((age - 18) * 12 * rng.beta(3, 2, n), 0, None)
    credit_score = np.clip(rng.normal(680 - 45 * s, 70 * (1 - 0.9 * at), n) + 0.08 * credit_history_months
                           - 80 * fs * (sex == "female"), 300, 850)
    loan_amount = np.round(np.clip(rng.lognormal(9.6, 0.7, n), 1000, 150000), 2)
    loan_term_months = rng.choice([12, 24, 36, 48, 60, 72], n)
    interest_rate = np.clip(0.04 + (850 - credit_score) / 2500 + rng.normal(0, 0.01, n), 0.02, 0.35)
    total_debt = np.clip(rng.lognormal(9.8 + 0.3 * s, 0.9, n), 0, None)
    debt_to_income = np.clip(total_debt / income + rng.normal(0.05 * s, 0.03, n), 0, 5)
    revolving_utilization = np.clip(rng.beta(2 + 1.5 * s, 4, n), 0, 1)
    num_open_accounts = rng.poisson(5, n)
    num_delinquencies_2y = rng.poisson(np.clip(0.3 + (700 - credit_score) / 300, 0.05, 3))
    months_since_last_delinquency = np.where(num_delinquencies_2y > 0, rng.integers(0, 24, n), 120)
    num_inquiries_6m = rng.poisson(1.2 + s + 6 * at, n)
    savings_balance = np.round(rng.lognormal(8.0, 1.2, n) * (income / 60000), 2)
    checking_balance = np.round(rng.lognormal(7.0, 1.0, n), 2)
    monthly_expenses = np.round(income / 12 * rng.beta(5, 4, n), 2)
    num_dependents = rng.poisson(1.0, n)
    years_at_address = np.clip(rng.exponential(5, n), 0, 50)
    num_late_payments_12m = rng.poisson(np.clip(0.2 + revolving_utilization, 0, 3))
    mortgage_balance = np.where(cats["housing_status"] == "mortgage", rng.lognormal(12, 0.5, n), 0.0)
    monthly_rate = interest_rate / 12
    installment_amount = loan_amount * monthly_rate / (1 - (1 + monthly_rate) ** (-loan_term_months))
    payment_to_income = installment_amount * 12 / income * (1 + 2 * at)  # grows with attribution_shift
    num_credit_cards = rng.poisson(2.5, n)
    avg_card_limit = np.round(rng.lognormal(8.5, 0.6, n), 2)
    max_days_past_due_24m = np.where(num_delinquencies_2y > 0, rng.choice([30, 60, 90, 120], n), 0)
    bank_tenure_months = rng.integers(0, 240, n)
    num_products = rng.integers(1, 6, n)
    txn_volume_3m = np.round(rng.lognormal(8.5, 0.8, n), 2)

    logit = (
        -2.2
        + 1.6 * (1 - at) * (650 - credit_score) / 100
        + 1.2 * np.clip(debt_to_income, 0, 2)
        + 1.1 * (revolving_utilization - 0.35)
        + 0.35 * num_delinquencies_2y
        + 0.25 * num_late_payments_12m
        + (0.15 + 0.6 * at) * num_inquiries_6m
        + 2.5 * np.clip(payment_to_income, 0, 1)
        - 0.35 * np.log1p(savings_balance / 1000)
        - 0.03 * employment_years
        + 0.5 * (cats["employment_type"] == "unemployed")
        + 0.25 * (cats["loan_purpose"] == "business")
        - 0.2 * (cats["housing_status"] == "own")
        + bias_strength * ((sex == "female").astype(float) + (age_group == "18-25").astype(float))
        + fs * (sex == "female")
    )
    label = (rng.random(n) < _sigmoid(logit)).astype(np.int64)

    seconds = np.sort(rng.integers(0, 86400, n))
    start = pd.Timestamp(day, tz="UTC")
    event_ts = start + pd.to_timedelta(seconds, unit="s")
    ids = pd.Series(np.arange(n) + chunk * 10_000_000).astype(str).str.zfill(8)
    record_id = f"{id_prefix}-{day:%Y%m%d}-" + ids

    frame = {
        RECORD_ID: record_id.to_numpy(dtype=object),
        EVENT_TIME: event_ts,
        "age": age, "income": np.round(income, 2), "loan_amount": loan_amount,
        "loan_term_months": loan_term_months.astype(float), "interest_rate": np.round(interest_rate, 5),
        "debt_to_income": np.round(debt_to_income, 4), "credit_score": np.round(credit_score),
        "num_open_accounts": num_open_accounts.astype(float), "num_delinquencies_2y": num_delinquencies_2y.astype(float),
        "months_since_last_delinquency": months_since_last_delinquency.astype(float),
        "revolving_utilization": np.round(revolving_utilization, 4), "num_inquiries_6m": num_inquiries_6m.astype(float),
        "employment_years": np.round(employment_years, 1), "savings_balance": savings_balance,
        "checking_balance": checking_balance, "monthly_expenses": monthly_expenses,
        "num_dependents": num_dependents.astype(float), "years_at_address": np.round(years_at_address, 1),
        "credit_history_months": np.round(credit_history_months), "num_late_payments_12m": num_late_payments_12m.astype(float),
        "total_debt": np.round(total_debt, 2), "mortgage_balance": np.round(mortgage_balance, 2),
        "installment_amount": np.round(installment_amount, 2), "payment_to_income": np.round(payment_to_income, 4),
        "num_credit_cards": num_credit_cards.astype(float), "avg_card_limit": avg_card_limit,
        "max_days_past_due_24m": max_days_past_due_24m.astype(float), "bank_tenure_months": bank_tenure_months.astype(float),
        "num_products": num_products.astype(float), "txn_volume_3m": txn_volume_3m,
        **cats,
        "sex": sex.astype(object), "age_group": age_group,
        LABEL: label,
        "label_available_at": event_ts + pd.Timedelta(days=label_delay_days),
    }
    df = pd.DataFrame(frame)
    if drift == "missing":
        for col in MISSING_COLUMNS:
            df.loc[rng.random(n) < 0.3 * drift_strength, col] = np.nan
    for col in CATEGORICAL + ["sex", "age_group", RECORD_ID]:
        df[col] = df[col].astype(object)
    return df


def generate_days(days: list[dt.date], rows_per_day: int, **kwargs) -> pd.DataFrame:
    return pd.concat([generate(rows_per_day, day=d, **kwargs) for d in days], ignore_index=True)


def write_parquet_chunks(path: str, total_rows: int, *, chunk_rows: int = 500_000, row_group_rows: int = 250_000,
                         columns: list[str] | None = None, **kwargs) -> int:
    """Write ``total_rows`` generated rows to one Parquet file, chunk by chunk (bounded memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from airsage import storage

    written = 0
    writer = None
    with storage.atomic_path(path) as tmp:
        try:
            chunk = 0
            while written < total_rows:
                n = min(chunk_rows, total_rows - written)
                df = generate(n, chunk=chunk, **kwargs)
                if columns:
                    df = df[columns]
                table = pa.Table.from_pandas(df, preserve_index=False)
                if writer is None:
                    dict_cols = [c for c in table.column_names if pa.types.is_string(table.schema.field(c).type)
                                 or pa.types.is_large_string(table.schema.field(c).type)]
                    dict_cols = [c for c in dict_cols if c != RECORD_ID]
                    writer = pq.ParquetWriter(str(tmp), table.schema, use_dictionary=dict_cols, compression="snappy")
                writer.write_table(table, row_group_size=row_group_rows)
                written += n
                chunk += 1
        finally:
            if writer is not None:
                writer.close()
    return written
