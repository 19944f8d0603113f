"""Airsage's Airflow layer: the only code that imports both ``airflow`` and ``airsage``.

Light at import time: DAG files import it while parsing. Heavy work happens inside ``execute``.
"""
