from __future__ import annotations

import json
from pathlib import Path

from desktop.paths import AppPaths
from desktop.settings import EnvOverrides, Settings, SettingsStore


def test_defaults_when_no_file(tmp_path: Path) -> None:
    assert SettingsStore(tmp_path / "settings.json").load() == Settings()


def test_round_trip(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    changed = Settings().replace(
        provider="custom",
        base_url="http://127.0.0.1:9/v1",
        chat_model="llama3",
        request_timeout=12.5,
    )
    store.save(changed)
    assert store.load() == changed
    assert not list(tmp_path.glob(".settings-*")), "no temporary file left behind"


def test_bad_values_fall_back_to_defaults_and_unknown_keys_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {"request_timeout": "soon", "max_retries": True, "chat_model": "m", "future_option": 1}
        )
    )
    loaded = SettingsStore(path).load()
    assert loaded.chat_model == "m"
    assert loaded.request_timeout == Settings().request_timeout
    assert loaded.max_retries == Settings().max_retries


def test_a_file_from_before_auto_thresholds_moves_its_old_default_to_auto(
    tmp_path: Path,
) -> None:
    """Files before settings version 2 saved every field, 0.2 (the old fixed default)
    among them; it becomes "auto", which is 0.2 for MiniLM and the provider's models and
    the static model's own for it. A value chosen since, or another value, stays."""
    from desktop.settings import AUTO_THRESHOLD

    path = tmp_path / "settings.json"
    store = SettingsStore(path)
    path.write_text(json.dumps({"similarity_threshold": 0.2, "local_model": "minilm-l6-v2-int8"}))
    old = store.load()
    assert old.similarity_threshold == AUTO_THRESHOLD and old.local_model == "minilm-l6-v2-int8"
    path.write_text(json.dumps({"similarity_threshold": 0.35}))
    assert store.load().similarity_threshold == 0.35
    store.save(Settings().replace(similarity_threshold=0.2))  # chosen now: kept
    assert store.load().similarity_threshold == 0.2


def test_a_corrupt_file_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    assert SettingsStore(path).load() == Settings()


def test_environment_overrides() -> None:
    env = EnvOverrides.from_environ({"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://x/v1"})
    assert env.api_key == "k" and env.base_url == "http://x/v1" and env.any
    assert not EnvOverrides.from_environ({}).any


def test_data_dir_puts_everything_under_one_root(tmp_path: Path) -> None:
    paths = AppPaths.resolve(tmp_path).ensure()
    for directory in (paths.data_dir, paths.config_dir, paths.log_dir, paths.cache_dir):
        assert directory.is_dir()
        assert tmp_path in directory.parents or directory == tmp_path
