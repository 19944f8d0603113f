"""``airsage``: the command line, a thin layer over the same functions the DAGs run.

Errors print what went wrong and the fix, and exit 2 (permanent) or 1 (transient).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from airsage.errors import AirsageError


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _uc(name: str):
    from airsage.config import get_usecase

    return get_usecase(name)


# ---------------------------------------------------------------------- commands
def cmd_usecase_validate(a) -> None:
    from airsage.config import load_usecase_file, load_usecases

    ucs = [load_usecase_file(f) for f in a.files] if a.files else load_usecases()
    for uc in ucs:
        print(f"{uc.source}: OK ({uc.name}: {len(uc.schema_.features)} features, owner {uc.owner})")


def cmd_demo_prepare(a) -> None:
    from airsage import pipeline

    _print(pipeline.prepare_example_data(_uc(a.usecase), end_date=a.end_date, days=a.days, rows_per_day=a.rows))


def cmd_labels_import(a) -> None:
    from airsage import pipeline

    _print(pipeline.import_labels(_uc(a.usecase), a.manifest, features_uri=a.features, output_root=a.output))


def cmd_labels_export_uncertain(a) -> None:
    from airsage import pipeline

    _print(pipeline.export_uncertain(_uc(a.usecase), a.input, a.output, n=a.n))


def cmd_train(a) -> None:
    from airsage import pipeline

    uc = _uc(a.usecase)
    dataset = pipeline.latest_dataset(uc, a.dataset_version)
    run_key = pipeline.run_key_from(a.run_key)
    spec = pipeline.train_spec(uc, dataset, run_key)
    status = pipeline.backend_for(uc, "tune" if spec.kind == "tune" else "train").run(spec)
    job = {"job_name": spec.name, "kind": spec.kind, "state": status.state, "outputs": dict(status.outputs)}
    _print(pipeline.register_trained(uc, job=job, dataset=dataset, run_key=run_key, actor=a.actor))


def _decide(decision: str):
    def run(a) -> None:
        from airsage import pipeline

        _print(pipeline.decide(_uc(a.usecase), getattr(a, "version", None) or "", decision,
                               actor=a.actor, comment=a.comment))

    return run


def cmd_registry_list(a) -> None:
    from airsage.registry import ModelRegistry

    reg = ModelRegistry.from_settings()
    name = _uc(a.usecase).registered_model_name
    for v in reg.list_versions(name):
        print(f"{name} v{v.version:>3}  {v.status:<22} aliases={','.join(v.aliases) or '-'}  "
              f"auc={v.metrics.get('auc', float('nan')):.4f}  dataset={v.tags.get('dataset_version', '-')}")


def cmd_registry_audit(a) -> None:
    from airsage.registry import ModelRegistry

    events = ModelRegistry.from_settings().audit_events(_uc(a.usecase).registered_model_name)
    if a.json:
        _print(events)
        return
    for e in events:
        print(f"{e.get('ts')}  {e.get('action'):<9} v{e.get('version') or '-':<4} by {e.get('actor')}: "
              f"{e.get('from_version') or '-'} -> {e.get('to_version') or '-'}  {e.get('reason') or ''}")


def cmd_registry_card(a) -> None:
    from airsage.cards import build_model_card, render_model_card_html
    from airsage.registry import ModelRegistry

    uc = _uc(a.usecase)
    card = build_model_card(ModelRegistry.from_settings(), uc.registered_model_name, a.version, uc)
    if a.html:
        from airsage import storage

        storage.write_text(a.html, render_model_card_html(card))
        print(f"wrote {a.html}")
    _print(card)


def cmd_transform(a) -> None:
    from airsage import pipeline

    _print(pipeline.transform_cli(model_uri=a.model_uri, input_uri=a.input, output_uri=a.output,
                                  settings={"content_type": a.content_type, "split_type": a.split_type,
                                            "batch_strategy": a.batch_strategy, "input_filter": a.input_filter,
                                            "join_source": a.join_source, "output_filter": a.output_filter,
                                            "assemble_with": a.assemble_with, "accept": a.accept,
                                            "max_payload_mb": a.max_payload_mb},
                                  usecase=a.usecase, capture_uri=a.capture, run_key=a.run_key,
                                  record_id=a.record_id))


def cmd_clarify(a) -> None:
    from airsage import pipeline

    _print(pipeline.clarify_cli(analysis_config=a.analysis_config, dataset_uri=a.dataset, output_uri=a.output,
                                model_uri=a.model_uri))


def cmd_monitor_baseline(a) -> None:
    from airsage import pipeline

    _print(pipeline.monitor_suggest_baseline_cli(dataset_uri=a.dataset, output_uri=a.output, usecase=a.usecase))


def cmd_monitor_analyze(a) -> None:
    from airsage import pipeline

    _print(pipeline.monitor_analyze_cli(dataset_uri=a.dataset, baseline_uri=a.baseline, output_uri=a.output,
                                        usecase=a.usecase))


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="airsage", description="Airsage: SageMaker's MLOps surface on Airflow + MLflow.")
    sub = p.add_subparsers(dest="command", required=True)

    def add(parent, name, fn, help_):
        sp = parent.add_parser(name, help=help_, description=help_)
        sp.set_defaults(fn=fn)
        return sp

    uc = sub.add_parser("usecase", help="use-case files").add_subparsers(dest="sub", required=True)
    sp = add(uc, "validate", cmd_usecase_validate, "validate use-case YAML files (default: all)")
    sp.add_argument("files", nargs="*")

    demo = sub.add_parser("demo", help="the bundled example").add_subparsers(dest="sub", required=True)
    sp = add(demo, "prepare", cmd_demo_prepare, "generate the example data (features, labels, scoring partition)")
    sp.add_argument("--usecase", default="credit_risk")
    sp.add_argument("--end-date", default="2026-11-21")
    sp.add_argument("--days", type=int)
    sp.add_argument("--rows", type=int)

    labels = sub.add_parser("labels", help="label import").add_subparsers(dest="sub", required=True)
    sp = add(labels, "import", cmd_labels_import, "import labels into a validated, versioned dataset")
    sp.add_argument("--manifest", required=True, action="append", help="label source URI (repeatable)")
    sp.add_argument("--usecase", required=True)
    sp.add_argument("--output", help="dataset root (default: <use case root>/datasets)")
    sp.add_argument("--features", help="feature records URI (default: <root>/raw/features)")
    sp = add(labels, "export-uncertain", cmd_labels_export_uncertain,
             "write a Ground Truth input manifest of the records the champion is least sure about")
    sp.add_argument("--usecase", required=True)
    sp.add_argument("--input", required=True, help="unlabelled feature records URI")
    sp.add_argument("--output", required=True, help="input manifest URI")
    sp.add_argument("-n", type=int, default=None)

    sp = add(sub, "train", cmd_train, "train, gate and register a model version (same code as the train DAG)")
    sp.add_argument("--usecase", required=True)
    sp.add_argument("--dataset-version")
    sp.add_argument("--run-key")
    sp.add_argument("--actor", default="cli")

    reg = sub.add_parser("registry", help="the governed model registry").add_subparsers(dest="sub", required=True)
    sp = add(reg, "list", cmd_registry_list, "list model versions with status and aliases")
    sp.add_argument("--usecase", required=True)
    for name, helptext in (("approve", "approve a PendingManualApproval version (moves champion)"),
                           ("reject", "reject a pending version"),
                           ("promote", "make an Approved version the champion")):
        sp = add(reg, name, _decide(name), helptext)
        sp.add_argument("version")
        sp.add_argument("--usecase", required=True)
        sp.add_argument("--actor", "--approver", required=True, dest="actor")
        sp.add_argument("--comment", "--reason", required=True, dest="comment")
    sp = add(reg, "rollback", _decide("rollback"), "move champion back to the previous (or a named approved) version")
    sp.add_argument("version", nargs="?", default="")
    sp.add_argument("--usecase", required=True)
    sp.add_argument("--actor", required=True)
    sp.add_argument("--comment", "--reason", required=True, dest="comment")
    sp = add(reg, "audit", cmd_registry_audit, "the append-only audit log of a model")
    sp.add_argument("--usecase", required=True)
    sp.add_argument("--json", action="store_true")
    sp = add(reg, "card", cmd_registry_card, "generate a version's model card (JSON; --html FILE renders it)")
    sp.add_argument("version")
    sp.add_argument("--usecase", required=True)
    sp.add_argument("--html")

    sp = add(sub, "transform", cmd_transform, "batch transform with SageMaker semantics (approved models only)")
    sp.add_argument("--model-uri", required=True, help="models:/name@alias or models:/name/version")
    sp.add_argument("--input", required=True)
    sp.add_argument("--output", required=True)
    sp.add_argument("--content-type", default="application/x-parquet",
                    choices=["text/csv", "application/jsonlines", "application/x-parquet"])
    sp.add_argument("--accept")
    sp.add_argument("--split-type", default="Line", choices=["None", "Line"])
    sp.add_argument("--batch-strategy", default="MultiRecord", choices=["MultiRecord", "SingleRecord"])
    sp.add_argument("--max-payload-mb", type=int, default=6)
    sp.add_argument("--input-filter", default="$")
    sp.add_argument("--join-source", default="None", choices=["None", "Input"])
    sp.add_argument("--output-filter", default="$")
    sp.add_argument("--assemble-with", default="Line", choices=["None", "Line"])
    sp.add_argument("--usecase", help="use case (for the record id column); default: the model's name")
    sp.add_argument("--capture", help="data capture URI")
    sp.add_argument("--record-id", help="record id: a column name, or for header-less CSV its index (e.g. 0)")
    sp.add_argument("--run-key")

    sp = add(sub, "clarify", cmd_clarify, "Clarify-style bias and SHAP analysis (analysis.json, report.html)")
    sp.add_argument("--analysis-config", required=True)
    sp.add_argument("--dataset", required=True)
    sp.add_argument("--output", required=True)
    sp.add_argument("--model-uri")

    mon = sub.add_parser("monitor", help="Model-Monitor-style checks").add_subparsers(dest="sub", required=True)
    sp = add(mon, "suggest-baseline", cmd_monitor_baseline, "statistics.json + constraints.json from a dataset")
    sp.add_argument("--dataset", required=True)
    sp.add_argument("--output", required=True)
    sp.add_argument("--usecase")
    sp = add(mon, "analyze", cmd_monitor_analyze, "data-quality and drift check against a baseline")
    sp.add_argument("--dataset", required=True)
    sp.add_argument("--baseline", required=True)
    sp.add_argument("--output", required=True)
    sp.add_argument("--usecase")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.fn(args)
    except AirsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if exc.permanent else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
