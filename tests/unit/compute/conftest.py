"""Fixtures for the compute tests: ``moto_server`` / ``aws`` moved to tests/conftest.py (the registry's
SageMaker mirror tests use them too)."""
