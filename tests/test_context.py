"""The app context under the window's start-up: several workers ask for the workspace and
the front doors at once; the workspace is created and migrated once."""

from __future__ import annotations

import threading
from pathlib import Path

from desktop.context import AppContext


def test_workers_asking_together_open_one_workspace(tmp_path: Path) -> None:
    context = AppContext.create(data_dir=str(tmp_path / "data"))
    start = threading.Barrier(6)
    workspaces: list[object] = []
    services: list[object] = []
    errors: list[BaseException] = []

    def ask() -> None:
        start.wait()
        try:
            workspaces.append(context.workspace)
            services.append(context.retrieval())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    context.close()
    assert errors == []
    assert len({id(w) for w in workspaces}) == 1
    assert len({id(s) for s in services}) == 1
