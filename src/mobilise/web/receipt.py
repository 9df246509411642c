"""The acceptable-use policy receipt as a document (HTML) and as a PDF, printed by the same
headless Chromium that prints the board report."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from mobilise.core.settings import Settings
from mobilise.web.board_report import document_styles
from mobilise.web.chromium import print_pdf
from mobilise.web.pages.render import TEMPLATES


def receipt_document(receipt: dict[str, Any], organisation: str) -> str:
    return TEMPLATES.get_template("policy_receipt_document.html").render(
        receipt=receipt, organisation=organisation, style=document_styles())


def receipt_pdf(settings: Settings, receipt: dict[str, Any]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        pdf = print_pdf(settings, receipt_document(receipt, settings.organisation),
                        Path(tmp) / "receipt.pdf")
        return pdf.read_bytes()
