"""The tuning job: ``python -m airsage.entrypoints.tune`` (JobSpec kind ``tune``).

Same contract as the training job (``train`` channel, ``airsage_config``) plus ``airsage_tuning``
(``airsage.training.tuning.tuning_hyperparameters(uc)`` builds both). Runs the search, writes the
refit best model to the model dir and the usual output data plus ``trials.json``.
"""
from __future__ import annotations

from airsage.entrypoints import contract
from airsage.entrypoints.train import load_channel_frame


@contract.job_main
def main() -> None:
    from airsage import storage
    from airsage.training.outputs import TRIALS_FILE, print_metrics, write_job_outputs
    from airsage.training.train import TrainingJobConfig
    from airsage.training.tuning import TuningConfig, run_tuning

    hps = contract.hyperparameters()
    cfg = TrainingJobConfig.from_hyperparameters(hps)
    tuning = TuningConfig.from_hyperparameters(hps)
    df = load_channel_frame(contract.channel("train"))
    tuned = run_tuning(df, cfg, tuning)
    tuned.result.bundle.save(contract.model_dir())
    # SageMaker serving code inside model.tar.gz (code/inference.py), for local and SageMaker artifacts alike
    from airsage.compute.packaging import add_inference_code

    add_inference_code(contract.model_dir())
    out = contract.output_data_dir()
    summary = tuned.to_dict()
    write_job_outputs(tuned.result, cfg, out,
                      tuning={k: summary[k] for k in ("objective", "direction", "strategy", "best_trial",
                                                      "best_hyperparameters")})
    storage.write_json(storage.join(str(out), TRIALS_FILE), summary)
    for t in tuned.trials:
        print(f"airsage-trial {t.trial} status={t.status} metric={t.metric} params={t.params}")
    print_metrics(tuned.result)


if __name__ == "__main__":
    main()
