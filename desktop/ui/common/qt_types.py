"""Qt's Python types made ahead of need, on a worker.

PySide6 creates the Python type of a Qt class (and every enum it holds) the first time the
class is used, about a quarter of a millisecond each; and the first call that returns a
widget of an abstract class (a scroll area's ``viewport()``) makes it create every known
subclass at once. Building the first tab paid ~15-30 ms of that on the GUI thread, a
stall the user feels; made here first, on the worker that imports the tabs' modules
(pure Python under the GIL, so the window keeps ticking), the build does not pay it."""

from __future__ import annotations


def create_widget_types() -> int:
    """Every QtWidgets type; how many there are."""
    from PySide6 import QtWidgets

    names = dir(QtWidgets)
    for name in names:
        getattr(QtWidgets, name)
    return len(names)
