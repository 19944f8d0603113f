"""Validation of a labelled dataset with great-expectations 1.x, before anything is published.

The suite is generated from the use case (``generate_suite(uc)``) and committed as
``airsage/labeling/expectations/<usecase>.json`` (regenerate: ``python -m airsage.labeling.validation
[usecase ...]``). At run time the committed file is used; one that differs from what the use case
generates is an error, so the reviewed file is what runs. A use case without a committed file uses the
generated suite.

Checks (each expectation's ``meta.check``):

* ``schema``: the columns in order, and each column's type;
* ``completeness``: at least ``labeling.min_rows`` rows; no missing id, event time, label or label
  metadata; each feature at least ``labeling.min_feature_completeness`` non-null;
* ``duplicates``: unique record ids;
* ``label_domain``: labels in the use case's label values, confidence in [0, 1], known label sources;
* ``conflicts``: at most ``labeling.max_conflict_share`` of the rows had disagreeing annotations;
* ``class_balance``: positive and non-positive rows each at least ``labeling.min_minority_share``.

great-expectations costs ~15 s to import: it is imported inside ``validate_dataset`` only, and an
ephemeral context is used (nothing is written to disk).
"""
from __future__ import annotations

import copy
import html
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airsage.errors import ConfigError
from airsage.labeling.dataset import LABEL_META_COLUMNS, column_types, dataset_columns
from airsage.labeling.records import A2I, GROUND_TRUTH, TABLE, label_domain

if TYPE_CHECKING:
    import pandas as pd

    from airsage.config import UseCase

EXPECTATIONS_DIR = Path(__file__).resolve().parent / "expectations"
CHECK_ORDER = ("schema", "completeness", "duplicates", "label_domain", "conflicts", "class_balance")


# ============================================================================= suite
def generate_suite(uc: "UseCase") -> dict[str, Any]:
    """The great-expectations suite (as its JSON dict) for ``uc``'s labelled dataset. Pure: no GE import."""
    s, lab = uc.schema_, uc.labeling
    exps: list[dict[str, Any]] = []

    def add(check: str, expectation: str, **kwargs: Any) -> None:
        exps.append({"type": expectation, "kwargs": kwargs, "meta": {"check": check}})

    add("schema", "expect_table_columns_to_match_ordered_list", column_list=dataset_columns(uc))
    for col, typ in column_types(uc).items():
        add("schema", "expect_column_values_to_be_of_type", column=col, type_=typ)
    add("completeness", "expect_table_row_count_to_be_between", min_value=lab.min_rows)
    for col in [s.record_id, s.event_time, s.label, *LABEL_META_COLUMNS]:
        add("completeness", "expect_column_values_to_not_be_null", column=col)
    if lab.min_feature_completeness > 0:
        for f in s.feature_names:
            add("completeness", "expect_column_values_to_not_be_null", column=f, mostly=lab.min_feature_completeness)
    add("duplicates", "expect_column_values_to_be_unique", column=s.record_id)
    add("label_domain", "expect_column_values_to_be_in_set", column=s.label, value_set=label_domain(uc))
    add("label_domain", "expect_column_values_to_be_between", column="label_confidence", min_value=0, max_value=1)
    add("label_domain", "expect_column_values_to_be_in_set", column="label_source", value_set=[GROUND_TRUTH, A2I, TABLE])
    if lab.max_conflict_share < 1:
        add("conflicts", "expect_column_values_to_not_match_regex", column="label_flag",
            regex=r"(?:^|,)conflict(?:,|$)", mostly=round(1 - lab.max_conflict_share, 6))
    if lab.min_minority_share > 0:
        positives = list(s.positive_labels)
        add("class_balance", "expect_column_values_to_be_in_set", column=s.label, value_set=positives,
            mostly=lab.min_minority_share)
        add("class_balance", "expect_column_values_to_not_be_in_set", column=s.label, value_set=positives,
            mostly=lab.min_minority_share)
    return {"name": f"{uc.name}.labeled_dataset", "expectations": exps,
            "meta": {"usecase": uc.name, "generated_by": "airsage.labeling.validation.generate_suite",
                     "regenerate": f"python -m airsage.labeling.validation {uc.name}"}}


def suite_path(uc: "UseCase", directory: str | Path | None = None) -> Path:
    return Path(directory or EXPECTATIONS_DIR) / f"{uc.name}.json"


def suite_json(suite: dict[str, Any]) -> str:
    return json.dumps(suite, indent=2, sort_keys=False) + "\n"


def write_suite(uc: "UseCase", directory: str | Path | None = None) -> Path:
    """(Re)write the committed suite file of ``uc``."""
    path = suite_path(uc, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(suite_json(generate_suite(uc)))
    return path


def load_suite(uc: "UseCase", directory: str | Path | None = None) -> dict[str, Any]:
    """The committed suite of ``uc`` (checked to be current), else the generated one."""
    generated = generate_suite(uc)
    path = suite_path(uc, directory)
    if not path.exists():
        return generated
    committed = json.loads(path.read_text())
    if committed != generated:
        raise ConfigError(f"the committed expectation suite {path} no longer matches the use case", source=uc.source,
                          key="labeling", fix=f"Review and regenerate it: python -m airsage.labeling.validation {uc.name}")
    return committed


# ============================================================================= validation
@dataclass(frozen=True)
class ValidationResult:
    """The outcome of one suite run: ``results`` has one entry per expectation, in suite order."""

    success: bool
    suite: str
    results: list[dict[str, Any]] = field(default_factory=list)
    ge_version: str = ""

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.results if not r["success"]]

    def failures(self) -> list[str]:
        """One line per failed expectation, for ``DataValidationError``."""
        return [describe(r) for r in self.failed]

    def summary(self) -> dict[str, Any]:
        """The compact form kept in the dataset manifest."""
        return {"success": self.success, "suite": self.suite, "ge_version": self.ge_version,
                "evaluated": len(self.results), "successful": len(self.results) - len(self.failed),
                "failed": [{k: r[k] for k in ("check", "expectation", "column", "observed", "unexpected_count")}
                           for r in self.failed]}

    def to_dict(self) -> dict[str, Any]:
        return {"success": self.success, "suite": self.suite, "ge_version": self.ge_version, "results": self.results}


def describe(r: dict[str, Any]) -> str:
    col = f"({r['column']})" if r.get("column") else ""
    parts = [f"{r['check']}: {r['expectation']}{col}"]
    if r.get("exception"):
        parts.append(f"raised {r['exception']}")
    if r.get("check") == "class_balance" and not r.get("success") and r.get("unexpected_percent") is not None:
        parts.append(class_balance_text(r))
    elif r.get("unexpected_count"):
        parts.append(f"{r['unexpected_count']} unexpected ({r['unexpected_percent']:.2f} %), e.g. "
                     f"{r['partial_unexpected'][:3]}")
    elif r.get("observed") is not None:
        parts.append(f"observed {str(r['observed'])[:200]}")
    return " — ".join(parts)


def _pct(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value >= 0.01 or value == 0 else f"{value:.2g}"


def class_balance_text(r: dict[str, Any]) -> str:
    """A failed class-balance expectation in the words of its rule: "minority class 0.85 % < 1 % ...".

    The suite checks each side (positive labels / the rest) with ``mostly = labeling.min_minority_share``:
    the rows *outside* the checked set are the expectation's "unexpected" ones, so the checked class's
    share is ``100 - unexpected_percent``."""
    kwargs = r.get("kwargs") or {}
    values = kwargs.get("value_set")
    floor = float(kwargs.get("mostly") or 0) * 100
    share = 100.0 - float(r["unexpected_percent"])
    side = (f"positive labels {values}" if r["expectation"].endswith("_to_be_in_set")
            else f"labels other than {values}")
    total = r.get("element_count")
    count = ""
    if total:
        count = f": {total - int(r.get('unexpected_count') or 0)} of {total} rows"
    return (f"minority class {_pct(share)} % < {_pct(floor)} % ({side}{count}; "
            f"labeling.min_minority_share = {kwargs.get('mostly')})")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def validate_dataset(df: "pd.DataFrame", suite: dict[str, Any]) -> ValidationResult:
    """Run ``suite`` on ``df`` with great-expectations (ephemeral context; imported here: ~15 s once)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (DataContextConfig, InMemoryStoreBackendDefaults,
                                                            ProgressBarsConfig)

    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                               progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
                               analytics_enabled=False)
    context = gx.get_context(mode="ephemeral", project_config=config)
    batch = (context.data_sources.add_pandas("airsage").add_dataframe_asset("labeled_dataset")
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": df}))
    raw = batch.validate(gx.ExpectationSuite(**copy.deepcopy(suite))).to_json_dict()

    order = {_key(e["type"], e["kwargs"], e.get("meta")): i for i, e in enumerate(suite["expectations"])}
    results = []
    for r in raw["results"]:
        cfg = r["expectation_config"]
        kwargs = {k: v for k, v in cfg["kwargs"].items() if k != "batch_id"}
        res = r.get("result") or {}
        exc = r.get("exception_info") or {}
        results.append({
            "check": (cfg.get("meta") or {}).get("check", "other"),
            "expectation": cfg["type"],
            "column": kwargs.get("column"),
            "kwargs": _jsonable({k: v for k, v in kwargs.items() if k != "column"}),
            "success": bool(r["success"]),
            "observed": _jsonable(res.get("observed_value")),
            "unexpected_count": res.get("unexpected_count"),
            "unexpected_percent": res.get("unexpected_percent"),
            "element_count": res.get("element_count"),
            "partial_unexpected": _jsonable((res.get("partial_unexpected_list") or [])[:10]),
            "exception": exc.get("exception_message") if exc.get("raised_exception") else None,
            "_order": order.get(_key(cfg["type"], kwargs, cfg.get("meta")), len(order)),
        })
    results.sort(key=lambda x: x.pop("_order"))
    return ValidationResult(success=bool(raw["success"]), suite=suite["name"], results=results,
                            ge_version=getattr(gx, "__version__", ""))


def _key(type_: str, kwargs: dict[str, Any], meta: dict[str, Any] | None) -> tuple:
    """Identifies an expectation of a generated suite (GE normalises kwargs, so they are not compared)."""
    return type_, kwargs.get("column"), (meta or {}).get("check")


# ============================================================================= HTML
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2933}
h1{font-size:1.4rem;margin-bottom:.2rem} .sub{color:#52606d;margin-bottom:1rem}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:.8rem;color:#fff;font-weight:600}
.ok{background:#2f855a} .fail{background:#c53030}
table{border-collapse:collapse;width:100%;font-size:.85rem} th,td{border-bottom:1px solid #e4e7eb;padding:.35rem .5rem;
text-align:left;vertical-align:top} th{background:#f5f7fa} tr.failed td{background:#fff5f5}
code{font-family:ui-monospace,Menlo,monospace;font-size:.8rem} .stats span{margin-right:1.2rem}
"""


def render_html(result: ValidationResult, *, title: str, facts: dict[str, Any] | None = None) -> str:
    """A self-contained HTML page (inline CSS, no scripts or external assets) of a validation result."""
    e = html.escape
    rows = []
    for r in sorted(result.results, key=lambda r: CHECK_ORDER.index(r["check"]) if r["check"] in CHECK_ORDER else 99):
        detail = describe(r).split(" — ", 1)[1] if " — " in describe(r) else ""
        rows.append(
            f"<tr class=\"{'passed' if r['success'] else 'failed'}\"><td>{'✔' if r['success'] else '✘'}</td>"
            f"<td>{e(r['check'])}</td><td><code>{e(r['expectation'])}</code></td><td>{e(str(r['column'] or ''))}</td>"
            f"<td><code>{e(json.dumps(r['kwargs'], default=str)[:300])}</code></td><td>{e(detail)}</td></tr>")
    n_fail = len(result.failed)
    facts_html = "".join(f"<span><b>{e(str(k))}</b>: {e(str(v))}</span>" for k, v in (facts or {}).items())
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{e(title)}</h1><div class=\"sub\">Expectation suite <code>{e(result.suite)}</code>, "
        f"great-expectations {e(result.ge_version)}</div>"
        f"<p><span class=\"badge {'ok' if result.success else 'fail'}\">{'PASSED' if result.success else 'FAILED'}</span> "
        f"{len(result.results) - n_fail} of {len(result.results)} expectations met</p>"
        f"<p class=\"stats\">{facts_html}</p>"
        "<table><thead><tr><th></th><th>check</th><th>expectation</th><th>column</th><th>arguments</th>"
        "<th>result</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></body></html>\n")


def main(argv: list[str] | None = None) -> int:
    """Regenerate the committed suite files: ``python -m airsage.labeling.validation [usecase ...]``."""
    from airsage.config import get_usecase, load_usecases

    names = list(sys.argv[1:] if argv is None else argv)
    ucs = [get_usecase(n) for n in names] if names else load_usecases()
    for uc in ucs:
        print(write_suite(uc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
