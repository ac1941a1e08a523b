"""From an answer in the Chat tab to an editable training example in the Fine-tuning tab,
through the real main window."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from desktop.app import build_main_window
from desktop.chat.prompt import PLAIN_SYSTEM_PROMPT
from desktop.context import AppContext
from desktop.finetune.store import DatasetStore
from desktop.retrieval.service import RetrievalService
from desktop.warmup import warm_up
from desktop.workers import TaskManager
from tests.helpers.fake_openai import FakeOpenAI


def test_save_as_training_example_opens_it_in_the_dataset_builder(
    qtbot: QtBot,
    chat_context: AppContext,
    retrieval: RetrievalService,
    tasks: TaskManager,
    fake_openai: FakeOpenAI,
) -> None:
    warm_up(chat_context)
    window = build_main_window(chat_context, tasks)
    qtbot.addWidget(window)
    window.show()
    window.select_tab("Chat")
    chat = window.chat_tab
    fake_openai.chat_reply = "Refunds arrive within 14 days [1]."
    chat.input.setPlainText("When do I get my money back?")
    chat.ask()
    qtbot.waitUntil(lambda: chat.active is None, timeout=20_000)
    card = chat.view.cards[-1]
    assert card.save_button.isEnabled()
    card.save_button.click()
    qtbot.waitUntil(
        lambda: window.tabs.tabText(window.tabs.currentIndex()) == "Fine-tuning", timeout=5000
    )

    def saved() -> list:
        store = DatasetStore(chat_context.workspace)
        dataset = store.dataset_by_name("Saved answers")
        return store.examples(dataset.id) if dataset else []

    qtbot.waitUntil(lambda: len(saved()) == 1, timeout=5000)
    example = saved()[0]
    # Saved without its sources (the default), it points at none: no [1], and the system
    # prompt no longer says to answer from the numbered sources.
    assert example.question == "When do I get my money back?"
    assert example.answer == "Refunds arrive within 14 days."
    assert example.system_prompt == PLAIN_SYSTEM_PROMPT
    # Kept, the user turn is the one the model was sent, in the chat prompt's layout.
    builder = window.finetune_tab.builder
    qtbot.waitUntil(lambda: builder.editor.origin_box.isVisible(), timeout=5000)
    builder.editor.keep_context.setChecked(True)
    sent = card.data["prompt"]["messages"]
    qtbot.waitUntil(lambda: saved()[0].answer == "Refunds arrive within 14 days [1].")
    kept = saved()[0]
    assert kept.question == sent[-1]["content"]
    assert kept.question.startswith('Sources:\n<source id="1"')
    assert kept.system_prompt == sent[0]["content"]
