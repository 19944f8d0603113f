"""Human decisions in Airflow: who may answer, what an answer says, and who triggered a governance run.

* :func:`parse_answer` is the one reader of a human-in-the-loop answer (the XCom an ``HITLOperator``
  returns): the chosen option, the authenticated Airflow user who answered, the form's values. The actor
  recorded anywhere (audit log, version tags, model card) comes from here or from the run's triggering
  user (:func:`triggering_user`) — never from a free-text form field.
* :func:`respondents` resolves an access list of the use case (``governance.approvers``,
  ``review.reviewers``: Airflow user names and/or ``role:<Role>``) to Airflow users for the operator's
  ``assigned_users``. Airflow's REST API then refuses (HTTP 403) an answer from anyone else
  (``PATCH .../hitlDetails`` calls the auth manager's ``is_authorized_hitl_task``: the user's id must be
  one of the assigned users). Roles are resolved with the simple auth manager's user list
  (``[core] simple_auth_manager_users``); other auth managers need user names.
* :class:`DecisionOperator` is an ``HITLOperator`` that resolves its respondents when it runs (minus the
  user four-eyes excludes), shows required fields as required, and checks an answer before it counts: a refused answer (a comment too short,
  an override without a comment) is logged, the request re-opens and the task waits again — the form's
  own check is only "a required field is not empty", and Airflow's server does not validate ``params_input``.

Light at import (the Airflow SDK and the standard provider's HITL operator); DAG files import it.
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk.exceptions import AirflowFailException, ParamValidationError

from airsage.contracts import SOURCE_AIRFLOW_UI, HumanAnswer, parse_hitl_answer

log = logging.getLogger(__name__)

#: the source recorded with a decision taken in the Airflow UI (or its REST API) by an authenticated user
SOURCE_UI = SOURCE_AIRFLOW_UI
#: the source recorded for what a scheduled or asset-triggered run does (no person started it)
SOURCE_SCHEDULE = "airflow-schedule"
ROLE_PREFIX = "role:"


# ---------------------------------------------------------------------------------------- answers
def parse_answer(answer: Mapping[str, Any] | None, *, options: Sequence[str]) -> HumanAnswer | None:
    """The answer an ``HITLOperator`` returned (its XCom); None when there is none (skipped, timed out).
    ``airsage.contracts.parse_hitl_answer`` reads it; a malformed answer (not exactly one of ``options``,
    no responding user) fails the task permanently (``AirflowFailException``)."""
    from airsage.errors import AirsageError

    try:
        return parse_hitl_answer(answer, options=tuple(options))
    except AirsageError as exc:
        raise AirflowFailException(str(exc)) from None


#: Airflow's ``triggering_user_name`` of a run started by ``airflow dags test`` (no authenticated user)
DAGS_TEST_USER = "dag_test"


def triggering_user(dag_run) -> str | None:
    """The authenticated user who triggered ``dag_run`` (None for scheduled and asset-triggered runs, and
    for ``airflow dags test``, which has no authenticated user: see :func:`run_identity`)."""
    name = getattr(dag_run, "triggering_user_name", None)
    name = str(name).strip() if name else ""
    return name if name and name != DAGS_TEST_USER else None


def is_dags_test(dag_run) -> bool:
    return (getattr(dag_run, "triggering_user_name", None) or "") == DAGS_TEST_USER


def run_identity(dag_run) -> tuple[str | None, str]:
    """Who started ``dag_run`` and through which channel, as recorded in the audit log:

    * an authenticated Airflow user (UI or REST API): ``(user, "airflow-ui")``;
    * ``airflow dags test`` (a shell on the Airflow host, e.g. CI or ``make demo``): ``(os user,
      "cli:airflow-dags-test:<os user>")`` — the same trust and the same record as the ``airsage`` CLI, so an
      auditor can tell it from a decision taken in the UI;
    * a scheduled or asset-triggered run: ``(None, "airflow-schedule")``.
    """
    user = triggering_user(dag_run)
    if user:
        return user, SOURCE_UI
    if is_dags_test(dag_run):
        import getpass

        os_user = getpass.getuser()
        return os_user, f"cli:airflow-dags-test:{os_user}"
    return None, SOURCE_SCHEDULE


# ---------------------------------------------------------------------------------------- who may answer
def auth_manager_users() -> dict[str, str] | None:
    """``{user: role}`` of Airflow's simple auth manager; None when another auth manager is configured."""
    from airflow.sdk.configuration import conf

    manager = conf.get("core", "auth_manager", fallback="") or ""
    if manager and not manager.endswith("SimpleAuthManager"):
        return None
    users: dict[str, str] = {}
    for item in (conf.get("core", "simple_auth_manager_users", fallback="") or "").split(","):
        parts = item.strip().split(":")
        if len(parts) >= 2 and parts[0]:
            users[parts[0]] = parts[1]
    return users


_CONFIGURED: Any = object()  # "ask Airflow's configuration" (None means: not the simple auth manager)


def resolve(entries: Iterable[str], *, users: Mapping[str, str] | None = _CONFIGURED,
            exclude: Iterable[str | None] = ()) -> list[str]:
    """The user names an access list means: names as given, ``role:<Role>`` as every user with that role
    (case-insensitive), minus ``exclude``; sorted, unique. ``users``: ``{user: role}`` (default: the simple
    auth manager's); without it, role entries resolve to nobody (logged)."""
    users = auth_manager_users() if users is _CONFIGURED else users
    out: set[str] = set()
    for entry in entries:
        if entry.startswith(ROLE_PREFIX):
            role = entry[len(ROLE_PREFIX):].lower()
            if users is None:
                log.warning("Cannot resolve %r: the auth manager is not the simple one; list user names.", entry)
                continue
            out.update(u for u, r in users.items() if r.lower() == role)
        else:
            out.add(entry)
    excluded = {e for e in exclude if e}
    return sorted(out - excluded)


def respondents(entries: Sequence[str], *, what: str, key: str, exclude: Iterable[str | None] = (),
                users: Mapping[str, str] | None = _CONFIGURED) -> list[dict[str, str]]:
    """``assigned_users`` for an ``HITLOperator``: the users ``entries`` resolve to (``HITLUser`` dicts; with
    the simple auth manager a user's id is its name). Raises ``AirflowFailException`` when nobody is left:
    a request without assigned users could be answered by anyone."""
    exclude = [e for e in exclude if e]
    names = resolve(entries, users=users, exclude=exclude)
    if not names:
        why = f" (after excluding {', '.join(exclude)}: four eyes)" if exclude else ""
        raise AirflowFailException(f"nobody may {what}: {key} = {list(entries)} names no Airflow user{why}.\n"
                                   f"Fix: add an Airflow user (or role:<Role>) to {key} in the use case file.")
    return [{"id": n, "name": n} for n in names]


def require_user(user: str | None, entries: Sequence[str], *, what: str, key: str,
                 users: Mapping[str, str] | None = _CONFIGURED) -> str:
    """The triggering ``user`` if ``entries`` allow them to ``what``; else ``AirflowFailException``."""
    if not user:
        raise AirflowFailException(f"only a named Airflow user may {what}, and this run has no triggering user.\n"
                                   "Fix: trigger the DAG from the Airflow UI or REST API as one of "
                                   f"{key} = {list(entries)}.")
    allowed = resolve(entries, users=users)
    if user not in allowed:
        raise AirflowFailException(f"{user} may not {what}: {key} = {list(entries)} ({', '.join(allowed) or 'nobody'}).\n"
                                   f"Fix: ask one of them to trigger it, or add {user} to {key} in the use case file.")
    return user


def require_decider(dag_run, entries: Sequence[str], *, what: str, key: str,
                    users: Mapping[str, str] | None = _CONFIGURED) -> tuple[str, str]:
    """``(actor, source)`` of the person who triggered a decision run (see :func:`run_identity`).

    An authenticated Airflow user must be in ``entries`` (else ``AirflowFailException``). ``airflow dags
    test`` runs on the Airflow host's shell, which can change the registry directly anyway: it is accepted
    like the ``airsage`` CLI and recorded as ``cli:airflow-dags-test:<os user>``. A scheduled run has no
    person and is refused."""
    user, source = run_identity(dag_run)
    if is_dags_test(dag_run):
        log.info("airflow dags test: the decision is recorded as %s (%s), like the airsage CLI", user, source)
        return str(user), source
    return require_user(user, entries, what=what, key=key, users=users), source


# ---------------------------------------------------------------------------------------- the operator
class DecisionOperator(HITLOperator):
    """An ``HITLOperator`` for decisions people are accountable for.

    * ``respondents``: an access list (user names, ``role:<Role>``), resolved to ``assigned_users`` when the
      task runs; ``excluded_user`` (templated, e.g. ``{{ dag_run.triggering_user_name }}``) is left out —
      four eyes. Nobody left fails the task (an unassigned request is open to anyone).
    * ``on_answer(context, answer)``: called with the parsed answer by the task that received it (e.g. to
      record a review decision at once); an ``AirsageError`` it raises fails the task permanently.
    * ``comment_field`` / ``comment_required_for``: the options whose answer needs a comment of at least
      ``comment_min_length`` characters. An answer that lacks it is refused: logged, the request is written
      again (Airflow clears the refused response) and the task waits for a new answer. A form can only
      require a field for every option, so "an override needs a comment" is checked here.
    """

    template_fields: Sequence[str] = (*HITLOperator.template_fields, "excluded_user")

    def __init__(self, *, respondents: Sequence[str], respondents_key: str, excluded_user: str | None = None,
                 comment_field: str = "comment", comment_required_for: Sequence[str] = (),
                 comment_min_length: int = 3, required_fields: Sequence[str] = (),
                 on_answer: Callable[[Any, HumanAnswer], Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_answer = on_answer
        self.required_fields = list(required_fields)
        self.respondents = list(respondents)
        self.respondents_key = respondents_key
        self.excluded_user = excluded_user
        self.comment_field = comment_field
        self.comment_required_for = list(comment_required_for)
        self.comment_min_length = comment_min_length

    @property
    def serialized_params(self) -> dict[str, dict[str, Any]]:
        """The request's form as Airflow's UI gets it: ``required_fields`` without "null" in their type, so the
        form will not send them empty. (The Params stay nullable: Airflow validates a task's params with their
        defaults when the task starts, before anyone answered.)"""
        out = dict(super().serialized_params)
        for name in self.required_fields:
            if name in out:
                field_spec = dict(out[name])
                schema = dict(field_spec.get("schema") or {})
                types = schema.get("type")
                if isinstance(types, list):
                    rest = [t for t in types if t != "null"]
                    schema["type"] = rest[0] if len(rest) == 1 else rest
                field_spec["schema"] = schema
                out[name] = field_spec
        return out

    def execute(self, context):
        excluded = None if self.excluded_user in (None, "", "None") else str(self.excluded_user)
        self.assigned_users = respondents(self.respondents, what=f"answer {self.task_id}", key=self.respondents_key,
                                          exclude=[excluded])
        self.log.info("Assigned to %s%s", ", ".join(u["name"] for u in self.assigned_users),
                      f" (not {excluded}: four eyes)" if excluded else "")
        return super().execute(context)

    def refusal(self, event: Mapping[str, Any]) -> str | None:
        """Why an answer cannot count (None: it counts): a form value its schema refuses (e.g. a comment below
        ``minLength``, which the UI's form does not check), or a missing comment an option requires."""
        params_input = event.get("params_input") or {}
        for key, value in params_input.items():
            if key in self.params:
                try:
                    copy.copy(self.params.get_param(key)).resolve(value=value)
                except ParamValidationError as exc:
                    return f"{key}: {exc}"
        chosen = list(event.get("chosen_options") or [])
        if any(option in self.comment_required_for for option in chosen):
            text = str((event.get("params_input") or {}).get(self.comment_field) or "").strip()
            if len(text) < self.comment_min_length:
                return (f"{'/'.join(chosen)} needs a comment of at least {self.comment_min_length} characters "
                        f"(got {len(text)})")
        return None

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        if "error" not in event:
            problem = self.refusal(event)
            if problem:
                who = (event.get("responded_by_user") or {}).get("name")
                self.log.warning("Answer by %s refused: %s. The request is open again.", who, problem)
                return self.execute(context)  # re-writes the request (clearing the answer) and waits again
        result = super().execute_complete(context, event)
        if self.on_answer is not None and result:
            # recorded by the task that received the answer, the moment it arrives (not at the end of the run)
            answer = parse_answer({**event, **(result if isinstance(result, Mapping) else {})}, options=self.options)
            if answer is not None:
                from airsage_airflow.errors import airsage_errors

                with airsage_errors():
                    self.on_answer(context, answer)
        return result


__all__ = ["DecisionOperator", "HumanAnswer", "SOURCE_SCHEDULE", "SOURCE_UI", "auth_manager_users", "is_dags_test",
           "parse_answer", "require_decider", "require_user", "resolve", "respondents", "run_identity",
           "triggering_user"]
