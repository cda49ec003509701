"""Shared test settings: nothing a test does may touch the user's real cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Point $CINESENSE_CACHE (weights, feature cache, emoji corpus) at a per-session folder."""
    patch = pytest.MonkeyPatch()
    patch.setenv("CINESENSE_CACHE", str(tmp_path_factory.mktemp("cinesense-cache")))
    yield
    patch.undo()
