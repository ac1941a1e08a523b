"""A forward migration: one schema version. Each package declares its own next to its
code (``<package>/schema.py``); ``desktop.workspace.schema`` puts them in version order.
A migration is never edited after it has shipped: a change is a new version."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str
