"""The layer table of STYLE.md, enforced by reading imports with ``ast``."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "include" / "airsage"
HEAVY = {"pandas", "numpy", "sklearn", "xgboost", "shap", "mlflow", "great_expectations", "boto3", "pyarrow", "scipy"}
DOMAIN = {"labeling", "training", "transform", "clarify", "monitor", "review", "cards", "data"}


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def py_files(root: Path):
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def test_core_imports_only_stdlib_and_pydantic():
    for name in ("config.py", "errors.py"):
        bad = {m for m in imports(PKG / name) if m.split(".")[0] in HEAVY | {"airflow"}
               or (m.startswith("airsage") and m not in ("airsage.errors", "airsage.storage", "airsage.config"))}
        assert not bad, f"{name} imports {bad}"


@pytest.mark.parametrize("room", sorted(DOMAIN))
def test_domain_rooms_stay_out_of_compute_registry_airflow(room):
    for path in py_files(PKG / room):
        bad = {m for m in imports(path) if m.split(".")[0] == "airflow"
               or m.startswith(("airsage.compute", "airsage.registry", "airsage.pipeline", "airsage.cli"))}
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"


def test_registry_and_compute_do_not_import_domain_or_airflow():
    for room in ("registry", "compute"):
        for path in py_files(PKG / room):
            bad = {m for m in imports(path) if m.split(".")[0] == "airflow"
                   or any(m.startswith(f"airsage.{d}") for d in DOMAIN - {"cards"})}
            # the training-job config travels through the spec builders, not through compute/registry
            assert not bad, f"{path.relative_to(REPO)} imports {bad}"


def test_nothing_in_airsage_imports_airflow():
    for path in py_files(PKG):
        bad = {m for m in imports(path) if m.split(".")[0] == "airflow"}
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"


def test_dag_files_import_nothing_heavy_at_top_level():
    for path in py_files(REPO / "dags"):
        bad = {m for m in imports(path, top_level_only=True) if m.split(".")[0] in HEAVY}
        assert not bad, f"{path.name} imports {bad} at parse time"
        assert not any(m.startswith("airsage.") and m != "airsage.config" for m in imports(path, top_level_only=True))


def test_plugins_import_only_light_airsage_at_top_level():
    light = {"airsage.config", "airsage.errors", "airsage"}
    for path in py_files(REPO / "plugins"):
        top = imports(path, top_level_only=True)
        bad = {m for m in top if m.split(".")[0] in HEAVY or (m.startswith("airsage.") and m not in light)}
        assert not bad, f"{path.relative_to(REPO)} imports {bad} at module level"
        assert not any(m.split(".")[0] == "dags" for m in imports(path))


def test_room_packages_are_light():
    for init in PKG.glob("*/__init__.py"):
        top = imports(init, top_level_only=True)
        bad = {m for m in top if m.split(".")[0] in HEAVY}
        assert not bad, f"{init.relative_to(REPO)} imports {bad}: keep package imports light"
