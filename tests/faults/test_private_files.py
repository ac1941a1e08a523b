"""Issue 15, point 2: the workspace database (with its -wal and -shm files), the
settings, the window state and the logs are private to the user: created 0600 in 0700
folders, and files left readable by an older version are tightened when opened."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from desktop.context import AppContext
from desktop.logs import setup_logging
from desktop.paths import AppPaths
from desktop.providers.secrets import SecretStore
from desktop.workspace import Workspace

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_dir_is_private(tmp_path: Path, secrets: SecretStore) -> None:
    old_umask = os.umask(0o022)  # the usual default: files 0644, folders 0755
    try:
        context = AppContext.create(data_dir=str(tmp_path / "data"), secrets=secrets)
        context.save_settings(context.settings.replace(search_k=7))
        context.workspace.set_meta("probe", "1")  # opens the database, WAL files appear
        log = setup_logging(context.paths.log_dir)
        logging.getLogger("desktop.test").warning("a line in the log")
        paths = context.paths
        folders = [paths.data_dir, paths.config_dir, paths.log_dir, paths.cache_dir]
        folders.append(paths.workspaces_dir)
        for folder in folders:
            assert mode(folder) == 0o700, folder
        database = context.workspace_path
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        files += [paths.settings_file, log]
        for file in files:
            assert file.exists(), file
            assert mode(file) == 0o600, file
        context.close()
    finally:
        os.umask(old_umask)
        setup_logging(tmp_path / "other-logs")  # let go of this test's log file


def test_files_left_readable_are_tightened_when_opened(tmp_path: Path) -> None:
    paths = AppPaths.resolve(tmp_path / "data")
    for folder in (paths.data_dir, paths.config_dir, paths.log_dir, paths.workspaces_dir):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
    database = paths.workspace_file("default")
    Workspace(database).close()
    readable = [database, paths.settings_file, paths.config_dir / "window.ini"]
    readable.append(paths.log_dir / "ragtune.log")
    for file in readable[1:]:
        file.write_text("{}")
    for file in readable:
        file.chmod(0o644)

    paths.ensure()
    Workspace(database).close()
    setup_logging(paths.log_dir)
    try:
        for folder in (paths.data_dir, paths.config_dir, paths.log_dir, paths.workspaces_dir):
            assert mode(folder) == 0o700, folder
        for file in readable:
            assert mode(file) == 0o600, file
    finally:
        setup_logging(tmp_path / "other-logs")
