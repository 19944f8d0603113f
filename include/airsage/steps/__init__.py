"""Lifecycle steps for one room each (monitoring, review, clarify), called by DAG tasks and the CLI.

Same layer as ``airsage.pipeline`` (may import all of airsage, never airflow).
"""
