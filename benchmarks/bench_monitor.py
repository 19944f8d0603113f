"""Monitor benchmark: Airsage's data-quality + drift check vs evidently's DataDriftPreset, in one run.

    .venv/bin/python benchmarks/bench_monitor.py [--rows 1000000] [--small-rows 100000] [--skip-evidently]

For each size (``--small-rows`` then ``--rows``), a reference and a current partition of the example
generator (35 features, different seed and day, no drift) are written to Parquet; every tool reads
the same files, each in its own subprocess (peak RSS measured per process):

* ours, baselining: ``suggest_baseline(reference.parquet)`` (done once per model, reused by every run)
* ours, the check:  ``monitor_data(current.parquet, statistics, constraints)`` = the six Model Monitor
  checks + PSI / Jensen-Shannon / Wasserstein drift and the dataset verdict, reading row group by row group
* evidently 0.7.23 ``Report([DataDriftPreset()]).run(current, reference)`` on the same data, in
  ``benchmarks/.venv-evidently`` (pandas 2.3.3; created with uv from requirements-evidently.txt):
  evidently does not import with pandas 3.

Ratios: evidently's ``run`` time (Parquet reading excluded) over our check (reading included), and over
baseline + check. Prints a markdown table and a JSON line with machine facts.

    .venv/bin/python benchmarks/bench_monitor.py --clarify [--rows 1000000] [--shap-samples 500,2000,10000,50000]

The two Clarify-based monitors on one scored partition of ``--rows`` rows (an XGBoost model of the example
data, 200 trees of depth 6, trained on 20k rows; facets ``sex`` and ``age > 40``): bias drift with the
prediction-only metrics, then with ground truth (the label metrics too); feature-attribution drift (exact
TreeSHAP) per SHAP sample size, with the NDCG of the sample's ranking against the largest sample's and
whether the top-5 features agree (what the sample size must get right).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
EV_VENV = HERE / ".venv-evidently"
EV_REQ = HERE / "requirements-evidently.txt"


def _rss_mb() -> float:
    """Peak RSS of this process. VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork+exec, so a
    child would report the (data-generating) parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# =========================================================================== children
def child_ours_baseline(ref: str, out_dir: str) -> dict:
    from airsage.data import generator
    from airsage.monitor.baseline import suggest_baseline, write_baseline

    features = {**{c: "numeric" for c in generator.NUMERIC}, **{c: "categorical" for c in generator.CATEGORICAL}}
    t0 = time.perf_counter()
    stats, cons = suggest_baseline(ref, features=features)
    seconds = time.perf_counter() - t0
    write_baseline(out_dir, stats, cons)
    return {"seconds": seconds, "peak_rss_mb": _rss_mb()}


def child_ours_check(cur: str, baseline_dir: str) -> dict:
    from airsage.monitor.baseline import read_baseline
    from airsage.monitor.data_monitor import monitor_data

    stats, cons = read_baseline(baseline_dir)
    t0 = time.perf_counter()
    report = monitor_data(cur, stats, cons)
    seconds = time.perf_counter() - t0
    s = report.summary()
    return {"seconds": seconds, "peak_rss_mb": _rss_mb(), "alert": s["alert"], "n_violations": s["n_violations"],
            "drifted_features": len(s["drifted_features"]), "rows": s["item_count"]}


def child_evidently(ref: str, cur: str) -> dict:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    t0 = time.perf_counter()
    ref_df, cur_df = pd.read_parquet(ref), pd.read_parquet(cur)
    read_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(cur_df, ref_df)
    run_s = time.perf_counter() - t0
    count = next((m["value"] for m in snapshot.dict()["metrics"] if m["metric_name"].startswith("DriftedColumnsCount")), {})
    return {"seconds": run_s, "read_seconds": read_s, "peak_rss_mb": _rss_mb(),
            "drifted_features": float(count.get("count", float("nan"))), "rows": len(cur_df)}


# =========================================================================== driver
def _run_child(python: str, args: list[str], timeout: float) -> dict:
    proc = subprocess.run([python, str(Path(__file__).resolve()), "--child", *args], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ensure_evidently_venv() -> str:
    python = EV_VENV / "bin" / "python"
    if python.exists():
        return str(python)
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    subprocess.run([uv, "venv", "-q", "--python", "3.11", str(EV_VENV)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(python), "-r", str(EV_REQ)], check=True)
    return str(python)


def _write_data(tmp: Path, rows: int) -> tuple[str, str]:
    from airsage.data import generator

    cols = generator.NUMERIC + generator.CATEGORICAL
    ref, cur = tmp / f"reference_{rows}.parquet", tmp / f"current_{rows}.parquet"
    generator.write_parquet_chunks(str(ref), rows, columns=cols, seed=7, day="2026-11-01")
    generator.write_parquet_chunks(str(cur), rows, columns=cols, seed=8, day="2026-11-15")
    return str(ref), str(cur)


def run_size(tmp: Path, rows: int, ev_python: str | None, ev_timeout: float) -> dict:
    ref, cur = _write_data(tmp, rows)
    base_dir = str(tmp / f"baseline_{rows}")
    res = {"rows": rows,
           "ours_baseline": _run_child(sys.executable, ["ours-baseline", ref, base_dir], 1800),
           "ours_check": _run_child(sys.executable, ["ours-check", cur, base_dir], 1800)}
    if ev_python:
        try:
            res["evidently"] = _run_child(ev_python, ["evidently", ref, cur], ev_timeout)
        except subprocess.TimeoutExpired:
            res["evidently"] = {"timeout_s": ev_timeout}
    ev = res.get("evidently", {})
    if "seconds" in ev:
        res["ratio_vs_check"] = ev["seconds"] / res["ours_check"]["seconds"]
        res["ratio_vs_baseline_plus_check"] = ev["seconds"] / (res["ours_check"]["seconds"] + res["ours_baseline"]["seconds"])
    for f in (ref, cur):
        os.remove(f)
    return res


def _markdown(results: list[dict]) -> str:
    lines = ["| rows (ref = cur) | ours: baseline s | ours: check s (peak RSS MB) | evidently DataDriftPreset s "
             "(+ read s, peak RSS MB) | ratio vs check | ratio vs baseline+check | drifted cols ours / evidently |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        ob, oc, ev = r["ours_baseline"], r["ours_check"], r.get("evidently", {})
        ev_cell = (f"{ev['seconds']:.1f} (+{ev['read_seconds']:.1f}, {ev['peak_rss_mb']:.0f})" if "seconds" in ev
                   else ("timeout" if ev else "skipped"))
        lines.append(f"| {r['rows']:,} | {ob['seconds']:.2f} | {oc['seconds']:.2f} ({oc['peak_rss_mb']:.0f}) | {ev_cell} | "
                     f"{r.get('ratio_vs_check', float('nan')):.0f}x | {r.get('ratio_vs_baseline_plus_check', float('nan')):.0f}x | "
                     f"{oc['drifted_features']} / {ev.get('drifted_features', '-')} |")
    return "\n".join(lines)


def clarify_bench(rows: int, samples: list[int]) -> dict:
    import numpy as np
    import xgboost as xgb

    from airsage.data import generator
    from airsage.model import ModelBundle
    from airsage.monitor import clarify_monitors as cm
    from airsage.monitor.bias_drift import ndcg

    feats = list(generator.NUMERIC)
    train = generator.generate(20_000, seed=1, day="2026-10-01")
    dm = xgb.DMatrix(train[feats].to_numpy(np.float32), label=train[generator.LABEL], feature_names=feats)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "seed": 0}, dm, 200)
    model = ModelBundle(algorithm="xgboost", feature_names=feats, categorical={}, booster=booster)
    t0 = time.perf_counter()
    part = generator.generate(rows, seed=2, day="2026-11-01")
    part["score"] = model.predict_proba(part)
    part["ground_truth"] = part[generator.LABEL]
    prep = time.perf_counter() - t0
    spec = cm.BiasSpec(label=generator.LABEL, positive_values=(1,), facets=(("sex", ("female",)), ("age", (40,))))
    out: dict = {"rows": rows, "generate_and_score_s": round(prep, 2), "bias": {}, "attribution": []}
    for name, gt in (("predicted_labels_only", None), ("with_ground_truth", "ground_truth")):
        t0 = time.perf_counter()
        doc = cm.partition_bias_analysis(part, spec, ground_truth_column=gt)
        n_metrics = sum(len(g["metrics"]) for gs in doc["post_training_bias_metrics"]["facets"].values() for g in gs)
        out["bias"][name] = {"seconds": round(time.perf_counter() - t0, 2), "metrics": n_metrics}
    runs = []
    for size in sorted(samples):
        t0 = time.perf_counter()
        doc = cm.partition_attributions(part, model, feats, sample_size=size, seed=0)
        runs.append((size, time.perf_counter() - t0, doc["explanations"]["kernel_shap"]["label0"]["global_shap_values"]))
    ref = runs[-1][2]
    top = sorted(ref, key=lambda k: -ref[k])[:5]
    for size, secs, vals in runs:
        out["attribution"].append({"sample": size, "seconds": round(secs, 2), "ndcg_vs_largest": round(ndcg(vals, ref), 5),
                                   "top5_same": sorted(vals, key=lambda k: -vals[k])[:5] == top})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clarify", action="store_true", help="benchmark the bias and attribution drift monitors")
    ap.add_argument("--shap-samples", default="500,2000,10000,50000")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--small-rows", type=int, default=100_000)
    ap.add_argument("--skip-evidently", action="store_true")
    ap.add_argument("--evidently-timeout", type=float, default=1500)
    ap.add_argument("--child", nargs="+")
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        fn = {"ours-baseline": child_ours_baseline, "ours-check": child_ours_check, "evidently": child_evidently}[kind]
        print(json.dumps(fn(*rest)))
        return
    if args.clarify:
        res = clarify_bench(args.rows, [int(x) for x in args.shap_samples.split(",")])
        facts = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "nproc": os.cpu_count(),
                 "python": sys.version.split()[0], "peak_rss_mb": round(_rss_mb())}
        print(json.dumps({"machine": facts, "clarify": res}))
        return
    ev_python = None if args.skip_evidently else _ensure_evidently_venv()
    sizes = [s for s in (args.small_rows, args.rows) if s]
    with tempfile.TemporaryDirectory(prefix="airsage-bench-monitor-") as tmp:
        results = [run_size(Path(tmp), rows, ev_python, args.evidently_timeout) for rows in sizes]
    import numpy
    import pandas
    import pyarrow

    facts = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "nproc": os.cpu_count(),
             "python": sys.version.split()[0], "numpy": numpy.__version__, "pandas": pandas.__version__,
             "pyarrow": pyarrow.__version__, "evidently": None if args.skip_evidently else "0.7.23 (pandas 2.3.3)"}
    print(_markdown(results))
    print(json.dumps({"machine": facts, "results": results}))


if __name__ == "__main__":
    main()
