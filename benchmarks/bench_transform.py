"""Batch transform throughput and memory vs bare XGBoost prediction.

    .venv/bin/python benchmarks/bench_transform.py            # 5M rows + 20M rows (RSS, rows/s)
    .venv/bin/python benchmarks/bench_transform.py --no-20m   # 5M rows only
    .venv/bin/python benchmarks/bench_transform.py --flavors  # MLflow flavors vs Airsage bundles, 1M rows
    .venv/bin/python benchmarks/bench_transform.py --shadow [--rows 1000000]  # shadow scoring cost, config B

* Data: the example generator's Parquet (250k-row row groups), cached in benchmarks/out/transform/
  (git-ignored; 5M rows ~0.6 GB, 20M ~2.3 GB, generated once).
* Model: XGBoost, 200 trees, depth 6, hist, on 35 features (30 numeric + 5 categorical) from 100k rows,
  encoded like ModelBundle; saved as a ModelBundle and loaded by the transform like a job would.
* Bare predict: ``Booster.inplace_predict`` on the same 5M rows, already encoded in memory as float32,
  in row-group-sized chunks. Measured before and after the transform; the ratio uses their mean.
* Transform: ``run_batch_transform`` end to end (read -> encode -> predict -> write) in a subprocess,
  whose peak RSS is sampled with psutil. Config A: JoinSource None with the record id as inference id
  (the SageMaker default shape). Config B: the credit_risk use case's default (JoinSource Input: all
  input columns rewritten) plus data capture.
* ``--flavors`` (bring your own model): the same model served two ways, each through
  ``run_batch_transform`` (config A, 1M rows, in this process, alternating, best of 3): an Airsage
  ``ModelBundle`` and an MLflow model loaded by flavor (``airsage.registry.flavors.load_model_dir``), for the
  XGBoost model above (``mlflow.xgboost.save_model``, the categorical vocabularies as the version's
  ``airsage.categories`` tag) and for a scikit-learn ``HistGradientBoostingClassifier`` fitted on the same
  encoded matrix, as a bundle and as ``mlflow.sklearn.save_model`` of a pipeline (OrdinalEncoder of the raw
  categorical columns with the same vocabularies -> those trees).
* ``--shadow``: config B (JoinSource Input + data capture, the nightly configuration) at ``--rows`` rows
  (default 5M): the champion alone vs the champion plus one challenger scored in its shadow
  (``run_batch_transform(shadow=...)``; a different XGBoost model, 200 trees, depth 6, same features,
  trained on other rows), alternating, each twice, in subprocesses. Reported: the added wall time and
  CPU time relative to the champion alone, the challenger's own bare ``inplace_predict`` CPU (the part
  that cannot be shared), and for reference a separate pass of the challenger alone (JoinSource Input,
  no capture: what a second transform job would do).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out" / "transform"
ROW_GROUP = 250_000


def _data(rows: int) -> Path:
    from airsage.data import generator as g

    path = OUT / f"input_{rows // 1_000_000}m" / "part-00000.parquet"
    if not path.exists():
        t0 = time.time()
        g.write_parquet_chunks(str(path), rows, chunk_rows=500_000, row_group_rows=ROW_GROUP, day="2026-11-20")
        print(f"generated {rows:,} rows in {time.time() - t0:.0f} s -> {path}", file=sys.stderr)
    return path


def _model() -> Path:
    directory = OUT / "model"
    if (directory / "airsage_model.json").exists():
        return directory
    import xgboost as xgb

    from airsage.data import generator as g
    from airsage.model import ModelBundle, vocabularies

    df = g.generate(100_000, seed=7, day="2026-10-01")
    features = g.NUMERIC + g.CATEGORICAL
    bundle = ModelBundle("xgboost", features, vocabularies(df, g.CATEGORICAL), label=g.LABEL)
    params = {"max_depth": 6, "eta": 0.1, "tree_method": "hist", "objective": "binary:logistic", "nthread": 2}
    bundle.booster = xgb.train(params, xgb.DMatrix(bundle.encode(df), label=df[g.LABEL]), num_boost_round=200)
    bundle.save(directory)
    return directory


def _challenger_model() -> Path:
    """Another 200-tree depth-6 model on the same features (other training rows, other seed)."""
    directory = OUT / "challenger"
    if (directory / "airsage_model.json").exists():
        return directory
    import xgboost as xgb

    from airsage.data import generator as g
    from airsage.model import ModelBundle, vocabularies

    df = g.generate(100_000, seed=8, day="2026-10-15")
    bundle = ModelBundle("xgboost", g.NUMERIC + g.CATEGORICAL, vocabularies(df, g.CATEGORICAL), label=g.LABEL,
                         threshold=0.4)
    params = {"max_depth": 6, "eta": 0.08, "subsample": 0.8, "tree_method": "hist", "objective": "binary:logistic",
              "nthread": 2, "seed": 1}
    bundle.booster = xgb.train(params, xgb.DMatrix(bundle.encode(df), label=df[g.LABEL]), num_boost_round=200)
    bundle.save(directory)
    return directory


def _bare_predict(model_dir: Path, data: Path) -> tuple[tuple[float, float], list]:
    import pyarrow.parquet as pq

    from airsage.model import ModelBundle
    from airsage.transform.encoding import ArrowEncoder

    bundle = ModelBundle.load(model_dir)
    pf = pq.ParquetFile(data, read_dictionary=list(bundle.categorical))
    encoder = ArrowEncoder.for_model(bundle)
    chunks = [encoder.encode(pf.read_row_group(i, columns=bundle.feature_names)) for i in range(pf.num_row_groups)]
    return _time_predict(bundle, chunks), chunks


def _time_predict(bundle, chunks) -> tuple[float, float]:
    """(rows/s, CPU seconds per million rows): CPU time is the load-independent measure on a shared box."""
    rows = sum(len(c) for c in chunks)
    t0, c0 = time.perf_counter(), time.process_time()
    for c in chunks:
        bundle.booster.inplace_predict(c)
    return rows / (time.perf_counter() - t0), (time.process_time() - c0) / rows * 1e6


def _transform_subprocess(model_dir: Path, data: Path, out: Path, variant: str, challenger: Path | None = None) -> dict:
    import psutil

    cmd = [sys.executable, __file__, "--child", str(model_dir), str(data), str(out), variant]
    cmd += [str(challenger)] if challenger else []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    samples: list[tuple[float, float]] = []
    ps = psutil.Process(proc.pid)

    def sample() -> None:
        t0 = time.time()
        while proc.poll() is None:
            try:
                samples.append((time.time() - t0, ps.memory_info().rss / 2**20))
            except psutil.Error:
                break
            time.sleep(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    stdout, _ = proc.communicate()
    thread.join()
    if proc.returncode != 0:
        raise SystemExit(f"transform child failed ({proc.returncode})")
    result = json.loads(stdout.strip().splitlines()[-1])
    quarter = [max((m for t, m in samples if t <= q * samples[-1][0]), default=0) for q in (0.25, 0.5, 0.75, 1.0)]
    result["rss_by_quarter_mb"] = [round(q) for q in quarter]
    return result


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: after fork+exec it still holds the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _child(model_dir: str, data: str, out: str, variant: str, challenger: str | None = None) -> None:
    import resource

    from airsage.model import ModelBundle
    from airsage.transform import TransformConfig, run_batch_transform

    bundle = ModelBundle.load(model_dir)
    join = variant in ("joined+capture", "joined")
    config = TransformConfig(join_source="Input" if join else "None")
    shadow = {}
    if challenger:  # the shadow API is imported only here: the other variants run on older engines too
        from airsage.transform.shadow import ShadowTarget

        shadow = {"shadow": [ShadowTarget(ModelBundle.load(challenger), "2", str(Path(out).parent / "shadow"))],
                  "shadow_columns": ["age_group", "sex"]}
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    report = run_batch_transform(bundle, data, out, config, model_name="credit_risk", model_version="1",
                                 run_key="bench", record_id_col="application_id",
                                 capture_uri=str(Path(out).parent / "capture") if variant == "joined+capture" else None,
                                 partition_date="2026-11-20", **shadow)
    if challenger and report.shadow[0].status != "Completed":
        raise SystemExit(f"the shadow failed: {report.shadow[0].error}")
    seconds = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - usage0.ru_utime - usage0.ru_stime
    print(json.dumps({"rows": report.records_out, "seconds": seconds, "rows_per_s": report.records_out / seconds,
                      "cpu_s_per_mrow": cpu / report.records_out * 1e6,
                      "peak_rss_mb": _peak_rss_mb(),
                      "stage_seconds": report.stage_seconds}))


def _flavors() -> None:
    """Rows/s of an MLflow flavor vs an Airsage bundle of the same model (see the module docstring)."""
    import shutil
    import tempfile

    import mlflow.sklearn
    import mlflow.xgboost
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    from airsage.data import generator as g
    from airsage.model import ModelBundle
    from airsage.registry.flavors import CATEGORIES_TAG, load_model_dir
    from airsage.transform import TransformConfig, run_batch_transform

    data = _data(1_000_000)
    bundle = ModelBundle.load(_model())
    work = Path(tempfile.mkdtemp(prefix="bench-flavors-", dir=OUT))
    df = g.generate(20_000, seed=7, day="2026-10-01")
    raw = df[bundle.feature_names]
    encoded = bundle.encode(df)
    mlflow.xgboost.save_model(bundle.booster, str(work / "xgb"), signature=infer_signature(raw, np.zeros(len(df))),
                              pip_requirements=["xgboost"])
    xgb_flavor = load_model_dir(work / "xgb", tags={CATEGORIES_TAG: json.dumps(bundle.categorical)})
    # scikit-learn: the same fitted trees behind Airsage's encoding (bundle) and behind an OrdinalEncoder of the
    # raw columns with the same vocabularies (the flavor: the engine's codes are decoded back to strings for it)
    hgb = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(encoded, df[g.LABEL])
    sk_bundle = ModelBundle("sklearn", bundle.feature_names, bundle.categorical, label=g.LABEL)
    sk_bundle.estimator = hgb
    numeric = [f for f in bundle.feature_names if f not in bundle.categorical]
    cats = [f for f in bundle.feature_names if f in bundle.categorical]
    assert bundle.feature_names == numeric + cats
    ordinal = OrdinalEncoder(categories=[bundle.categorical[c] for c in cats], handle_unknown="use_encoded_value",
                             unknown_value=np.nan, encoded_missing_value=np.nan)
    pipe = make_pipeline(ColumnTransformer([("num", "passthrough", numeric), ("cat", ordinal, cats)]), hgb)
    pipe.steps[0][1].fit(raw)  # the trees are already fitted (on the identical encoding)
    as_engine = raw.head(2000).astype({f: "float32" for f in numeric}).astype({f: "float64" for f in numeric})
    assert np.array_equal(pipe.predict_proba(as_engine)[:, 1], sk_bundle.predict_proba(df.head(2000)))
    mlflow.sklearn.save_model(pipe, str(work / "sk"), signature=infer_signature(raw, np.zeros(len(df))),
                              pip_requirements=["scikit-learn"],
                              skops_trusted_types=["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"])
    sk_flavor = load_model_dir(work / "sk")

    def rate(model) -> float:
        out = work / "out"
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        report = run_batch_transform(model, str(data), str(out), TransformConfig(join_source="None"),
                                     model_name="credit_risk", model_version="1", run_key="bench",
                                     record_id_col="application_id")
        return report.records_out / (time.perf_counter() - t0)

    print(f"## Flavor vs bundle — {dt.date.today()} — nproc {os.cpu_count()} — load avg {os.getloadavg()[0]:.1f}")
    print()
    print("| model | Airsage bundle rows/s | MLflow flavor rows/s | flavor / bundle |")
    print("|---|---:|---:|---:|")
    for name, b, f in (("XGBoost 200 trees (mlflow.xgboost)", bundle, xgb_flavor),
                       ("scikit-learn HistGradientBoosting 100 iters (mlflow.sklearn)", sk_bundle, sk_flavor)):
        rb, rf = [], []
        for _ in range(3):  # alternate, best of 3: the box is shared
            rb.append(rate(b))
            rf.append(rate(f))
        print(f"| {name} | {max(rb):,.0f} | {max(rf):,.0f} | {max(rf) / max(rb):.2f} |")
    shutil.rmtree(work, ignore_errors=True)


def _shadow(rows: int) -> None:
    """Config B, the champion alone vs with one challenger in its shadow (see the module docstring)."""
    import statistics

    import xgboost

    from airsage.model import ModelBundle

    load0 = os.getloadavg()[0]
    champion, challenger, data = _model(), _challenger_model(), _data(rows)
    (bare_rate, bare_cpu), chunks = _bare_predict(challenger, data)
    bare_champion = _time_predict(ModelBundle.load(champion), chunks)
    del chunks
    runs: dict[str, list[dict]] = {"alone": [], "shadow": [], "challenger": []}
    for i in range(2):  # alternating: the box is shared
        for name in runs:
            out = OUT / "run" / f"shadow-{name}" / "predictions"
            runs[name].append(_transform_subprocess(
                challenger if name == "challenger" else champion, data, out,
                "joined" if name == "challenger" else "joined+capture", challenger if name == "shadow" else None))
    med = {n: {k: statistics.median(r[k] for r in rs) for k in ("seconds", "cpu_s_per_mrow", "peak_rss_mb")}
           for n, rs in runs.items()}
    alone, shadow, sep = med["alone"], med["shadow"], med["challenger"]
    load1 = os.getloadavg()[0]
    print(f"## Shadow scoring cost, config B — {dt.date.today()} — {rows:,} rows — nproc {os.cpu_count()} — load avg "
          f"{load0:.1f} at start, {load1:.1f} at end — xgboost {xgboost.__version__}")
    print()
    print("| run | wall s (median of 2) | each run | CPU s per M rows | peak RSS MiB | busy s read/predict/write/capture/shadow predict/shadow write |")
    print("|---|---:|---|---:|---:|---|")
    for name, label in (("alone", "champion alone (B)"), ("shadow", "champion + 1 challenger in its shadow (B)"),
                        ("challenger", "challenger alone, separate pass (JoinSource Input)")):
        s = runs[name][-1]["stage_seconds"]
        busy = "/".join(f"{s.get(k, 0):.0f}" for k in ("read", "predict", "write", "capture", "shadow_predict",
                                                       "shadow_write"))
        print(f"| {label} | {med[name]['seconds']:.1f} | {[round(r['seconds'], 1) for r in runs[name]]} | "
              f"{med[name]['cpu_s_per_mrow']:.2f} | {med[name]['peak_rss_mb']:.0f} | {busy} |")
    added_cpu = shadow["cpu_s_per_mrow"] - alone["cpu_s_per_mrow"]
    print()
    print(f"* added wall time / champion's wall time: {(shadow['seconds'] - alone['seconds']) / alone['seconds']:.2f}x "
          f"(a separate pass of the challenger: {sep['seconds'] / alone['seconds']:.2f}x)")
    print(f"* CPU time with shadow / alone: {shadow['cpu_s_per_mrow'] / alone['cpu_s_per_mrow']:.2f} "
          f"(added {added_cpu:.2f} CPU s per M rows; separate pass {sep['cpu_s_per_mrow']:.2f})")
    print(f"* the challenger's own bare predict: {bare_cpu:.2f} CPU s per M rows ({bare_rate:,.0f} rows/s) = "
          f"{bare_cpu / added_cpu:.0%} of the added CPU; champion's bare predict {bare_champion[1]:.2f}")
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-20m", action="store_true", help="skip the 20M-row run")
    ap.add_argument("--flavors", action="store_true", help="only: MLflow flavors vs Airsage bundles (1M rows)")
    ap.add_argument("--shadow", action="store_true", help="only: shadow scoring cost in config B (--rows rows)")
    ap.add_argument("--rows", type=int, default=5_000_000, help="rows for --shadow (default 5M)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    if args.shadow:
        OUT.mkdir(parents=True, exist_ok=True)
        _shadow(args.rows)
        return
    if args.flavors:
        OUT.mkdir(parents=True, exist_ok=True)
        _flavors()
        return
    OUT.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()[0]
    model_dir, data5 = _model(), _data(5_000_000)
    data20 = None if args.no_20m else _data(20_000_000)

    bare1, chunks = _bare_predict(model_dir, data5)
    a5 = _transform_subprocess(model_dir, data5, OUT / "run" / "a5" / "predictions", "inference-only")
    from airsage.model import ModelBundle

    bare2 = _time_predict(ModelBundle.load(model_dir), chunks)
    del chunks
    bare = (bare1[0] + bare2[0]) / 2
    bare_cpu = (bare1[1] + bare2[1]) / 2
    b5 = _transform_subprocess(model_dir, data5, OUT / "run" / "b5" / "predictions", "joined+capture")
    a20 = None if data20 is None else _transform_subprocess(model_dir, data20, OUT / "run" / "a20" / "predictions",
                                                            "inference-only")
    import pyarrow
    import xgboost

    print(f"## Batch transform benchmark — {dt.date.today()} — nproc {os.cpu_count()} — load avg at start "
          f"{load0:.1f} — xgboost {xgboost.__version__}, pyarrow {pyarrow.__version__}, Python {platform.python_version()}")
    print()
    print(f"Bare `Booster.inplace_predict` (5M rows in memory, 250k chunks): {bare:,.0f} rows/s "
          f"(before {bare1[0]:,.0f}, after {bare2[0]:,.0f}); {bare_cpu:.2f} CPU s per million rows")
    print()
    print("| run | rows | rows/s | ratio to bare | CPU ratio (bare / this) | peak RSS (MiB) "
          "| max RSS after 25/50/75/100 % of the run (MiB, sampled) | busy s read/predict/write |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for name, r in (("A: JoinSource None, id + inference", a5), ("B: JoinSource Input + capture", b5),
                    ("A at 20M rows", a20)):
        if r is None:
            continue
        s = r["stage_seconds"]
        print(f"| {name} | {r['rows']:,} | {r['rows_per_s']:,.0f} | {r['rows_per_s'] / bare:.2f} | "
              f"{bare_cpu / r['cpu_s_per_mrow']:.2f} | {r['peak_rss_mb']:.0f} | {r['rss_by_quarter_mb']} | {s['read']:.0f}/{s['predict']:.0f}/{s['write']:.0f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
