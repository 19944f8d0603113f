"""Model cards generated per registered version (SageMaker model card layout, JSON + self-contained HTML),
and the approver's summary.

    from airsage.cards import build_model_card, render_model_card_html
    card = build_model_card(reg, "credit_risk", "3", uc)
    reg.attach_model_card("credit_risk", "3", card, render_model_card_html(card))

Cards read the registry they are given (``reg``); they never import it (layer rule).
"""
from airsage.cards.html import render_model_card_html
from airsage.cards.model_card import CONTENT_KEYS, build_model_card, sagemaker_content
from airsage.cards.summary import approval_summary_markdown

__all__ = ["CONTENT_KEYS", "approval_summary_markdown", "build_model_card", "render_model_card_html",
           "sagemaker_content"]
