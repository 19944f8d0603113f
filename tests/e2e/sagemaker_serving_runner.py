"""The serving side of the SageMaker emulator's batch transform (``sagemaker_emulator``), run as its own
process in the model container's environment: ``python sagemaker_serving_runner.py <transform.json>``.

It does what SageMaker's framework serving stack does for a batch transform: import
``SAGEMAKER_PROGRAM`` from the code directory, ``model_fn(model_dir)`` once, then for every request
``input_fn(body, ContentType)`` -> ``predict_fn`` -> ``output_fn(prediction, Accept)``. Requests are
made from each input file per ``SplitType`` / ``BatchStrategy`` / ``MaxPayloadInMB``; responses are
assembled per ``AssembleWith``; with ``GenerateInferenceId`` an inference id and the job start time
are appended to each CSV / JSON Lines output record. Writes ``transform-result.json`` next to the spec:
one entry per file with ``ok`` and, when it failed, the error (the file then has no output).
"""
from __future__ import annotations

import importlib.util
import json
import sys
import traceback
import uuid
from pathlib import Path

CSV, JSONLINES = "text/csv", "application/jsonlines"


def load_program(code_dir: str, program: str):
    sys.path.insert(0, code_dir)
    path = Path(code_dir) / program
    spec = importlib.util.spec_from_file_location(Path(program).stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def requests_of(data: bytes, spec: dict) -> list[bytes]:
    limit = spec["max_payload_mb"] * 1024 * 1024
    if spec["split_type"] == "None":
        chunks = [data]
    elif spec["split_type"] == "Line":
        lines = [ln + b"\n" for ln in data.split(b"\n") if ln.strip()]
        if spec["batch_strategy"] == "SingleRecord":
            chunks = lines
        else:
            chunks, cur = [], b""
            for ln in lines:
                if cur and len(cur) + len(ln) > limit:
                    chunks.append(cur)
                    cur = b""
                cur += ln
            if cur:
                chunks.append(cur)
    else:
        raise ValueError(f"SplitType {spec['split_type']} is not emulated")
    for c in chunks:
        if limit and len(c) > limit:
            raise ValueError(f"a request of {len(c)} bytes exceeds MaxPayloadInMB={spec['max_payload_mb']}")
    return chunks


def with_inference_ids(body: bytes, accept: str, start: str) -> bytes:
    out = []
    for line in body.decode().splitlines():
        if not line.strip():
            continue
        iid = str(uuid.uuid4())
        if accept == CSV:
            out.append(f"{line},{iid},{start}")
        else:
            obj = json.loads(line)
            obj = obj if isinstance(obj, dict) else {"SageMakerOutput": obj}
            obj.update({"SageMakerInferenceId": iid, "SageMakerInferenceTime": start})
            out.append(json.dumps(obj))
    return ("\n".join(out) + "\n").encode()


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    module = load_program(spec["code_dir"], spec["program"])
    model = module.model_fn(spec["model_dir"])
    results = []
    for f in spec["files"]:
        try:
            parts = []
            for body in requests_of(Path(f["input"]).read_bytes(), spec):
                data = module.input_fn(body, spec["content_type"])
                response = module.output_fn(module.predict_fn(data, model), spec["accept"])
                if isinstance(response, tuple):  # (body, content_type), as some serving stacks allow
                    response = response[0]
                response = response.encode() if isinstance(response, str) else bytes(response)
                if spec["generate_inference_id"] and spec["accept"] in (CSV, JSONLINES):
                    response = with_inference_ids(response, spec["accept"], spec["start_time"])
                if spec["assemble_with"] == "Line" and not response.endswith(b"\n"):
                    response += b"\n"
                parts.append(response)
            out = Path(f["output"])
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(b"".join(parts))
            results.append({"key": f["key"], "output": f["output"], "ok": True})
        except Exception as exc:  # noqa: BLE001 - a bad file fails alone, as in SageMaker
            traceback.print_exc()
            results.append({"key": f["key"], "output": f["output"], "ok": False,
                            "error": f"{type(exc).__name__}: {exc}"[:400]})
    Path(spec_path).with_name("transform-result.json").write_text(json.dumps({"files": results}))


if __name__ == "__main__":
    main(sys.argv[1])
