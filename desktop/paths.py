"""Where RAGTune keeps its files: one place decides, so tests and smoke runs can move
everything at once with ``--data-dir``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from desktop import APP_ID, APP_NAME

DATA_DIR_ENV = "RAGTUNE_DATA_DIR"


@dataclass(frozen=True)
class AppPaths:
    data_dir: Path
    config_dir: Path
    log_dir: Path
    cache_dir: Path

    @property
    def workspaces_dir(self) -> Path:
        return self.data_dir / "workspaces"

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    def workspace_file(self, name: str) -> Path:
        return self.workspaces_dir / f"{name}.ragtune.sqlite"

    def ensure(self) -> AppPaths:
        for directory in (self.data_dir, self.config_dir, self.log_dir, self.cache_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.workspaces_dir.mkdir(parents=True, exist_ok=True)
        return self

    @classmethod
    def resolve(cls, data_dir: str | os.PathLike[str] | None = None) -> AppPaths:
        """``--data-dir`` (or RAGTUNE_DATA_DIR) puts data, config, logs and cache under one
        root; otherwise each goes where the platform expects it."""
        root = data_dir or os.environ.get(DATA_DIR_ENV)
        if root:
            base = Path(root).expanduser().resolve()
            return cls(base, base / "config", base / "logs", base / "cache")
        dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
        return cls(
            Path(dirs.user_data_dir),
            Path(dirs.user_config_dir),
            Path(dirs.user_log_dir),
            Path(platformdirs.user_cache_dir(APP_ID, appauthor=False)),
        )
