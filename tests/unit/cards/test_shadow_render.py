"""Shadow evidence rendered for people: the approval summary's Markdown, the model card's JSON and HTML,
read from the ShadowSummary at layout.shadow_summary (fixture: test_shadow_fixture.summary_fixture)."""
from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from test_shadow_fixture import summary_fixture

from airsage import layout, storage
from airsage.cards import approval_summary_markdown, build_model_card, render_model_card_html, sagemaker_content
from airsage.cards.shadow import load_shadow, shadow_section
from airsage.errors import StorageError
from airsage.registry.types import RegisteredVersion


def version(n, status="PendingManualApproval", aliases=()):
    return RegisteredVersion(name="credit_risk", version=str(n), status=status, aliases=list(aliases),
                             run_id=f"run{n}", tags={"registered_by": "airflow", "dataset_version": "ds-1"},
                             metrics={"auc": 0.8}, created_at="2026-11-01T00:00:00+00:00")


class FakeRegistry:
    """What the summary and the card read of a registry: v1 champion, v2 pending."""

    def __init__(self):
        self.versions = {"1": version(1, "Approved", ["champion"]), "2": version(2)}

    def get_version(self, name, v):
        return self.versions[str(v)]

    def champion(self, name):
        return self.versions["1"]

    def mlflow_version_url(self, name, v):
        return None

    def version_documents(self, name, v):
        return {"metrics": {"algorithm": "xgboost", "evaluation": {"auc": 0.8, "n": 400, "threshold": 0.5}}}

    def audit_events(self, name):
        return []


def _uc(tmp_path, *, enabled=True, gate=False):
    from airsage.config import get_usecase

    base = get_usecase("credit_risk")
    shadow = base.shadow.model_copy(update={"enabled": enabled,
                                            "gate": base.shadow.gate.model_copy(update={"enabled": gate})})
    return base.model_copy(update={"data": base.data.model_copy(update={"root": str(tmp_path / "data")}),
                                   "shadow": shadow})


@pytest.fixture
def uc(tmp_path):
    return _uc(tmp_path)


def write(uc, doc, v="2"):
    storage.write_json(layout.shadow_summary(uc, v), doc)


# ---------------------------------------------------------------------- reading
def test_load_shadow_reads_the_summary_or_none(uc):
    assert load_shadow(uc, "2") is None
    write(uc, summary_fixture())
    assert load_shadow(uc, "2")["challenger_version"] == "2"
    storage.write_text(layout.shadow_summary(uc, "3"), "{not json")
    with pytest.raises(StorageError) as bad:
        load_shadow(uc, "3")
    assert bad.value.fix
    section = shadow_section(uc, "3")  # the pages and cards still render, saying why
    assert section["exists"] is False and "could not be read" in section["message"]


def test_section_facts_are_json_safe_and_name_the_labels(uc):
    s = shadow_section(uc, "2", summary_fixture())
    json.dumps(s, allow_nan=False)
    assert (s["positive_name"], s["negative_name"]) == ("default", "no default")
    assert s["champion_versions"] == ["1"] and s["partitions"] == 3
    assert s["flips"]["to_positive_rate"] == pytest.approx(0.024)
    assert s["flips"]["to_negative_rate"] == pytest.approx(0.014)
    assert s["worst_group"] == {"facet": "age_group", "value": "18-25", "flip_rate": 0.0571, "rows": 2100,
                                "in_facet_group": True}
    sex = next(b for b in s["bias"] if b["facet"] == "sex")
    assert sex["challenger"]["DI"] == "Infinity" and sex["change"]["DI"] == "NaN"
    assert s["quality"]["ci95"] == [-0.0078, 0.0354] and s["gate"]["passed"] is False
    assert [h["partition"] for h in s["history"]] == ["2026-11-18", "2026-11-19", "2026-11-20"]


# ---------------------------------------------------------------------- the approval summary
def test_approval_summary_shows_the_shadow_evidence(uc):
    write(uc, summary_fixture())
    md = approval_summary_markdown(uc, "2", FakeRegistry())
    section = md.split("#### Shadow scoring on production partitions", 1)[1]
    assert "on **3** partition(s) (2026-11-18 … 2026-11-20), 15,000 rows; shadow status: active" in section
    assert "Agreement: **96.2%**" in section
    assert "570 (3.8%): 360 to *default* (2.4%), 210 to *no default* (1.4%)" in section
    assert "Worst facet group: age_group=18-25 (d), flip rate **5.7%** (2,100 rows)" in section
    assert "| age_group=18-25 (d) | 2,100 | 5.7% | 8.6% → 10.0% |" in section
    assert "| sex (female) | 0.0062 → 0.0094 | +0.0032 | 0.926 → ∞ | – |" in section
    assert "mean score 0.0812 → 0.0915; PSI 0.0123" in section
    assert ("AUC champion 0.7812 vs challenger 0.7950, delta **+0.0138** (paired DeLong p = 0.211, "
            "95% CI -0.0078 … +0.0354)") in section
    assert "**Shadow gate: not passed** — flip rate in age_group=18-25 is 5.71%" in section
    assert "male &lt;b&gt;\\|x" in section and "<b>" not in section  # no raw HTML, no broken table
    assert md.index("Shadow scoring") < md.index("Intended use")


def test_unlabelled_outcomes_stopped_status_and_a_passed_gate(uc):
    doc = summary_fixture(status="stopped", stopped_reason="approved by alice on 2026-11-22",
                          quality={"labelled_rows": 12, "positives": 0, "champion": None, "challenger": None,
                                   "auc_delta": None, "delong": None, "status": "insufficient"},
                          gate={"enabled": True, "passed": True, "reasons": [], "checked_at": "2026-11-21T03:10:00Z"})
    md = approval_summary_markdown(uc, "2", FakeRegistry(), shadow=doc)
    assert "shadow status: stopped (approved by alice on 2026-11-22)" in md
    assert "outcomes not labelled yet (only 12 labelled rows" in md and "DeLong" not in md
    assert "**Shadow gate: passed** (checked 2026-11-21T03:10:00Z)." in md
    no_gate = approval_summary_markdown(uc, "2", FakeRegistry(), shadow=summary_fixture(gate={"enabled": False}))
    assert "Shadow gate" not in no_gate


def test_no_summary_yet_says_what_it_means_and_disabled_says_nothing(tmp_path):
    pending = approval_summary_markdown(_uc(tmp_path, gate=True), "2", FakeRegistry())
    assert "No shadow partition scored yet" in pending and "without evidence from production traffic" in pending
    assert "the shadow gate needs 3 scored partition(s) first" in pending
    off = approval_summary_markdown(_uc(tmp_path, enabled=False), "2", FakeRegistry())
    assert "Shadow" not in off and "shadow" not in off


# ---------------------------------------------------------------------- the model card
class _Checker(HTMLParser):
    VOID = {"meta", "br", "img", "hr", "input", "link", "area", "base", "col", "embed", "source", "track", "wbr"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unbalanced </{tag}>")
        else:
            self.stack.pop()


def test_model_card_json_carries_the_shadow_evidence(uc):
    write(uc, summary_fixture())
    card = build_model_card(FakeRegistry(), "credit_risk", "2", uc)
    shadow = card["airsage"]["shadow"]
    assert shadow["exists"] and shadow["status"] == "active" and len(shadow["history"]) == 3
    json.dumps(card, allow_nan=False)
    ev = next(e for e in card["evaluation_details"] if e["name"] == "shadow scoring (production partitions)")
    groups = {g["name"]: g for g in ev["metric_groups"]}
    agreement = {m["name"]: m["value"] for m in groups["shadow_agreement"]["metric_data"]}
    assert agreement["agreement_rate"] == 0.962 and agreement["max_group_flip_rate"] == 0.0571
    bars = groups["shadow_group_flip_rates"]["metric_data"][0]
    assert bars["type"] == "bar_chart" and "age_group=18-25 (d)" in bars["x_axis_name"]
    quality = {m["name"]: m["value"] for m in groups["shadow_paired_quality"]["metric_data"]}
    assert quality["auc_delta"] == 0.0138 and quality["delong_p_value"] == 0.2113
    json.dumps(sagemaker_content(card), allow_nan=False)  # what CreateModelCard takes: strict JSON
    assert "shadow" not in sagemaker_content(card)


def test_model_card_html_has_a_shadow_evidence_section(uc):
    write(uc, summary_fixture(status="stopped", stopped_reason="rejected by <i>bob</i>"))
    page = render_model_card_html(build_model_card(FakeRegistry(), "credit_risk", "2", uc))
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    section = page.split("<h2>Shadow evidence</h2>", 1)[1].split("<h2>", 1)[0]
    assert "stopped (rejected by &lt;i&gt;bob&lt;/i&gt;)" in section and "<i>bob" not in section
    assert "96.2% (14,430 rows)" in section and "not passed: flip rate in age_group=18-25" in section
    assert 'aria-label="flip rates by shadow partition"' in section and ">2026-11-18<" in section
    assert section.count("<tr><td>2026-11-") == 3  # the history table, one row per partition
    assert "male &lt;b&gt;|x" in section and "<b>|x" not in section
    assert "delta <strong>+0.0138</strong>" in section
    assert page.count("shadow scoring (production partitions)") == 0  # not repeated in the evaluation list


def test_model_card_without_a_summary(tmp_path):
    card = build_model_card(FakeRegistry(), "credit_risk", "2", _uc(tmp_path))
    assert card["airsage"]["shadow"]["exists"] is False
    assert [e["name"] for e in card["evaluation_details"]] == ["held-out test split"]
    page = render_model_card_html(card)
    assert "No shadow partition scored yet" in page.split("<h2>Shadow evidence</h2>", 1)[1]


def test_a_malformed_summary_is_reported_not_raised(uc):
    s = shadow_section(uc, "2", summary_fixture(history=["not a partition"]))
    assert s["exists"] is False and "could not be read" in s["message"]
    assert "could not be read" in approval_summary_markdown(uc, "2", FakeRegistry(), shadow=summary_fixture(groups=[1]))
