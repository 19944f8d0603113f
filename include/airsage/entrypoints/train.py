"""The training job: ``python -m airsage.entrypoints.train`` (locally or in a SageMaker container).

Reads the dataset from the ``train`` channel (Parquet files), the settings from the hyperparameters
(``airsage_config``), trains the main model and the baseline (logistic regression) on the same
split, writes the model bundle to the model dir and, to the output data dir, ``metrics.json``,
``eval_predictions.parquet``, ``model_quality.json`` and ``model_quality_constraints.json``
(see ``airsage.training.outputs``).
"""
from __future__ import annotations

from airsage.entrypoints import contract


def load_channel_frame(path):
    import pandas as pd
    import pyarrow.parquet as pq

    files = sorted(p for p in path.rglob("*.parquet") if not p.name.startswith((".", "_")))
    if not files:
        raise FileNotFoundError(f"no Parquet files in channel {path}")
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


@contract.job_main
def main() -> None:
    from airsage.training.outputs import print_metrics, write_job_outputs
    from airsage.training.train import TrainingJobConfig, fit

    cfg = TrainingJobConfig.from_hyperparameters(contract.hyperparameters())
    df = load_channel_frame(contract.channel("train"))
    result = fit(df, cfg)
    result.bundle.save(contract.model_dir())
    # SageMaker serving code inside model.tar.gz (code/inference.py), for local and SageMaker artifacts alike
    from airsage.compute.packaging import add_inference_code

    add_inference_code(contract.model_dir())
    write_job_outputs(result, cfg, contract.output_data_dir())
    print_metrics(result)


if __name__ == "__main__":
    main()
