"""The Airsage model dashboard as an Airflow 3 plugin.

* ``fastapi_apps``: the dashboard (``airsage_airflow.dashboard.app``) mounted at ``/airsage`` by the
  api-server. The app is built on first request (``LazyApp``): every Airflow component imports this
  module when it loads plugins, and only the api-server ever serves it, so nothing heavier than this
  file is imported at plugin load.
* ``external_views``: a top-level "Models" entry in the UI's navigation (destination ``nav``); the UI
  shows it at ``/plugin/airsage-models`` in an iframe of the same origin, so the browser sends the
  UI's ``_token`` cookie and the app authenticates the user with Airflow's own auth manager.
"""
from __future__ import annotations

import threading

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/airsage"
APP_FACTORY = "airsage_airflow.dashboard.app:create_app"
# a simple stacked-bars icon (inline SVG data URL: nothing is fetched from elsewhere)
ICON = ("data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' fill='none' "
        "stroke='%23718096' stroke-width='2'><rect x='3' y='12' width='4' height='8'/><rect x='10' y='7' "
        "width='4' height='13'/><rect x='17' y='3' width='4' height='17'/></svg>")


class LazyApp:
    """An ASGI app that imports and builds the real one on its first call."""

    def __init__(self, factory: str = APP_FACTORY):
        self.factory = factory
        self._app = None
        self._lock = threading.Lock()

    def _build(self):
        with self._lock:
            if self._app is None:
                import importlib

                module, _, name = self.factory.partition(":")
                self._app = getattr(importlib.import_module(module), name)()
        return self._app

    async def __call__(self, scope, receive, send):
        app = self._app or self._build()
        await app(scope, receive, send)


def _href() -> str:
    """The dashboard's URL below the api-server's base path (``[api] base_url``)."""
    try:
        from airflow.configuration import conf
        from urllib.parse import urlsplit

        root = urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    except Exception:  # noqa: BLE001 - no config: the default base path
        root = ""
    return f"{root}{URL_PREFIX}/"


class AirsageDashboardPlugin(AirflowPlugin):
    name = "airsage_dashboard"
    fastapi_apps = [{"name": "airsage_dashboard", "app": LazyApp(), "url_prefix": URL_PREFIX}]
    external_views = [{"name": "Models", "href": _href(), "destination": "nav", "url_route": "airsage-models",
                       "nav_top_level": True, "icon": ICON}]
