"""Work the app does once, right after the window first paints, so that it does not
happen later at a worse moment: importing the SDK (~0.7 s, pure Python: the window keeps
ticking meanwhile).

Not here, on purpose: building tiktoken's encodings. That is one native call holding the
GIL for ~0.1-0.3 s, which would freeze the window just after it appeared; it is done when
a tokenizer is first needed instead, on the worker that needs it (the first import or the
first question), where the short wait follows the user's own click. It always happens
before an answer streams, never in the middle of one (the prompt is counted first)."""

from __future__ import annotations

import logging

from desktop.context import AppContext

log = logging.getLogger(__name__)


def warm_up(context: AppContext) -> None:
    from desktop.providers.client import load_sdk

    load_sdk()
    log.info("Warm-up done")
