"""The openai SDK is imported once, lazily, without the garbage collector scanning what
it made for the rest of the process (a ``ragtune search`` with the provider's embedder
spent ~0.2 s on that, most of it in the full collection at exit)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, sys
{before}
from desktop.providers.client import load_sdk
assert "openai" not in sys.modules, "imported before it was needed"
frozen = gc.get_freeze_count()
sdk = load_sdk()
made = gc.get_freeze_count() - frozen
print(sdk.__name__, gc.isenabled(), made > 50_000, len(gc.get_objects()) < made // 10)
"""


def probe(before: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(before=before)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_the_sdk_is_loaded_and_left_out_of_later_collections() -> None:
    """What the import made is frozen: the collections left see a small fraction of it."""
    assert probe() == "openai True True True"


def test_a_collector_switched_off_stays_off() -> None:
    assert probe("gc.disable()") == "openai False True True"
