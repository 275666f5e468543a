"""Generated documents stay what their command generates: a card edited without regenerating them fails here."""

from pathlib import Path

import pytest

from mebench.run.model_card import models_document
from mebench.registry import default_registry

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # builds every registered model once and counts its MACs (about 30 s of CPU)
def test_docs_models_md_is_what_mebench_info_all_writes():
    written = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    generated = models_document(default_registry()).rstrip("\n") + "\n"
    assert written == generated, ("docs/models.md is stale: regenerate it with "
                                  "`mebench info --all --write docs/models.md`")
