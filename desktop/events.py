"""What changed in the workspace, said once by the front door that changed it, heard by
every view that shows it. Qt-free: the window relays events onto the GUI thread
(``desktop.ui.common.events``); the command line simply has no listeners."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import StrEnum

log = logging.getLogger(__name__)


class Topic(StrEnum):
    LIBRARY = "library"  # documents or chunks added, changed, removed, re-chunked
    INDEX = "index"  # vectors added (an index run ended)
    DATASETS = "datasets"  # fine-tuning datasets or their examples
    JOBS = "jobs"  # fine-tuning jobs created, synced, cancelled
    SETTINGS = "settings"  # preferences saved
    EVALUATION = "evaluation"  # eval sets or runs
    DECISION = "decision"  # the Decide tab's answers


Listener = Callable[[Topic, object], object]


class EventBus:
    """Listeners are called on the publisher's thread, in the order they subscribed; a
    listener that fails is logged and the others still hear the event."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, topic: Topic, detail: object = None) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(topic, detail)
            except Exception:
                log.exception("A listener of %s events failed", topic)
