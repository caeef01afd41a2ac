"""Placeholder until its issue lands: generates no files yet."""

from __future__ import annotations

from ..catalog import Catalog


def files(catalog: Catalog) -> dict[str, str]:
    return {}
