"""``airsage``: the command line, a thin layer over the same functions the DAGs run (``airsage.lifecycle``).

Errors print what went wrong, the ``Fix:`` line and, when the error carries a report (a transform with
failed files), the report as JSON on stdout; never a traceback (``AIRSAGE_DEBUG=1`` re-raises). The exit
code is the error's ``exit_code``: 2 permanent, 1 transient (retry), 3 partial failure, 4 a registry
integrity finding; unexpected OS, MLflow and AWS errors are mapped to one of these with a fix.

Identity: who ran a command is the OS user (``getpass``); registry decisions record the source
``cli:<os user>``, so an auditor tells them from decisions given in the Airflow UI.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from airsage.errors import AirsageError, TransientError

DEBUG_ENV = "AIRSAGE_DEBUG"


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def os_user() -> str:
    """The person running the command, as the operating system knows them."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def cli_source() -> str:
    """The ``source`` recorded with a decision made at a terminal: ``cli:<os user>``."""
    return f"cli:{os_user()}"


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
    from airsage.lifecycle import labels

    _print(labels.prepare_example_data(_uc(a.usecase), end_date=a.end_date, days=a.days, rows_per_day=a.rows))


def cmd_labels_import(a) -> None:
    from airsage.lifecycle import labels

    _print(labels.import_labels(_uc(a.usecase), a.manifest, features_uri=a.features, output_root=a.output))


def cmd_labels_export_uncertain(a) -> None:
    from airsage.lifecycle import labels

    _print(labels.export_uncertain(_uc(a.usecase), a.input, a.output, n=a.n))


def cmd_train(a) -> None:
    from airsage.lifecycle import training

    _print(training.train_and_register(_uc(a.usecase), dataset_version=a.dataset_version, run_key=a.run_key,
                                       actor=os_user()))


def _decide(decision: str):
    def run(a) -> None:
        from airsage.lifecycle import governance

        _print(governance.decide(_uc(a.usecase), getattr(a, "version", None) or "", decision,
                                 actor=os_user(), comment=a.comment, source=cli_source()))

    return run


def cmd_shadow_show(a) -> None:
    from airsage.lifecycle import shadow

    uc = _uc(a.usecase)
    if a.version:
        summary = shadow.read_summary(uc, a.version)
        if summary is None:
            from airsage.errors import ConfigError

            raise ConfigError(f"version {a.version} of {uc.name} has not been scored in shadow", key="--version",
                              fix="Enable shadow: in the use case; the nightly batch transform scores pending versions.")
        _print(summary)
    else:
        _print(shadow.headlines(uc))


def cmd_shadow_refresh(a) -> None:
    from airsage.lifecycle import shadow

    _print(shadow.refresh_all(_uc(a.usecase)))


def cmd_registry_verify(a) -> int:
    from airsage.errors import IntegrityError
    from airsage.registry import verify

    report = verify(_uc(a.usecase))
    if a.json:
        _print(report.to_dict())
    else:
        print(report.render())
    if not report.ok:
        raise IntegrityError(report)
    return 0


def cmd_registry_import(a) -> None:
    from airsage.lifecycle.importer import import_model

    user = os_user()
    report = import_model(_uc(a.usecase), a.model_data, framework=a.framework, actor=user, source=f"cli:{user}",
                          dataset=a.dataset)
    if a.json:
        _print(report.to_dict())
    else:
        print(report.render())


def cmd_lineage(a) -> None:
    from airsage.dashboard.lineage import lineage

    _print(lineage(_uc(a.usecase), a.inference_id, partition=a.partition))


def cmd_dashboard_rebuild(a) -> None:
    from airsage.dashboard import rebuild

    _print(rebuild(_uc(a.usecase)))


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
    from airsage.lifecycle import governance

    card, html = governance.model_card(_uc(a.usecase), a.version)
    if a.html:
        from airsage import storage

        storage.write_text(a.html, html)
        print(f"wrote {a.html}")
    _print(card)


def cmd_transform(a) -> None:
    from airsage.lifecycle import transform

    _print(transform.score(model_uri=a.model_uri, input_uri=a.input, output_uri=a.output,
                           settings={"content_type": a.content_type, "split_type": a.split_type,
                                     "batch_strategy": a.batch_strategy, "input_filter": a.input_filter,
                                     "join_source": a.join_source, "output_filter": a.output_filter,
                                     "assemble_with": a.assemble_with, "accept": a.accept,
                                     "max_payload_mb": a.max_payload_mb},
                           usecase=a.usecase, capture_uri=a.capture, run_key=a.run_key, record_id=a.record_id,
                           force=a.force))


def cmd_clarify(a) -> None:
    from airsage.lifecycle import clarify

    _print(clarify.analyze(analysis_config=a.analysis_config, dataset_uri=a.dataset, output_uri=a.output,
                           model_uri=a.model_uri, force=a.force))


def cmd_monitor_baseline(a) -> None:
    from airsage.lifecycle import monitoring_adhoc

    _print(monitoring_adhoc.suggest_dataset_baseline(a.dataset, a.output, usecase=a.usecase, force=a.force))


def cmd_monitor_analyze(a) -> None:
    from airsage.lifecycle import monitoring_adhoc

    _print(monitoring_adhoc.analyze_dataset(a.dataset, a.baseline, a.output, usecase=a.usecase, force=a.force))


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

    reg = sub.add_parser("registry", help="the governed model registry").add_subparsers(dest="sub", required=True)
    sp = add(reg, "list", cmd_registry_list, "list model versions with status and aliases")
    sp.add_argument("--usecase", required=True)
    for name, helptext in (("approve", "approve a PendingManualApproval version (moves champion)"),
                           ("reject", "reject a pending version"),
                           ("promote", "make an Approved version the champion")):
        sp = add(reg, name, _decide(name), helptext)
        sp.add_argument("version")
        sp.add_argument("--usecase", required=True)
        sp.add_argument("--comment", "--reason", required=True, dest="comment")
    sp = add(reg, "rollback", _decide("rollback"), "move champion back to the previous (or a named approved) version")
    sp.add_argument("version", nargs="?", default="")
    sp.add_argument("--usecase", required=True)
    sp.add_argument("--comment", "--reason", required=True, dest="comment")
    sp = add(reg, "verify", cmd_registry_verify,
             "check the audit log's hash chain and that every Approved status and champion/previous alias is backed "
             "by it (exit 4 on a finding)")
    sp.add_argument("--usecase", required=True)
    sp.add_argument("--json", action="store_true")
    sp = add(reg, "import", cmd_registry_import,
             "register an existing model artifact (SageMaker built-in XGBoost or scikit-learn model.tar.gz) as a "
             "PendingManualApproval version, after evaluating it on the use case's held-out data")
    sp.add_argument("--usecase", required=True)
    sp.add_argument("--model-data", required=True, help="the model.tar.gz (or its folder), local or s3://")
    sp.add_argument("--framework", default="xgboost", choices=["xgboost", "sklearn"])
    sp.add_argument("--dataset", default="latest", help="held-out data: latest, a dataset version ds-..., or a URI")
    sp.add_argument("--json", action="store_true")
    sp = add(reg, "audit", cmd_registry_audit, "the append-only audit log of a model")
    sp.add_argument("--usecase", required=True)
    sp.add_argument("--json", action="store_true")
    sp = add(reg, "card", cmd_registry_card, "generate a version's model card (JSON; --html FILE renders it)")
    sp.add_argument("version")
    sp.add_argument("--usecase", required=True)
    sp.add_argument("--html")

    sp = add(sub, "lineage", cmd_lineage, "everything behind one prediction: partition, model version, approval, "
                                          "training run, dataset, labeling jobs, code version")
    sp.add_argument("--usecase", required=True)
    sp.add_argument("--inference-id", required=True)
    sp.add_argument("--partition", help="YYYY-MM-DD (default: search the scored partitions, newest first)")

    sh = sub.add_parser("shadow", help="shadow scoring of pending versions").add_subparsers(dest="sub", required=True)
    sp = add(sh, "show", cmd_shadow_show, "a pending version's shadow evidence (its summary), or every active one's headline")
    sp.add_argument("--usecase", required=True)
    sp.add_argument("--version")
    sp = add(sh, "refresh", cmd_shadow_refresh, "recompute every active challenger's evidence (after labels arrived)")
    sp.add_argument("--usecase", required=True)

    dash = sub.add_parser("dashboard", help="the model dashboard").add_subparsers(dest="sub", required=True)
    sp = add(dash, "rebuild", cmd_dashboard_rebuild, "recreate a use case's dashboard summaries from the registry, "
                                                     "the audit log and the reports")
    sp.add_argument("--usecase", required=True)

    force_help = ("replace an existing output folder that Airsage did not publish (its content is moved aside to "
                  "<name>.replaced-<time>, never deleted); an output overlapping an input is always refused")
    sp = add(sub, "transform", cmd_transform, "batch transform with SageMaker semantics (approved models only; "
                                              "no use-case file needed)")
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
    sp.add_argument("--usecase", help="use case (for the record id column); default: the model's name, when a "
                                      "use case of that name exists (none is needed)")
    sp.add_argument("--capture", help="data capture URI")
    sp.add_argument("--record-id", help="record id: a column name, or for header-less CSV its index (e.g. 0); "
                                        "default: the use case's, else derived per record")
    sp.add_argument("--run-key")
    sp.add_argument("--force", action="store_true", help=force_help)

    sp = add(sub, "clarify", cmd_clarify, "Clarify-style bias and SHAP analysis (analysis.json, report.html)")
    sp.add_argument("--analysis-config", required=True)
    sp.add_argument("--dataset", required=True)
    sp.add_argument("--output", required=True)
    sp.add_argument("--model-uri")
    sp.add_argument("--force", action="store_true", help=force_help)

    mon = sub.add_parser("monitor", help="Model-Monitor-style checks").add_subparsers(dest="sub", required=True)
    sp = add(mon, "suggest-baseline", cmd_monitor_baseline, "statistics.json + constraints.json from a dataset")
    sp.add_argument("--dataset", required=True)
    sp.add_argument("--output", required=True)
    sp.add_argument("--usecase")
    sp.add_argument("--force", action="store_true", help=force_help)
    sp = add(mon, "analyze", cmd_monitor_analyze, "data-quality and drift check against a baseline")
    sp.add_argument("--dataset", required=True)
    sp.add_argument("--baseline", required=True)
    sp.add_argument("--output", required=True)
    sp.add_argument("--usecase")
    sp.add_argument("--force", action="store_true", help=force_help)
    return p


# ---------------------------------------------------------------------- errors
def _module_of(exc: BaseException, *prefixes: str) -> bool:
    return any(c.__module__.split(".")[0] in prefixes for c in type(exc).__mro__)


def as_airsage_error(exc: Exception) -> AirsageError:
    """An unexpected exception as an ``AirsageError`` with a fix (what the command line prints)."""
    if isinstance(exc, AirsageError):
        return exc
    name = type(exc).__name__
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        reason = exc.strerror or str(exc) or name
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return TransientError(f"{name}: {reason}{where}", fix="A network problem: check the service is reachable "
                                                                  "and run the command again.")
        return AirsageError(f"{name}: {reason}{where}",
                            fix="Check that the path exists and that you may read (inputs) or write (outputs) it, and "
                                "that the disk is not full.")
    if _module_of(exc, "mlflow"):
        code = str(getattr(exc, "error_code", "") or "")
        text = (str(getattr(exc, "message", None) or exc) or name).splitlines()[0][:500]
        if code in ("TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"):
            return TransientError(f"MLflow: {text}", fix="The tracking server is busy or unreachable: run the command "
                                                         "again.")
        return AirsageError(f"MLflow: {text}" + (f" ({code})" if code else ""),
                            fix="Check MLFLOW_TRACKING_URI (and its credentials) and the model name, version or "
                                "alias (airsage registry list --usecase U).")
    if _module_of(exc, "botocore", "boto3", "s3transfer"):
        if name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"):
            return TransientError(f"AWS: {exc}", fix="Check AWS_ENDPOINT_URL / the network and run the command again.")
        return AirsageError(f"AWS: {name}: {exc}", fix="Check the AWS credentials (profile or environment), the "
                                                        "region, AWS_ENDPOINT_URL and that the bucket exists.")
    if _module_of(exc, "requests", "urllib3") and "Connection" in name:
        return TransientError(f"{name}: {exc}", fix="A network problem: check the service is reachable and retry.")
    return AirsageError(f"unexpected {name}: {exc}",
                        fix=f"This looks like a bug or an input Airsage does not handle: run again with {DEBUG_ENV}=1 "
                            "for the traceback, and report it with the command you ran.")


def report_error(exc: AirsageError) -> int:
    """Print an error the command-line way (report JSON on stdout; error, failures and Fix on stderr)."""
    report = getattr(exc, "report", None)
    if report is not None:
        _print(report.to_dict() if hasattr(report, "to_dict") else report)
    print(f"error: {getattr(exc, 'message', None) or exc}", file=sys.stderr)
    failures = list(getattr(exc, "failures", None) or [])
    for line in failures[:20]:
        print(f"  failed: {line}", file=sys.stderr)
    if len(failures) > 20:
        print(f"  ... and {len(failures) - 20} more (see the report)", file=sys.stderr)
    if getattr(exc, "fix", None):
        print(f"Fix: {exc.fix}", file=sys.stderr)
    return int(getattr(exc, "exit_code", 2) or 2)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes")
    try:
        rc = args.fn(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the command line's boundary: an error and a fix, never a traceback
        if debug:
            raise
        return report_error(as_airsage_error(exc))
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
