"""The Parquet path: streamed row groups, Arrow encoding, against a pandas + ModelBundle reference."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from airsage.data import generator as g
from airsage.transform import ArrowEncoder, TransformConfig, run_batch_transform

FEATURES = g.NUMERIC + g.CATEGORICAL


def _awkward_frame() -> pd.DataFrame:
    """Unseen categories, missing numerics and a null category, spread over several row groups."""
    df = pd.concat([g.generate(900, seed=5, day="2026-11-20", drift="new_category"),
                    g.generate(900, seed=6, day="2026-11-20", drift="missing", chunk=1)], ignore_index=True)
    df.loc[[3, 1000, 1700], "region"] = None
    return df


def _write(df: pd.DataFrame, path, row_group_size=400) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, path, row_group_size=row_group_size, use_dictionary=g.CATEGORICAL)


def test_arrow_encoder_equals_model_bundle_encode(bundle, tmp_path):
    df = _awkward_frame()
    _write(df, tmp_path / "a.parquet")
    pf = pq.ParquetFile(tmp_path / "a.parquet", read_dictionary=g.CATEGORICAL)
    got = np.concatenate([ArrowEncoder.for_model(bundle).encode(pf.read_row_group(i)) for i in range(pf.num_row_groups)])
    plain = ArrowEncoder.for_model(bundle).encode(pq.read_table(tmp_path / "a.parquet"))  # strings, not dictionaries
    expected = bundle.encode(pd.read_parquet(tmp_path / "a.parquet"))
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(plain, expected)
    assert np.isnan(expected[3, FEATURES.index("region")])  # the null category really is in the data


def test_parquet_transform_matches_the_pandas_reference(bundle, tmp_path):
    df = _awkward_frame()
    (tmp_path / "in").mkdir()
    _write(df, tmp_path / "in" / "part-0.parquet")
    report = run_batch_transform(bundle, str(tmp_path / "in"), str(tmp_path / "out"), TransformConfig(join_source="Input"),
                                 model_name="credit", model_version="3", run_key="r", record_id_col="application_id")
    out = pd.read_parquet(tmp_path / "out" / "part-0.parquet.out")
    reference = bundle.predict_proba(pd.read_parquet(tmp_path / "in" / "part-0.parquet"))  # the lead's path
    assert report.records_out == len(df) == len(out)
    assert list(out.columns) == list(df.columns) + ["inference_id", "model_name", "model_version", "predicted_label",
                                                    "score"]
    np.testing.assert_array_equal(out["score"].to_numpy(), reference)
    np.testing.assert_array_equal(out["predicted_label"].to_numpy(), (reference > 0.3).astype(int))
    assert out["inference_id"].tolist() == df["application_id"].tolist()  # order preserved across row groups
    pd.testing.assert_frame_equal(out[list(df.columns)], pd.read_parquet(tmp_path / "in" / "part-0.parquet"),
                                  check_dtype=False)
    assert str(out["region"].dtype) in ("str", "string", "object")  # dictionary pages, plain strings for readers


def test_output_filter_selects_columns_and_capture_has_the_monitor_layout(bundle, tmp_path):
    df = g.generate(1000, seed=9)
    _write(df, tmp_path / "in.parquet", row_group_size=300)
    run_batch_transform(bundle, str(tmp_path / "in.parquet"), str(tmp_path / "out"),
                        TransformConfig(join_source="Input", output_filter="$['application_id','score']"),
                        model_name="credit", model_version="3", run_key="manual__2026-11-20T02:00:00+00:00",
                        capture_uri=str(tmp_path / "cap"), partition_date="2026-11-20")
    out = pd.read_parquet(tmp_path / "out" / "in.parquet.out")
    assert list(out.columns) == ["application_id", "score"]
    (cap_file,) = (tmp_path / "cap" / "dt=2026-11-20").iterdir()
    assert cap_file.name == "manual__2026-11-20T02_00_00_00_00.parquet"
    schema = pq.read_schema(cap_file)
    assert schema.names == ["inference_id", "captured_at", *FEATURES, "score", "predicted_label", "model_name",
                            "model_version"]
    assert schema.field("captured_at").type == pa.timestamp("us", tz="UTC")
    assert all(schema.field(c).type == pa.string() for c in g.CATEGORICAL + ["inference_id", "model_name"])
    assert all(schema.field(c).type == pa.float64() for c in g.NUMERIC + ["score"])
    assert schema.field("predicted_label").type == pa.int64()
    cap = pd.read_parquet(cap_file)
    np.testing.assert_array_equal(cap["score"].to_numpy(), out["score"].to_numpy())
    pd.testing.assert_frame_equal(cap[FEATURES].reset_index(drop=True),
                                  df[FEATURES].astype({c: "str" for c in g.CATEGORICAL}), check_dtype=False)


def test_generated_inference_ids_are_deterministic_and_unique(bundle, tmp_path):
    _write(g.generate(700, seed=2), tmp_path / "in.parquet", row_group_size=200)
    runs = []
    for out in ("o1", "o2"):
        run_batch_transform(bundle, str(tmp_path / "in.parquet"), str(tmp_path / out), TransformConfig(),
                            model_name="m", model_version="1", run_key="r")
        runs.append(pd.read_parquet(tmp_path / out / "in.parquet.out")["inference_id"])
    assert runs[0].tolist() == runs[1].tolist() and runs[0].is_unique
    assert runs[0].iloc[699].endswith("-699")


def test_parquet_failures_are_per_file(bundle, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    good = g.generate(300, seed=1)
    _write(good, src / "a.parquet")
    nulls = good.copy()
    nulls.loc[250, "application_id"] = None
    _write(nulls, src / "b.parquet", row_group_size=100)
    _write(good.drop(columns=["income"]), src / "c.parquet")
    (src / "d.parquet").write_bytes(b"not parquet")
    report = run_batch_transform(bundle, str(src), str(tmp_path / "out"), TransformConfig(), model_name="m",
                                 model_version="1", run_key="r", record_id_col="application_id", fail_on_file_error=False)
    assert sorted(p.name for p in (tmp_path / "out").glob("*.out")) == ["a.parquet.out"]
    reasons = {f.relative_path: f for f in report.failures}
    assert reasons["b.parquet"].record == 250 and "null" in reasons["b.parquet"].reason
    assert "income" in reasons["c.parquet"].reason
    assert "d.parquet" in reasons
    assert (report.files_out, report.files_failed, report.records_out) == (1, 3, 300)
