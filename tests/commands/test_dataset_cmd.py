"""``ragtune dataset`` as a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import ragtune

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "resources" / "datasets" / "support-replies.jsonl"


def good_line(i: int) -> str:
    return json.dumps(
        {
            "messages": [
                {"role": "system", "content": "You answer briefly."},
                {"role": "user", "content": f"Question number {i}?"},
                {"role": "assistant", "content": f"Answer number {i}."},
            ]
        }
    )


def test_validate_reports_errors_with_line_numbers_and_exit_1(tmp_path: Path) -> None:
    result = ragtune(
        "--data-dir",
        str(tmp_path),
        "dataset",
        "validate",
        str(SAMPLE),
        "--model",
        "gpt-4o-mini",
        "--json",
    )
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["examples"] == 60
    assert {(e["line"], e["category"]) for e in report["errors"]} == {
        (17, "example_missing_assistant_message"),
        (38, "unrecognized_role"),
        (38, "example_missing_assistant_message"),
    }
    assert [(w["line"], w["category"]) for w in report["warnings"]] == [(52, "duplicate")]
    assert report["statistics"]["estimate"]["epochs"] == 3


def test_validate_with_warnings_only_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_text("\n".join(good_line(i) for i in range(12)) + "\n" + good_line(0) + "\n")
    result = ragtune("dataset", "validate", str(path), "--json", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["errors"] == [] and report["warnings"][0]["category"] == "duplicate"
    assert report["warnings"][0]["line"] == 13


def test_import_export_and_stats(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(good_line(i) for i in range(20)) + "\n{broken\n")
    imported = json.loads(
        ragtune(
            "--data-dir", data, "dataset", "import", str(source), "--dataset", "support", "--json"
        ).stdout
    )
    assert imported["imported"] == 20
    assert imported["problems"][0]["line"] == 21
    exported = json.loads(
        ragtune(
            "--data-dir",
            data,
            "dataset",
            "export",
            "support",
            "--out",
            str(tmp_path / "out"),
            "--json",
        ).stdout
    )
    lines = Path(exported["train"]).read_text().splitlines()
    assert lines == [good_line(i) for i in range(20)]
    stats = json.loads(
        ragtune(
            "--data-dir", data, "dataset", "stats", "support", "--model", "gpt-4o-mini", "--json"
        ).stdout
    )
    assert stats["train_examples"] == 20 and stats["estimate"]["epochs"] == 5  # 100 // 20
    missing = ragtune("--data-dir", data, "dataset", "stats", "nope")
    assert missing.returncode == 1 and "no dataset named 'nope'" in missing.stderr


def test_list_shows_each_dataset_with_its_example_count(tmp_path: Path) -> None:
    """It used to fail on any workspace with a dataset ('Dataset' object has no attribute
    'examples')."""
    data = str(tmp_path / "data")
    empty = ragtune("--data-dir", data, "dataset", "list")
    assert empty.returncode == 0 and empty.stdout.startswith("No datasets yet.")
    one, many = tmp_path / "one.jsonl", tmp_path / "many.jsonl"
    one.write_text(good_line(0) + "\n")
    many.write_text("\n".join(good_line(i) for i in range(3)) + "\n")
    for path, name in ((one, "solo"), (many, "support")):
        imported = ragtune("--data-dir", data, "dataset", "import", str(path), "--dataset", name)
        assert imported.returncode == 0, imported.stderr
    listed = ragtune("--data-dir", data, "dataset", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == ["solo: 1 example", "support: 3 examples"]
    rows = json.loads(ragtune("--data-dir", data, "dataset", "list", "--json").stdout)
    assert [(r["name"], r["examples"]) for r in rows] == [("solo", 1), ("support", 3)]


def test_import_a_csv_file_with_a_column_mapping(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    table = tmp_path / "qa.csv"
    table.write_text("question,answer\nWhere?,Here.\nWhen?,Now.\n")
    args = ("--data-dir", data, "dataset", "import", str(table), "--dataset", "qa")
    incomplete = ragtune(*args, "--format", "csv", "--map", "user=question")
    assert incomplete.returncode == 1
    assert "the CSV mapping needs a source for 'assistant'" in incomplete.stderr
    imported = ragtune(
        *args,
        "--format",
        "csv",
        "--map",
        "user=question",
        "--map",
        "assistant=#2",
        "--system-prompt",
        "Be brief.",
        "--json",
    )
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["imported"] == 2
    out = tmp_path / "out"
    exported = ragtune("--data-dir", data, "dataset", "export", "qa", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in (out / "qa-train.jsonl").read_text().splitlines()]
    assert lines[1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "When?"},
        {"role": "assistant", "content": "Now."},
    ]
