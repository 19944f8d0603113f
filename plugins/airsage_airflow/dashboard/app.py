"""The model dashboard: a FastAPI app the Airflow api-server mounts at ``/airsage`` (see
``plugins/airsage_dashboard.py``). Server-rendered HTML pages plus a JSON API under ``/api/v1/``.

Authentication is Airflow's own: every route depends on ``airflow.api_fastapi.core_api.security.get_user``,
which accepts the JWT the Airflow UI holds (the ``_token`` cookie, sent by the browser to the same
origin — the nav entry opens the dashboard in an iframe of the UI) or an ``Authorization: Bearer`` token
(scripts: ``POST /auth/token``). Nothing is served anonymously: the API answers 401, a page redirects to
Airflow's login. A use case is shown only to users who may read its DAGs (``is_authorized_dag`` GET on
``<usecase>__train``), so Airflow's access control decides who sees which models.

Imported only by the api-server (the plugin mounts a lazy wrapper), so module-level imports here do not
load into the scheduler, workers or DAG parsing.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from airflow.api_fastapi.core_api.security import get_user
from airsage.cards import shadow as shadow_text
from airsage.cards.html import shadow_rates_svg
from airsage.config import UseCase, load_usecases
from airsage.dashboard import views
from airsage.dashboard.lineage import lineage
from airsage.errors import AirsageError, ConfigError

log = logging.getLogger("airsage.dashboard")
API = "/api/v1"
TEMPLATES = Path(__file__).parent / "templates"
# served reports and model cards are self-contained pages: no script may run, nothing loads from elsewhere
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
PAGE_CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'"

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                          undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None or v == "":
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def _pct(v: Any) -> str:
    return "–" if v is None else f"{float(v):.0%}"


_env.filters.update(fmt=_fmt, pct=_pct, urlq=lambda s: quote(str(s or ""), safe=""),
                    # the shadow history's numbers, written as the approval summary and the model card write them
                    rate=shadow_text.pct, num=shadow_text.fnum, signed=shadow_text.signed, nrows=shadow_text.count,
                    pvalue=shadow_text.pvalue)
_env.globals.update(trend_svg=views.trend_svg, statuses=views.STATUSES, shadow_svg=shadow_rates_svg)


# ---------------------------------------------------------------------- auth
def _auth_manager():
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


def _user_name(user) -> str:
    for attr in ("get_name", "get_id"):
        fn = getattr(user, attr, None)
        if callable(fn):
            try:
                return str(fn())
            except Exception:  # noqa: BLE001
                continue
    return str(user)


def _may_read(user, uc: UseCase) -> bool:
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    try:
        return bool(_auth_manager().is_authorized_dag(method="GET", details=DagDetails(id=f"{uc.name}__train"),
                                                      user=user))
    except Exception as exc:  # noqa: BLE001 - fail closed
        log.warning("authorization check failed for %s: %s", uc.name, exc)
        return False


def visible_usecases(user) -> list[UseCase]:
    return [uc for uc in load_usecases() if _may_read(user, uc)]


def _usecase(user, name: str) -> UseCase:
    for uc in load_usecases():
        if uc.name == name:
            if not _may_read(user, uc):
                raise HTTPException(403, f"you may not read the DAGs of use case {name}")
            return uc
    raise ConfigError(f"unknown use case {name!r}", key="usecase", fix="Pick a use case from the overview.")


# ---------------------------------------------------------------------- rendering helpers
def _base(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


def _airflow_base() -> str:
    try:
        from airflow.api_fastapi.app import API_ROOT_PATH

        return API_ROOT_PATH.rstrip("/")
    except Exception:  # noqa: BLE001
        return ""


def _page(request: Request, template: str, user, **ctx: Any) -> HTMLResponse:
    body = _env.get_template(template).render(base=_base(request), airflow=_airflow_base(), user=_user_name(user),
                                              **ctx)
    return HTMLResponse(body, headers={"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff",
                                       "Cache-Control": "no-store"})


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(_base(request) + API) or request.url.path.startswith(API)


def _error(request: Request, status: int, message: str, fix: str | None) -> Response:
    if _is_api(request):
        return JSONResponse({"error": message, "fix": fix}, status_code=status)
    body = _env.get_template("error.html").render(base=_base(request), airflow=_airflow_base(), user=None,
                                                  status=status, message=message, fix=fix)
    return HTMLResponse(body, status_code=status, headers={"Content-Security-Policy": PAGE_CSP})


# ---------------------------------------------------------------------- routes
def _routes() -> tuple[APIRouter, APIRouter]:
    pages = APIRouter(dependencies=[Depends(get_user)])
    api = APIRouter(prefix=API, dependencies=[Depends(get_user)])

    # ----- JSON API (the pages render the same dicts)
    @api.get("/me")
    def me(user=Depends(get_user)) -> dict:
        return {"user": _user_name(user)}

    @api.get("/usecases")
    def usecases(user=Depends(get_user)) -> dict:
        return {"usecases": [{"name": u.name, "model": u.registered_model_name, "owner": u.owner}
                             for u in visible_usecases(user)]}

    @api.get("/overview")
    def overview(user=Depends(get_user), usecase: str | None = Query(None), status: str | None = Query(None)) -> dict:
        ucs = visible_usecases(user)
        if usecase:
            _usecase(user, usecase)
        return views.overview(ucs, usecase=usecase or None, status=status or None)

    @api.get("/usecases/{usecase}/versions/{version}")
    def version(usecase: str, version: str, user=Depends(get_user)) -> dict:
        return views.version_view(_usecase(user, usecase), version)

    @api.get("/usecases/{usecase}/partitions/{day}")
    def partition(usecase: str, day: str, user=Depends(get_user)) -> dict:
        return views.partition_view(_usecase(user, usecase), day)

    @api.get("/usecases/{usecase}/lineage")
    def lineage_api(usecase: str, inference_id: str = Query(..., max_length=256), partition: str | None = None,
                    user=Depends(get_user)) -> dict:
        return lineage(_usecase(user, usecase), inference_id, partition=partition or None)

    # ----- pages
    @pages.get("/", response_class=HTMLResponse)
    def overview_page(request: Request, user=Depends(get_user), usecase: str | None = Query(None),
                      status: str | None = Query(None)):
        ucs = visible_usecases(user)
        if usecase:
            _usecase(user, usecase)
        data = views.overview(ucs, usecase=usecase or None, status=status or None)
        return _page(request, "overview.html", user, data=data, all_usecases=[u.name for u in ucs])

    @pages.get("/usecases/{usecase}/versions/{version}", response_class=HTMLResponse)
    def version_page(request: Request, usecase: str, version: str, user=Depends(get_user)):
        data = views.version_view(_usecase(user, usecase), version)
        return _page(request, "version.html", user, v=data)

    @pages.get("/usecases/{usecase}/partitions/{day}", response_class=HTMLResponse)
    def partition_page(request: Request, usecase: str, day: str, user=Depends(get_user)):
        data = views.partition_view(_usecase(user, usecase), day)
        return _page(request, "partition.html", user, p=data)

    @pages.get("/lineage", response_class=HTMLResponse)
    def lineage_page(request: Request, user=Depends(get_user), usecase: str | None = Query(None),
                     inference_id: str | None = Query(None, max_length=256)):
        ucs = visible_usecases(user)
        result, error = None, None
        if usecase and inference_id:
            try:
                result = lineage(_usecase(user, usecase), inference_id)
            except AirsageError as exc:
                error = {"message": exc.message, "fix": exc.fix}
        return _page(request, "lineage.html", user, result=result, error=error, usecase=usecase,
                     inference_id=inference_id or "", all_usecases=[u.name for u in ucs])

    @pages.get("/usecases/{usecase}/versions/{version}/card", response_class=HTMLResponse)
    def model_card(usecase: str, version: str, user=Depends(get_user)):
        uc = _usecase(user, usecase)
        version = views.store.check_version(version)
        from airsage.cards import build_model_card, render_model_card_html
        from airsage.registry import ModelRegistry

        reg = ModelRegistry.from_settings()
        card = reg.read_run_json(uc.registered_model_name, version, "model_card/model_card.json")
        if not card:
            card = build_model_card(reg, uc.registered_model_name, version, uc)
        else:  # the stored card dates from its last refresh: the shadow evidence grows every night
            status = ((card.get("airsage") or {}).get("registry") or {}).get("approval_status")
            card.setdefault("airsage", {})["shadow"] = shadow_text.shadow_section(
                uc, version, pending=status in (None, "PendingManualApproval"))
        return HTMLResponse(render_model_card_html(card, usecase=uc.name),
                            headers={"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff"})

    @pages.get("/usecases/{usecase}/reports/{path:path}")
    def report(usecase: str, path: str, user=Depends(get_user)):
        from airsage import storage

        uc = _usecase(user, usecase)
        uri, media = views.report_uri(uc, path)
        if not storage.exists(uri):
            return JSONResponse({"error": f"no report {path}", "fix": "Open reports from the dashboard's links."},
                                status_code=404)
        return Response(storage.read_bytes(uri), media_type=media,
                        headers={"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "private, max-age=60"})

    return pages, api


def create_app() -> FastAPI:
    app = FastAPI(title="Airsage model dashboard", version="1",
                  description="Models, versions, approvals, scored partitions, monitoring verdicts and lineage. "
                              "Authenticated with Airflow's JWT (cookie `_token` or `Authorization: Bearer`).",
                  docs_url=None, openapi_url=None, redoc_url=None)  # FastAPI's own would be anonymous
    pages, api = _routes()

    @api.get("/openapi.json", include_in_schema=False)
    def openapi_schema() -> dict:
        return app.openapi()

    app.include_router(api)
    app.include_router(pages)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if exc.status_code in (401, 403) and not _is_api(request) and "not read" not in str(exc.detail):
            # no or bad token on a page: send the browser to Airflow's login, then back here
            try:
                login = _auth_manager().get_url_login(next_url=str(request.url))
            except Exception:  # noqa: BLE001
                login = f"{_airflow_base()}/auth/login"
            return RedirectResponse(login, status_code=303)
        return _error(request, exc.status_code, str(exc.detail), None)

    @app.exception_handler(AirsageError)
    async def airsage_error(request: Request, exc: AirsageError):
        status = 404 if isinstance(exc, ConfigError) and exc.key in ("version", "partition", "usecase") else 400
        if isinstance(exc, ConfigError) and exc.key == "inference_id" and "not found" in exc.message:
            status = 404
        return _error(request, status, exc.message, exc.fix)

    return app
