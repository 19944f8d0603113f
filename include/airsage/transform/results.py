"""What a batch transform run reports: per-file results and failures, the run's ``TransformReport``,
progress events, and the error raised when input files failed."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from airsage.errors import PartialFailureError


@dataclass(frozen=True)
class FileFailure:
    """Why one input file produced no ``.out``. ``line`` is 1-based (text); ``record`` is 0-based."""

    input_uri: str
    relative_path: str
    reason: str
    line: int | None = None
    record: int | None = None

    def describe(self) -> str:
        where = f", line {self.line}" if self.line is not None else (
            f", row {self.record}" if self.record is not None else "")
        return f"{self.relative_path}{where}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FileResult:
    input_uri: str
    relative_path: str
    output_uri: str | None  # None when the file failed
    records_in: int
    records_out: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ShadowResult:
    """One challenger scored in the shadow of the champion. ``status`` "Completed" (its shadow scores
    were published at ``output_uri``) or "Failed" (nothing published; ``error`` says why);
    ``seconds``: its busy time (predict + write), overlapping the champion's stages."""

    model_version: str
    output_uri: str
    status: str
    records_out: int
    seconds: float
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.status != "Completed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TransformReport:
    """What one run did. ``records_in`` counts records read (a failed file stops at its first bad
    record); ``records_failed`` = records read from files that produced no ``.out``. ``shadow``: one
    ``ShadowResult`` per challenger scored alongside (a failed challenger never fails the run)."""

    status: str  # "Completed" | "Failed" (some file failed)
    run_key: str
    model_name: str
    model_version: str
    input_uri: str
    output_uri: str
    capture_file: str | None
    config: dict[str, Any]
    files_in: int
    files_out: int
    files_failed: int
    records_in: int
    records_out: int
    records_failed: int
    failures: tuple[FileFailure, ...]
    files: tuple[FileResult, ...]
    started_at: str
    seconds: float
    records_per_s: float
    stage_seconds: dict[str, float] = field(default_factory=dict)  # busy time per stage (they overlap)
    shadow: tuple[ShadowResult, ...] = ()

    @property
    def failed(self) -> bool:
        return self.files_failed > 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["failures"] = [f.to_dict() for f in self.failures]
        d["files"] = [f.to_dict() for f in self.files]
        d["shadow"] = [s.to_dict() for s in self.shadow]
        return d


@dataclass(frozen=True)
class TransformProgress:
    """Handed to ``progress`` about once a second (from a worker thread) and at each file's end."""

    current_file: str
    files_done: int
    files_total: int
    records_done: int
    records_per_s: float
    eta_s: float | None  # from the share of files (and of the current Parquet file) done


class TransformFailedError(PartialFailureError):
    """Some input files failed and the caller asked to fail the run; ``report`` has the details. The
    command line exits 3 (partial failure: the good files were published), or 2 when every file failed."""

    def __init__(self, report: TransformReport):
        self.report = report
        first = report.failures[0].describe() if report.failures else "?"
        super().__init__(
            f"batch transform {report.run_key}: {report.files_failed} of {report.files_in} input file(s) failed "
            f"(no .out written for them; {report.files_out} published); first: {first}",
            failures=[f.describe() for f in report.failures],
            fix="Correct or remove the bad records named in the report's failures, then rerun: the partition's "
                "output is replaced as a whole. Or run with fail_on_file_error=False to accept partial output.")
        if report.files_out == 0:
            self.exit_code = 2  # nothing was published: a plain failure
