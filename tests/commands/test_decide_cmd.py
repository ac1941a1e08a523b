"""``ragtune decide`` as a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import ragtune


def test_decide_prints_evidence_and_a_recommendation(tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"change": "yes", "attribution": "yes"}))
    result = ragtune(
        "--data-dir", str(tmp_path / "data"), "decide", "--answers", str(answers), "--json"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["recommendation"]["choice"] in ("rag", "fine_tune", "both")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    failed = ragtune("--data-dir", str(tmp_path / "data"), "decide", "--answers", str(bad))
    assert failed.returncode == 1 and failed.stderr.startswith("ragtune: error:")
