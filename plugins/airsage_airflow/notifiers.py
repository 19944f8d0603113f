"""Monitoring alerts through Airflow notifiers, one per channel named in ``uc.monitor.notifiers``.

==========  =====================================================  ==================================
channel     notifier                                               settings (``monitor.*``)
==========  =====================================================  ==================================
``log``     ``LogNotifier`` (below): the task log, WARNING level   none
``email``   the smtp provider's ``SmtpNotifier``                   ``smtp_conn_id``, ``email_to``,
                                                                   ``email_from``
``slack``   the slack provider's ``SlackWebhookNotifier``          ``slack_conn_id`` (incoming webhook)
``sns``     the amazon provider's ``SnsNotifier``                  ``sns_conn_id``, ``sns_topic_arn``,
                                                                   ``sns_region``
==========  =====================================================  ==================================

Credentials live in the Airflow connections, never in the use-case file. A channel whose provider is
not installed is a ``ConfigError`` naming the package to install (or the channel to remove).
``send_alert`` tries every channel before it fails, so one broken channel does not silence the others.
Provider modules are imported when an alert is built, never when a DAG file is parsed.
"""
from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseNotifier

from airsage.config import UseCase
from airsage.errors import AirsageError, ConfigError, TransientError

ALERT_LOGGER = "airsage.monitor.alerts"
PROVIDERS = {
    "email": ("airflow.providers.smtp.notifications.smtp", "SmtpNotifier", "apache-airflow-providers-smtp"),
    "slack": ("airflow.providers.slack.notifications.slack_webhook", "SlackWebhookNotifier",
              "apache-airflow-providers-slack"),
    "sns": ("airflow.providers.amazon.aws.notifications.sns", "SnsNotifier", "apache-airflow-providers-amazon"),
}
SNS_SUBJECT_MAX = 100


class LogNotifier(BaseNotifier):
    """Writes the alert to the ``airsage.monitor.alerts`` logger (the task log): the channel that needs
    no connection, and the record in the log of every alert sent elsewhere."""

    template_fields = ()  # the text is final: alert text may hold braces that Jinja would mangle

    def __init__(self, *, subject: str, message: str, level: int = logging.WARNING, **kwargs):
        super().__init__(**kwargs)
        self.subject = subject
        self.message = message
        self.level = level

    def notify(self, context) -> None:
        logging.getLogger(ALERT_LOGGER).log(self.level, "%s\n%s", self.subject, self.message)


def _literal(text: str) -> str:
    """Text that Jinja renders to itself (provider notifiers template their message fields)."""
    return "{% raw %}" + text.replace("{% endraw %}", "") + "{% endraw %}"


def _provider_class(channel: str, uc: UseCase):
    import importlib

    module, name, package = PROVIDERS[channel]
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:
        raise ConfigError(f"monitor.notifiers lists {channel!r} but {package} is not installed", source=uc.source,
                          key="monitor.notifiers",
                          fix=f"Install it (pip install {package}, and pin it in requirements.txt) and create the "
                              f"Airflow connection it uses, or remove {channel!r} from monitor.notifiers.") from None


def sns_subject(subject: str) -> str:
    """SNS subjects: at most 100 printable ASCII characters, no line breaks."""
    ascii_only = "".join(c if 32 <= ord(c) < 127 else "?" for c in subject.replace("\n", " "))
    return ascii_only[:SNS_SUBJECT_MAX]


def build_notifiers(uc: UseCase, *, subject: str, text: str, html: str | None = None) -> dict[str, BaseNotifier]:
    """channel -> a notifier carrying this alert, for every channel of ``uc.monitor.notifiers``."""
    m = uc.monitor
    out: dict[str, BaseNotifier] = {}
    for channel in m.notifiers:
        if channel == "log":
            out[channel] = LogNotifier(subject=subject, message=text)
        elif channel == "email":
            cls = _provider_class(channel, uc)
            out[channel] = cls(to=list(m.email_to), from_email=m.email_from, subject=_literal(subject),
                               html_content=_literal(html or f"<pre>{text}</pre>"), smtp_conn_id=m.smtp_conn_id)
        elif channel == "slack":
            cls = _provider_class(channel, uc)
            out[channel] = cls(slack_webhook_conn_id=m.slack_conn_id, text=_literal(f"*{subject}*\n{text}"))
        elif channel == "sns":
            cls = _provider_class(channel, uc)
            out[channel] = cls(aws_conn_id=m.sns_conn_id, target_arn=m.sns_topic_arn, message=_literal(text),
                               subject=_literal(sns_subject(subject)), region_name=m.sns_region)
        else:  # MonitorSpec's Literal makes this unreachable for validated use cases
            raise ConfigError(f"unknown notifier {channel!r}", source=uc.source, key="monitor.notifiers",
                              fix="Use log, email, slack or sns.")
    return out


def send_alert(uc: UseCase, runs: list[dict[str, Any]], context: Any) -> dict[str, Any]:
    """Send the alert about ``runs`` (monitoring summaries) to every configured channel.

    Every channel is tried; then a ``ConfigError`` (missing provider) fails the task for good, any other
    failure is a ``TransientError`` for the task's retries. Returns ``{"sent": [...], "subject": ...,
    "monitors": [...]}`` (the monitors that alerted: data quality, data / prediction drift, model quality,
    bias drift, feature attribution drift)."""
    from airsage.lifecycle.monitoring_alert import alert_kinds, format_alert

    message = format_alert(uc, runs)
    notifiers = build_notifiers(uc, subject=message["subject"], text=message["text"], html=message["html"])
    sent, failed = [], {}
    for channel, notifier in notifiers.items():
        try:
            notifier(context)
            sent.append(channel)
        except Exception as exc:  # noqa: BLE001 - try every channel, report them all
            logging.getLogger(ALERT_LOGGER).error("alert via %s failed: %s", channel, exc)
            failed[channel] = f"{type(exc).__name__}: {exc}"
    if failed:
        detail = "; ".join(f"{c}: {e}" for c, e in failed.items())
        raise TransientError(f"the alert could not be sent via {sorted(failed)} (sent via {sent or 'none'}): {detail}",
                             fix="Check the Airflow connection(s) named in the use case's monitor section "
                                 "(smtp_conn_id / slack_conn_id / sns_conn_id) and the recipients; the task retries.")
    kinds = list(dict.fromkeys(k for r in runs if r.get("alert") for k in alert_kinds(r)))
    return {"sent": sent, "subject": message["subject"], "monitors": kinds}


__all__ = ["ALERT_LOGGER", "AirsageError", "LogNotifier", "build_notifiers", "send_alert", "sns_subject"]
