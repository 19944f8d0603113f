"""The names a registered version carries in MLflow (stdlib only, imports nothing: every registry module
may use it). The approval state lives in version tags + aliases, never in MLflow's deprecated stages."""
TAG_STATUS = "approval_status"
TAG_RUN_KEY = "run_key"
TAG_DATASET_VERSION = "dataset_version"
TAG_DATASET_HASH = "dataset_hash"
TAG_CODE_VERSION = "code_version"
TAG_METRICS = "metrics"  # JSON: the scalar held-out metrics
TAG_GATES = "gate_results"  # JSON: list of {name, passed, value, threshold, detail}
TAG_FAILED_CHECKS = "failed_checks"  # comma-separated gate names (Rejected by gates)
TAG_MODEL_ARTIFACT = "model_artifact_uri"  # the model.tar.gz the job produced
TAG_MODEL_SHA256 = "model_artifact_sha256"
TAG_MODEL_CARD = "model_card_uri"
TAG_TRAINED_BY = "airsage.trained_by"  # who started the training run (four eyes: may not approve it)
TAG_CLARIFY_REPORT = "clarify_report_uri"  # the Clarify report of the training run, when known
TAG_IMPORTED_FROM = "airsage.imported_from"  # the outside model artifact an imported version came from
TAG_MODEL_SOURCE = "airsage.model_source"  # the MLflow model URI an outside model was registered from

CHAMPION = "champion"
PREVIOUS = "previous"
