from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.library.service import LibraryService
from desktop.settings import Settings
from desktop.workspace import Workspace
from tests.helpers.documents import make_docx, make_html, make_pdf


@pytest.fixture
def service(tmp_path: Path) -> Iterator[LibraryService]:
    workspace = Workspace(tmp_path / "library.ragtune.sqlite")
    yield LibraryService(workspace, Settings())
    workspace.close()


def write_mixed_folder(folder: Path) -> dict[str, str]:
    """Good files of every format plus broken ones; returns name -> expected outcome."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text(
        "Sync runs every five minutes.\n\nConflicts keep both copies.", encoding="utf-8"
    )
    (folder / "guide.md").write_text(
        "# Guide\n\nIntro.\n\n## Install\n\nRun the installer.\n\n## Configure\n\nSet the "
        "sync interval.\n",
        encoding="utf-8",
    )
    (folder / "page.html").write_text(
        make_html("Pricing", "<h1>Plans</h1><p>The team plan costs 12 euros.</p>"), encoding="utf-8"
    )
    (folder / "manual.pdf").write_bytes(
        make_pdf(["Chapter one: the appliance.", "Chapter two: the cloud."])
    )
    (folder / "policy.docx").write_bytes(
        make_docx([("heading", 1, "Refunds"), ("paragraph", "Refunds take 14 days.")])
    )
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    return {
        "notes.txt": "added",
        "guide.md": "added",
        "page.html": "added",
        "manual.pdf": "added",
        "policy.docx": "added",
        "corrupt.pdf": "skipped",
        "binary.txt": "skipped",
    }
