"""Every real-browser test, as ONE pytest module.

``make test`` spreads test *files* over processes (pytest-xdist ``--dist loadfile``), and these tests share one
Airflow (started once per process by conftest.py, ~2.5 min on this machine): as one module they run in one
process and start it once. The cases live by subject in ``cases_airflow_ui.py`` (login, trigger forms, the
approval by role), ``cases_dashboard.py`` (the model dashboard) and ``cases_human_review.py`` (review tasks).
"""
from cases_airflow_ui import *  # noqa: F401,F403
from cases_dashboard import *  # noqa: F401,F403
from cases_human_review import *  # noqa: F401,F403
