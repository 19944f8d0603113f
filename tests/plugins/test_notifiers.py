"""Alert routing: ``uc.monitor.notifiers`` -> Airflow notifiers with the configured connections."""
from __future__ import annotations

import importlib.util
import json
import logging

import pytest

from airsage.config import get_usecase, parse_usecase
from airsage.errors import ConfigError, TransientError
from airsage_airflow import notifiers as n

TOPIC = "arn:aws:sns:us-east-1:123456789012:airsage-alerts"
RUNS = [{"alert": True, "partition": "2026-11-21", "model_version": "2", "item_count": 800,
         "reasons": ["data drift: 40% of the (uniform-weighted) features drifted {x}"],
         "report_uri": "/data/monitor/runs/dt=2026-11-21/r1/report.html"}]


def usecase(**monitor):
    base = get_usecase("credit_risk")
    return base.model_copy(update={"monitor": base.monitor.model_copy(update=monitor)})


def test_log_channel_writes_the_alert_to_the_task_log(caplog):
    uc = usecase(notifiers=["log"])
    with caplog.at_level(logging.WARNING, logger=n.ALERT_LOGGER):
        out = n.send_alert(uc, RUNS, {})
    assert out["sent"] == ["log"]
    record = next(r for r in caplog.records if r.name == n.ALERT_LOGGER)
    text = record.getMessage()
    assert text.startswith("[airsage] credit_risk: monitoring alert for 2026-11-21 (v2)")
    assert "features drifted {x}" in text and "report.html" in text  # braces survive: no Jinja on the log text


def test_channels_route_to_the_provider_notifiers_with_their_connections():
    uc = usecase(notifiers=["log", "email", "sns"], email_to=["risk@example.com"], smtp_conn_id="smtp_alerts",
                 sns_conn_id="aws_alerts", sns_topic_arn=TOPIC, sns_region="eu-west-1")
    built = n.build_notifiers(uc, subject="Drift ✓ on credit_risk\nsecond line", text="body {{ not a template }}",
                              html="<p>x</p>")
    assert list(built) == ["log", "email", "sns"]
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    email, sns = built["email"], built["sns"]
    assert isinstance(email, SmtpNotifier) and email.smtp_conn_id == "smtp_alerts" and email.to == ["risk@example.com"]
    assert isinstance(sns, SnsNotifier) and sns.aws_conn_id == "aws_alerts" and sns.target_arn == TOPIC
    assert sns.region_name == "eu-west-1"
    # provider notifiers render their fields with Jinja: the alert text goes in verbatim
    sns.render_template_fields({})
    assert sns.message == "body {{ not a template }}"
    assert sns.subject == "Drift ? on credit_risk second line"  # SNS: printable ASCII, one line


def test_a_missing_provider_is_a_config_error_naming_the_package():
    if importlib.util.find_spec("airflow.providers.slack") is not None:
        uc = usecase(notifiers=["slack"], slack_conn_id="slack_alerts")
        assert n.build_notifiers(uc, subject="s", text="t")["slack"].slack_webhook_conn_id == "slack_alerts"
        return
    with pytest.raises(ConfigError) as err:
        n.build_notifiers(usecase(notifiers=["log", "slack"]), subject="s", text="t")
    assert "apache-airflow-providers-slack is not installed" in str(err.value)
    assert "monitor.notifiers" in str(err.value) and "pip install apache-airflow-providers-slack" in str(err.value)


def test_channel_settings_are_validated_when_the_use_case_loads(tmp_path):
    raw = json.loads(get_usecase("credit_risk").model_dump_json(by_alias=True, exclude={"source"}))
    for monitor, message in (({"notifiers": ["email"]}, "email_to is empty"),
                             ({"notifiers": ["sns"]}, "sns_topic_arn is not set"),
                             ({"notifiers": ["log", "log"]}, "lists a channel twice"),
                             ({"notifiers": ["pager"]}, "monitor.notifiers"),
                             ({"sns_topic_arn": "not-an-arn"}, "monitor.sns_topic_arn"),
                             ({"ground_truth_offset_hours": [48, 0]}, "start_h <= end_h")):
        with pytest.raises(ConfigError, match=message):
            parse_usecase({**raw, "monitor": {**raw["monitor"], **monitor}}, "credit_risk.yaml")


def test_every_channel_is_tried_before_the_task_fails(caplog, monkeypatch):
    uc = usecase(notifiers=["sns", "log"], sns_topic_arn=TOPIC)

    class Broken:
        def __call__(self, context):
            raise RuntimeError("SNS is down")

    real = n.build_notifiers
    monkeypatch.setattr(n, "build_notifiers", lambda *a, **k: {**real(*a, **k), "sns": Broken()})
    with caplog.at_level(logging.WARNING, logger=n.ALERT_LOGGER), pytest.raises(TransientError) as err:
        n.send_alert(uc, RUNS, {})
    assert "could not be sent via ['sns'] (sent via ['log'])" in str(err.value) and "SNS is down" in str(err.value)
    assert any("monitoring alert" in r.getMessage() for r in caplog.records)  # the log channel still went out


@pytest.mark.moto
def test_sns_alert_reaches_the_topic(monkeypatch):
    moto = pytest.importorskip("moto")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AIRFLOW_CONN_AWS_ALERTS", json.dumps({"conn_type": "aws", "extra": {"region_name": "us-east-1"}}))
    with moto.mock_aws():
        import boto3

        sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="airsage-alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        uc = usecase(notifiers=["sns"], sns_topic_arn=topic, sns_conn_id="aws_alerts")
        assert n.send_alert(uc, RUNS, {})["sent"] == ["sns"]
        body = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    assert body["Subject"] == "[airsage] credit_risk: monitoring alert for 2026-11-21 (v2)"
    assert "data drift: 40%" in body["Message"] and "report.html" in body["Message"]
