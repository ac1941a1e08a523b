"""The words marked in a retrieved chunk are the ones the search matched on."""

from __future__ import annotations

from desktop.ui.chat.highlight import highlighted_html, query_terms


def test_question_words_are_not_marked_and_document_text_is_escaped() -> None:
    assert query_terms("How long do I have to return a device?") == {"long", "return", "device"}
    shown = highlighted_html("Return it <b>if</b> you have the device.", "Can I return it?")
    assert "<span style='background:#fff176'>Return</span>" in shown
    assert "&lt;b&gt;if&lt;/b&gt; you have" in shown  # "have" unmarked, markup escaped
