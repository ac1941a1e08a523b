"""The fault suite reuses the retrieval tests' workspace and no-retry client."""

from tests.retrieval.conftest import client, workspace

__all__ = ["client", "workspace"]
