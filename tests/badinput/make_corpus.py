"""Generate the bad-input corpus (issue 14) into a folder: no large committed files, everything is built
here. ``python tests/badinput/make_corpus.py DIR`` writes it and prints the cases.

Each ``Case`` is one CLI command (``airsage ...`` arguments) with what must happen: the exit code, text
that must appear (the reason), the paths the command may change (its outputs: everything else below
the corpus folder must be byte-identical afterwards), and whether the label counts must reconcile.
A case names the room that owns the code it exercises; a case fails while that code is wrong.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

USECASE = "corpus_uc"
SECRET = "AKIA-CORPUS-SECRET-0123456789"


@dataclass(frozen=True)
class Case:
    name: str
    argv: list[str]
    exit_code: int
    expect: tuple[str, ...] = ()  # substrings of stdout + stderr (case-sensitive)
    forbid: tuple[str, ...] = ()  # must not appear (besides "Traceback")
    outputs: tuple[str, ...] = ()  # paths (relative to the corpus root) the command may change
    reconcile: bool = False  # stdout is the import report: lines_read == accepted + quarantined
    fix: bool = True  # a failing case must print a "Fix:" line
    subprocess: bool = False  # run through a real `python -m airsage.cli` process
    owner: str = "H3"
    fake_model: bool = False  # transform: the registry serves the corpus's exact model
    max_seconds: float | None = None
    no_secret_in: tuple[str, ...] = ()  # folders whose files must not contain SECRET


USECASE_YAML = f"""\
name: {USECASE}
owner: corpus
start_date: 2026-11-01
data:
  root: {{root}}/data
schema:
  record_id: rid
  event_time: ts
  label: y
  positive_labels: [1]
  features:
    - {{name: x1, type: numeric}}
    - {{name: x2, type: numeric}}
    - {{name: color, type: categorical}}
labeling:
  class_map: {{"no": 0, "yes": 1}}
  max_bad_share: 0.1
  min_minority_share: 0.05
gates:
  min_auc: 0.7
"""


def _w(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
    return path


def _features(root: Path) -> None:
    import pandas as pd

    n = 60
    df = pd.DataFrame({"rid": [f"r-{i}" for i in range(1, n + 1)],
                       "ts": pd.date_range("2026-11-01", periods=n, freq="h", tz="UTC"),
                       "x1": [i / 10 for i in range(n)], "x2": [float(i % 7) for i in range(n)],
                       "color": [("red", "blue")[i % 2] for i in range(n)]})
    (root / "data" / "raw" / "features" / "dt=2026-11-01").mkdir(parents=True, exist_ok=True)
    df.to_parquet(root / "data" / "raw" / "features" / "dt=2026-11-01" / "part-0.parquet", index=False)


def _labels_csv(ids: range, bad_every: int = 0) -> str:
    rows = ["rid,label"]
    for i in ids:
        rows.append(f"r-{i},{'yes' if i % 3 == 0 else 'no'}")
    return "\n".join(rows) + "\n"


def build(root: str | Path) -> list[Case]:
    """Write every input below ``root`` and return the cases (paths in argv are absolute)."""
    root = Path(root)
    r = lambda *p: str(root.joinpath(*p))  # noqa: E731
    uc_dir = root / "usecases"
    _w(uc_dir / f"{USECASE}.yaml", USECASE_YAML.replace("{root}", str(root)))
    _features(root)
    cases: list[Case] = []
    labels = ["labels", "import", "--usecase", USECASE, "--features", r("data", "raw", "features")]

    # ------------------------------------------------------------ use-case YAML
    good = USECASE_YAML.replace("{root}", str(root))
    yamls = root / "yaml"
    _w(yamls / "laughs.yaml", "name: laughs\n" + "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
       + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)))
    _w(yamls / "dupkeys.yaml", good.replace(f"name: {USECASE}", "name: dupkeys") + "gates:\n  min_auc: 0.01\n")
    _w(yamls / "baddate.yaml", good.replace(f"name: {USECASE}", "name: baddate").replace("2026-11-01", "2026-02-30"))
    _w(yamls / "latin1.yaml", good.replace(f"name: {USECASE}", "name: latin1").encode() + "# r\xe9sum\xe9\n".encode("latin-1"))
    _w(yamls / "huge.yaml", "name: huge\n" + "# padding\n" * 120_000)
    _w(yamls / "deep.yaml", "name: deep\nx: " + "[" * 5000 + "]" * 5000 + "\n")
    _w(yamls / "tabs.yaml", "name: tabs\n\tschema: 1\n")
    for name, why, sub in (("laughs", "anchor", True), ("dupkeys", "duplicate key 'gates' at lines", False),
                           ("baddate", "is not a valid date", False), ("latin1", "not UTF-8", False),
                           ("huge", "byte limit", False), ("deep", "nested", False), ("tabs", "line 2", False)):
        cases.append(Case(f"yaml_{name}", ["usecase", "validate", r("yaml", f"{name}.yaml")], 2, (why,),
                          subprocess=sub, max_seconds=20 if sub else None))

    # ------------------------------------------------------------ label import
    _w(root / "lab" / "empty.csv", b"")
    cases.append(Case("labels_empty_csv", [*labels, "--manifest", r("lab", "empty.csv"), "--output", r("out", "e")],
                      2, ("no label lines", "empty"), forbid=("0 of 0", "100.0%"), outputs=("out/e",),
                      subprocess=True))
    _w(root / "lab" / "empty.manifest", b"\n\n")
    cases.append(Case("labels_blank_manifest", [*labels, "--manifest", r("lab", "empty.manifest"), "--output",
                                               r("out", "e2")], 2, ("no label lines",), forbid=("0 of 0",),
                      outputs=("out/e2",)))
    _w(root / "lab" / "latin1.csv", "rid,label\nr-1,n\xf6\n".encode("latin-1"))
    cases.append(Case("labels_non_utf8_csv", [*labels, "--manifest", r("lab", "latin1.csv"), "--output",
                                             r("out", "l")], 2, ("1 of 1 lines", "unreadable_file"),
                      outputs=("out/l",)))
    _w(root / "lab" / "ragged.csv", "rid,label\nr-1,no,extra\nr-2\n")
    cases.append(Case("labels_ragged_csv_only", [*labels, "--manifest", r("lab", "ragged.csv"), "--output",
                                                r("out", "rg")], 2, ("2 of 2 lines", "malformed_row"),
                      outputs=("out/rg",)))
    _w(root / "lab" / "corrupt.parquet", b"PAR1\x00\x01 truncated")
    cases.append(Case("labels_corrupt_parquet_only", [*labels, "--manifest", r("lab", "corrupt.parquet"), "--output",
                                                     r("out", "cp")], 2, ("unreadable_file",), outputs=("out/cp",)))
    _w(root / "lab" / "deep.manifest", "[" * 200_000 + "]" * 200_000 + "\n")
    cases.append(Case("labels_manifest_200k_deep", [*labels, "--manifest", r("lab", "deep.manifest"), "--output",
                                                   r("out", "d")], 2, ("malformed_json",), outputs=("out/d",),
                      subprocess=True))
    _w(root / "lab" / "garbage" / "output.json", b'{"humanAnswers": [{"answerContent": ' + b"{" * 100_000)
    cases.append(Case("labels_a2i_garbage", [*labels, "--manifest", r("lab", "garbage"), "--output", r("out", "g")],
                      2, ("malformed_json",), outputs=("out/g",)))
    # one folder: good labels + a ragged CSV + a corrupt Parquet + a link to a credentials file
    mixed = root / "lab" / "mixed"
    _w(mixed / "a_good.csv", _labels_csv(range(1, 58)))
    _w(mixed / "b_ragged.csv", "rid,label\nr-58,yes,oops\nr-59,no\n")
    _w(mixed / "c_corrupt.parquet", b"PAR1 garbage")
    _w(root / "secrets" / "credentials.csv", f"rid,label\n{SECRET},yes\n")
    os.symlink(root / "secrets" / "credentials.csv", mixed / "d_creds.csv")
    os.symlink(root / "secrets", mixed / "e_secrets_dir")
    cases.append(Case("labels_mixed_folder_quarantines_per_file", [*labels, "--manifest", str(mixed), "--output",
                                                                   r("out", "mixed")], 0,
                      ("link_outside_source", "malformed_row", "unreadable_file"), outputs=("out/mixed",),
                      reconcile=True, fix=False, no_secret_in=("out",)))
    cases.append(Case("labels_output_inside_source", [*labels, "--manifest", str(mixed), "--output",
                                                      str(mixed / "labeling" / "..")], 2, ("the input",)))

    # ------------------------------------------------------------ dataset versions are not paths
    cases.append(Case("train_dataset_version_traversal", ["train", "--usecase", USECASE, "--dataset-version",
                                                          "../../secrets"], 2, ("is not valid",), owner="H1"))

    # ------------------------------------------------------------ clarify datasets
    cfg = {"dataset_type": "text/csv", "headers": ["x1", "x2", "y"], "label": "y", "label_values_or_threshold": [1],
           "facet": [{"name_or_index": "x2", "value_or_threshold": [3]}],
           "methods": {"pre_training_bias": {"methods": ["CI"]}}}
    _w(root / "clarify" / "csv.json", json.dumps(cfg))
    _w(root / "clarify" / "jsonl.json", json.dumps({**cfg, "dataset_type": "application/jsonlines",
                                                    "features": "features", "label": "y"}))
    _w(root / "clarify" / "ragged" / "d.csv", "1,2,1\n3,4\n5,6,0,9\n")
    _w(root / "clarify" / "bad" / "d.jsonl", '{"features": [1, 2], "y": 1}\n{"features": [3, \n')
    _w(root / "clarify" / "good" / "d.csv", "".join(f"{i},{i % 5},{i % 2}\n" for i in range(40)))
    cases.append(Case("clarify_ragged_csv", ["clarify", "--analysis-config", r("clarify", "csv.json"), "--dataset",
                                             r("clarify", "ragged"), "--output", r("out", "c1")], 2, ("line 2",),
                      outputs=("out/c1",)))
    cases.append(Case("clarify_malformed_jsonl", ["clarify", "--analysis-config", r("clarify", "jsonl.json"),
                                                  "--dataset", r("clarify", "bad"), "--output", r("out", "c2")], 2,
                      ("line 2", "not valid JSON"), outputs=("out/c2",)))
    cases.append(Case("clarify_output_is_its_dataset", ["clarify", "--analysis-config", r("clarify", "csv.json"),
                                                        "--dataset", r("clarify", "good"), "--output",
                                                        r("clarify", "good")], 2, ("the input",), owner="H2"))
    _w(root / "keep" / "notes.txt", "not Airsage's")
    cases.append(Case("clarify_output_on_foreign_folder", ["clarify", "--analysis-config", r("clarify", "csv.json"),
                                                           "--dataset", r("clarify", "good"), "--output",
                                                           r("keep")], 2, ("did not publish",)))

    # ------------------------------------------------------------ monitoring (owner: H4)
    _w(root / "mon" / "zero" / "d.csv", b"")
    _w(root / "mon" / "data" / "d.csv", "x1,x2,color\n" + "".join(f"{i / 10},{i % 7},red\n" for i in range(50)))
    _w(root / "mon" / "trunc" / "statistics.json", '{"version": 0.0, "dataset": {"item_count": 50}, "features": []}')
    _w(root / "mon" / "trunc" / "constraints.json", '{"version": 0.0, "features": [{"name": "x1", "inferred_')
    mon = [("monitor_baseline_zero_byte_csv", ["monitor", "suggest-baseline", "--dataset", r("mon", "zero"), "--output",
                                               r("out", "m1")], ("d.csv", "empty"), ("out/m1",)),
           ("monitor_baseline_missing_file", ["monitor", "suggest-baseline", "--dataset", r("mon", "nope.csv"),
                                              "--output", r("out", "m2")], ("nope.csv",), ("out/m2",)),
           ("monitor_analyze_truncated_constraints", ["monitor", "analyze", "--dataset", r("mon", "data"), "--baseline",
                                                      r("mon", "trunc"), "--output", r("out", "m3")],
            ("constraints.json",), ("out/m3",)),
           ("monitor_analyze_output_is_baseline", ["monitor", "analyze", "--dataset", r("mon", "data"), "--baseline",
                                                   r("mon", "trunc"), "--output", r("mon", "trunc")], ("the input",), ()),
           ("monitor_baseline_output_on_foreign_folder", ["monitor", "suggest-baseline", "--dataset", r("mon", "data"),
                                                          "--output", r("keep")], ("did not publish",), ())]
    for name, argv, expect, outs in mon:
        cases.append(Case(name, argv, 2, expect, outputs=outs, owner="H4"))

    # ------------------------------------------------------------ transform (model: the corpus's exact model)
    t_in = root / "tx" / "D" / "in"
    _w(t_in / "a.csv", "1,2,red\n2,4,blue\n")
    _w(root / "tx" / "D" / "unrelated.txt", "keep me")
    _w(root / "tx" / "existing" / "report.pdf", "someone's report")
    _w(root / "tx" / "part" / "a.csv", "1,2,red\n")
    _w(root / "tx" / "part" / "b.csv", "1,2,red\nnot,a,number\n")
    tx = ["transform", "--model-uri", "models:/corpus_model/1", "--content-type", "text/csv", "--usecase", USECASE]
    cases += [
        Case("transform_output_contains_input", [*tx, "--input", str(t_in), "--output", str(t_in.parent)], 2,
             ("the input",), fake_model=True),
        Case("transform_output_dotdot_onto_existing_dir", [*tx, "--input", str(t_in), "--output",
                                                           str(root / "tx" / "part" / ".." / "existing")], 2,
             ("did not publish", "report.pdf"), fake_model=True),
        Case("transform_output_inside_input", [*tx, "--input", str(t_in), "--output", str(t_in / "out")], 2,
             ("the input",), fake_model=True),
        Case("transform_failed_files_exit_3", [*tx, "--input", r("tx", "part"), "--output", r("out", "t1")], 3,
             ("b.csv", "1 of 2 input file(s) failed"), outputs=("out/t1",), fake_model=True, owner="H1"),
    ]

    # ------------------------------------------------------------ registry (owners: H1/H2)
    # the approver is the OS user (recorded with source cli:<user>): there is no identity flag to forge
    cases.append(Case("registry_approve_sql_like_version", ["registry", "approve", "1' OR '1'='1", "--usecase", USECASE,
                                                            "--comment", "c"], 2, ("version",),
                      owner="H2"))
    cases.append(Case("registry_approve_refuses_an_identity_flag", ["registry", "approve", "1", "--usecase", USECASE,
                                                                    "--approver", "someone-else", "--comment", "c"], 2,
                      ("unrecognized arguments: --approver",), fix=False, owner="H11"))
    return cases


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "badinput-corpus")
    target.mkdir(parents=True, exist_ok=True)
    for c in build(target):
        print(f"{c.name:50s} exit {c.exit_code}  airsage {' '.join(c.argv)[:120]}")
