"""What a job runs: ``python -m airsage.entrypoints.<job>``, locally or inside a SageMaker container."""
