"""Domain events on the GUI thread: front doors publish from workers, views listen here."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal

from desktop.events import EventBus, Topic

log = logging.getLogger(__name__)


class EventRelay(QObject):
    """Forwards a bus's events to the GUI thread and hands each to the views that asked
    for its topic."""

    _incoming = Signal(str, object)
    event = Signal(str, object)  # on the GUI thread, after the views were told

    def __init__(self, bus: EventBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._listeners: list[tuple[str, Callable[[], object], int]] = []
        self._incoming.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = bus.subscribe(lambda topic, detail: self._incoming.emit(topic, detail))
        self.destroyed.connect(lambda *_: self._unsubscribe())

    def on(self, topic: Topic, slot: Callable[[], object], owner: QObject) -> None:
        """Call ``slot()`` on the GUI thread after each ``topic`` event, while ``owner``
        exists."""
        key = id(owner)
        self._listeners.append((str(topic), slot, key))
        owner.destroyed.connect(lambda *_, k=key: self._forget(k))

    def _forget(self, key: int) -> None:
        self._listeners = [entry for entry in self._listeners if entry[2] != key]

    def _dispatch(self, topic: str, detail: object) -> None:
        for wanted, slot, _key in list(self._listeners):
            if wanted == topic:
                try:
                    slot()
                except Exception:
                    log.exception("A view failed to follow a %s change", topic)
        self.event.emit(topic, detail)
