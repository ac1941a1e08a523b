"""Issue 15, point 13: two processes creating the same new workspace at once. Creation
and migration are serialized: the second waits and finds the schema made, instead of
failing with "table meta already exists"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from desktop.workspace import Workspace
from desktop.workspace.schema import LATEST_VERSION
from tests.test_cli import ROOT

# Each process says it is ready, waits for the other, then opens the workspace: the
# file barrier lines both up at the moment that matters, without timing assumptions.
OPEN_TOGETHER = """
import sys, time
from pathlib import Path
from desktop.workspace import Workspace

path, me, other = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
me.touch()
deadline = time.monotonic() + 60
while not other.exists():
    if time.monotonic() > deadline:
        sys.exit("the other process never came")
    time.sleep(0.001)
with Workspace(path) as workspace:
    workspace.set_meta(me.name, "here")
print(workspace.path.name)
"""


def test_two_processes_create_the_same_workspace(tmp_path: Path) -> None:
    for round_number in range(20):  # the race shows in about one round in thirty
        folder = tmp_path / f"round{round_number}"
        folder.mkdir()
        path = folder / "shared.ragtune.sqlite"
        first, second = folder / "first", folder / "second"
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_TOGETHER, str(path), str(me), str(other)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for me, other in ((first, second), (second, first))
        ]
        results = [p.communicate(timeout=120) for p in processes]
        for process, (out, err) in zip(processes, results, strict=True):
            assert process.returncode == 0, err
            assert out.strip() == "shared.ragtune.sqlite"
        with Workspace(path) as workspace:
            assert workspace.schema_version == LATEST_VERSION
            assert workspace.get_meta("first") == workspace.get_meta("second") == "here"
            rows = workspace.connection().execute(
                "SELECT count(*) FROM meta WHERE key = 'created_at'"
            )
            assert rows.fetchone()[0] == 1
