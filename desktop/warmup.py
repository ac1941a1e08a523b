"""Work the app does once, right after the window first paints, so that it does not
happen later at a worse moment: importing the SDK (~0.7 s) and building the tokenizers.
tiktoken builds an encoding in native code that holds the GIL for ~0.1 s; done in the
middle of a streamed answer, that would freeze the window that long."""

from __future__ import annotations

import logging

from desktop.context import AppContext

log = logging.getLogger(__name__)


def warm_up(context: AppContext) -> None:
    import openai  # noqa: F401

    from desktop.tokens import encoding_for_model, get_tokenizer

    for model in (context.settings.chat_model, context.settings.embedding_model):
        get_tokenizer(encoding_for_model(model)).count("warm up")
    log.info("Warm-up done")
