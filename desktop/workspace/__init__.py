"""The workspace: one SQLite file holding a user's library, indexes, datasets and jobs."""

from desktop.workspace.store import (
    Workspace,
    WorkspaceError,
    WorkspaceTooNewError,
    list_workspaces,
)

__all__ = ["Workspace", "WorkspaceError", "WorkspaceTooNewError", "list_workspaces"]
