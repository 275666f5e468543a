"""The plugin API is a promise: what ``mebench.api`` exports stays importable, a renamed name warns."""

import importlib
import re
import sys
import warnings
from pathlib import Path

import pytest

import mebench.api
from mebench.data import MEGC2019_CLASSES

DOCS = Path(__file__).resolve().parents[1] / "docs"

#: What a plugin may import, as released. Removing a name from ``mebench.api`` fails this test: keep a deprecated
#: alias instead, and add new names here when they are added to the API.
RELEASED = {
    "hookimpl", "CodeLocation", "DatasetSpec", "Fidelity", "InputSpec", "MEGC2019_CLASSES", "ModelCard", "ModelSpec",
    "Option", "PreprocessingStep", "PreprocessorSpec", "ProtocolSpec", "Reference", "ReportedFigures", "DatasetCheck",
    "FrameSource", "Sample", "Fold", "SampleTable", "check_folds", "cross_folds", "group_folds", "kfold_folds",
    "lodo_folds", "loso_folds", "ConfigError", "DataError", "FoldError", "MebenchError", "OptionError",
    "PreprocessingError", "RunError", "UnknownNameError", "UsageError",
}


def test_every_released_name_is_exported_and_importable():
    removed = sorted(RELEASED - set(mebench.api.__all__))
    assert not removed, f"removed from mebench.api (keep a deprecated alias instead): {removed}"
    for name in mebench.api.__all__:
        assert getattr(mebench.api, name) is not None, name
    assert len(mebench.api.__all__) == len(set(mebench.api.__all__))


def test_a_plugin_importing_a_renamed_name_loads_with_one_deprecation_warning(tmp_path, monkeypatch):
    (tmp_path / "old_plugin.py").write_text("from mebench.data import CLASSES\n\nLABELS = CLASSES\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("old_plugin", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module("old_plugin")
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(deprecations) == 1
    assert "MEGC2019_CLASSES" in str(deprecations[0].message) and "CLASSES" in str(deprecations[0].message)
    assert deprecations[0].filename.endswith("old_plugin.py")  # points at the plugin's line, not at mebench
    assert module.LABELS == MEGC2019_CLASSES == ("negative", "positive", "surprise")


def test_an_unknown_name_is_still_an_attribute_error():
    with pytest.raises(ImportError):
        exec("from mebench.data import NO_SUCH_NAME", {})


def test_the_plugin_guide_imports_only_from_the_public_api():
    imports = re.findall(r"^\s*(?:from|import) (mebench[\w.]*)", (DOCS / "plugins.md").read_text(), flags=re.M)
    assert imports, "docs/plugins.md shows no import of mebench"
    assert set(imports) == {"mebench.api"}, f"docs/plugins.md imports internal modules: {sorted(set(imports))}"
