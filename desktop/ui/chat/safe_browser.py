"""A text browser that renders Markdown from the model or the documents safely: raw HTML
in the text is not interpreted, no image or other resource is ever loaded (local or
remote), and links are not followed; only the app's own ``cite:`` and ``open:`` anchors
mean anything, and they are handled by whoever listens to ``anchorClicked``."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QTextBrowser, QWidget

MARKDOWN_FEATURES = (
    QTextDocument.MarkdownFeature.MarkdownDialectGitHub
    | QTextDocument.MarkdownFeature.MarkdownNoHTML
)
_CITATION = re.compile(r"\[(\d{1,3})\](?!\()")


def link_citations(markdown: str) -> str:
    """[n] becomes a link to source n (cite:n)."""
    return _CITATION.sub(lambda m: f"[[{m.group(1)}]](cite:{m.group(1)})", markdown)


class SafeBrowser(QTextBrowser):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.blocked_resources: list[str] = []

    def loadResource(self, kind: int, url: QUrl | str) -> Any:
        self.blocked_resources.append(url.toString() if isinstance(url, QUrl) else str(url))
        return None

    def set_answer_markdown(self, markdown: str) -> None:
        self.document().setMarkdown(link_citations(markdown), MARKDOWN_FEATURES)
