"""Clarify benchmark: Airsage's bias metrics, FlipTest and SHAP vs smclarify 0.5, in one run.

    .venv/bin/python benchmarks/bench_clarify.py [--rows 1000000] [--ft-rows 100000] [--shap-rows 10000]

1. All pre- and post-training metrics except FT on ``--rows`` generated rows (facets: sex=female and
   age_group one-vs-rest; group variable region): ours vs smclarify, values asserted identical.
2. FT alone at ``--ft-rows`` (30 numeric features, facet sex): ours vs smclarify, values asserted equal;
   ours again at 3x that size (smclarify is ~n^1.9 there: ~70 s at 300k on this machine).
3. Exact TreeSHAP of a 200-tree depth-6 XGBoost on 35 features for ``--shap-rows`` rows, with KernelSHAP
   (Clarify's algorithm) timed on a few rows for the ratio; then ``run_analysis`` writing local
   explanations (out.csv + report.html) for 1,000 rows.

Prints a markdown table and a JSON line (machine facts, seconds, ratios).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import tempfile
import time

import numpy as np
import pandas as pd


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def smclarify_all(df, facets, stage, methods, group):
    from smclarify.bias import report as R

    out = {}
    for name, values in facets:
        st = R.StageType.PRE_TRAINING if stage == "pre" else R.StageType.POST_TRAINING
        pred = R.LabelColumn("pred", df["pred"], [1]) if stage == "post" else None
        out[name] = R.bias_report(df, R.FacetColumn(name, values), R.LabelColumn("default", df["default"], [1]), st,
                                  pred, metrics=methods, group_variable=group)
    return out


def ours_all(df, facets, stage, methods, group):
    from airsage.clarify.metrics import bias_reports

    reports = bias_reports(df, facets, "default", [1], stage, predicted_label="pred" if stage == "post" else None,
                           group_variable=group, methods=methods)
    return {name: [r.to_dict() for r in entries] for name, entries in reports.items()}


def bench_metrics(n: int) -> dict:
    from airsage.data import generator as g
    from airsage.clarify.metrics import POST_TRAINING, PRE_TRAINING

    df = g.generate(n, seed=7, bias_strength=0.4)
    df["pred"] = ((df.credit_score < 640) | (df.debt_to_income > 0.6)).astype(np.int64)
    frame = df[["sex", "age_group", "default", "pred"]]
    group = df["region"]
    # categorical facets only: smclarify maps a continuous facet row by row in Python for every metric
    # (~20 us per row per metric: minutes at 1M rows); continuous facets are checked in the unit tests.
    facets = [("sex", ["female"]), ("age_group", None)]
    post = [m for m in POST_TRAINING if m != "FT"]
    res = {}
    for stage, methods in (("pre", list(PRE_TRAINING)), ("post", post)):
        ours, t_ours = _timed(lambda: ours_all(frame, facets, stage, methods, group))
        ref, t_ref = _timed(lambda: smclarify_all(frame, facets, stage, methods, group))
        assert ours == ref, f"{stage}: values differ from smclarify"
        res[stage] = {"ours_s": t_ours, "smclarify_s": t_ref, "entries": sum(len(v) for v in ours.values()),
                      "metrics": len(methods)}
    return res


def bench_ft(n: int) -> dict:
    from airsage.clarify.metrics import bias_report
    from airsage.data import generator as g
    from smclarify.bias import report as R

    out = {}
    for rows, with_ref in ((n, True), (3 * n, False)):
        df = g.generate(rows, seed=11, bias_strength=0.4)
        frame = df[g.NUMERIC + ["sex", "default"]].copy()
        frame["pred"] = ((df.credit_score < 640) | (df.debt_to_income > 0.6)).astype(np.int64)
        ours, t_ours = _timed(lambda: bias_report(frame, "sex", ["female"], "default", [1], "post",
                                                  predicted_label="pred", methods=["FT"]))
        entry = {"rows": rows, "ours_s": t_ours, "value": ours[0].value("FT")}
        if with_ref:
            ref, t_ref = _timed(lambda: R.bias_report(frame, R.FacetColumn("sex", ["female"]),
                                                      R.LabelColumn("default", frame["default"], [1]),
                                                      R.StageType.POST_TRAINING,
                                                      R.LabelColumn("pred", frame["pred"], [1]), metrics=["FT"]))
            entry.update(smclarify_s=t_ref, smclarify_value=ref[0]["metrics"][0]["value"])
            assert [r.to_dict() for r in ours] == ref, "FT differs from smclarify"
        out[f"ft_{rows}"] = entry
    return out


def bench_shap(n_rows: int) -> dict:
    import xgboost as xgb

    from airsage.clarify import explain as E
    from airsage.clarify.runner import run_analysis
    from airsage.data import generator as g
    from airsage.model import ModelBundle, vocabularies

    train = g.generate(50_000, seed=1, bias_strength=0.4)
    features = g.NUMERIC + g.CATEGORICAL
    bundle = ModelBundle("xgboost", features, vocabularies(train, g.CATEGORICAL), label="default")
    bundle.booster = xgb.train({"max_depth": 6, "eta": 0.1, "objective": "binary:logistic", "tree_method": "hist",
                                "nthread": os.cpu_count()}, xgb.DMatrix(bundle.encode(train), label=train["default"]),
                               200)
    data = g.generate(n_rows, seed=2, bias_strength=0.4)
    x = bundle.encode(data)
    tree, t_tree = _timed(lambda: E.tree_shap(bundle.booster, x, feature_names=features))
    kernel_rows = 3
    base = E.summarize_baseline(x[:2000].astype(np.float64), 10, 0)
    _, t_kernel = _timed(lambda: E.kernel_shap(bundle.predict_proba_encoded, x[:kernel_rows].astype(np.float64), base,
                                               feature_names=features))
    cfg = {"dataset_type": "application/x-parquet", "joinsource_name_or_index": "application_id",
           "excluded_columns": ["event_ts", "label_available_at", "sex", "age_group", "default"],
           "methods": {"shap": {"save_local_shap_values": True}, "report": {"name": "report"}}}
    with tempfile.TemporaryDirectory() as tmp:
        res, t_run = _timed(lambda: run_analysis(cfg, data.head(1000), os.path.join(tmp, "out"), model=bundle))
        assert len(pd.read_csv(os.path.join(tmp, "out", "explanations_shap", "out.csv"))) == 1000
    return {"tree_rows": n_rows, "tree_s": t_tree, "tree_rows_per_s": n_rows / t_tree,
            "additivity_max_error": tree.additivity_max_error, "kernel_rows": kernel_rows,
            "kernel_s_per_row": t_kernel / kernel_rows, "local_1000_run_analysis_s": t_run,
            "shap_method": res.shap_method}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--ft-rows", type=int, default=100_000)
    ap.add_argument("--shap-rows", type=int, default=10_000)
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # smclarify logs every metric at INFO
    metrics = bench_metrics(args.rows)
    ft = bench_ft(args.ft_rows)
    shap_res = bench_shap(args.shap_rows)
    facts = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "nproc": os.cpu_count()}
    rows = []
    for stage in ("pre", "post"):
        m = metrics[stage]
        rows.append((f"{m['metrics']} {stage}-training metrics x {m['entries']} facet entries, {args.rows:,} rows",
                     m["ours_s"], m["smclarify_s"], "identical"))
    for key, f in ft.items():
        rows.append((f"FT, {f['rows']:,} rows, 30 numeric features", f["ours_s"], f.get("smclarify_s"),
                     "identical" if "smclarify_s" in f else f"FT={f['value']:.6f}"))
    rows.append((f"TreeSHAP, {shap_res['tree_rows']:,} rows, 200 trees depth 6, 35 features", shap_res["tree_s"],
                 shap_res["kernel_s_per_row"] * shap_res["tree_rows"],
                 f"KernelSHAP extrapolated from {shap_res['kernel_rows']} rows"))
    rows.append(("run_analysis: SHAP + out.csv + report.html, 1,000 rows", shap_res["local_1000_run_analysis_s"], None,
                 shap_res["shap_method"]))
    print(f"\nClarify benchmark, {facts['date']}, nproc={facts['nproc']}\n")
    print("| task | Airsage s | reference s | ratio | note |\n|---|---:|---:|---:|---|")
    for name, ours, ref, note in rows:
        ratio = f"{ref / ours:.0f}x" if ref else "-"
        print(f"| {name} | {ours:.2f} | {ref:.2f} | {ratio} | {note} |" if ref else
              f"| {name} | {ours:.2f} | - | - | {note} |")
    print("\n" + json.dumps({**facts, "metrics": metrics, "ft": ft, "shap": shap_res}, default=float))


if __name__ == "__main__":
    main()
