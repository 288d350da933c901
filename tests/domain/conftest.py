from __future__ import annotations

from pathlib import Path

import pytest

from .recipe_support import RecipeFactory


@pytest.fixture
def recipes(tmp_path: Path) -> RecipeFactory:
    return RecipeFactory(tmp_path / "product")
