"""Airsage: SageMaker's MLOps surface for batch ML, on Airflow and MLflow.

Importing this package is cheap: nothing heavy is imported here.
"""

__version__ = "0.1.0"
