"""The plugin API is a promise: what ``mebench.api`` exports stays importable, a renamed name warns."""

import importlib
import re
import sys
import warnings
from pathlib import Path

import pytest

import mebench.api
from mebench.data import MEGC2019_CLASSES

DOCS = Path(__file__).resolve().parents[2] / "docs"

#: What a plugin may import, as released. Removing a name from ``mebench.api`` fails this test: keep a deprecated
#: alias instead, and add new names here when they are added to the API.
RELEASED = {
    "hookimpl", "CodeLocation", "DatasetSpec", "Fidelity", "InputSpec", "MEGC2019_CLASSES", "ModelCard", "ModelSpec",
    "Option", "PreprocessingStep", "PreprocessorSpec", "ProtocolSpec", "Reference", "ReportedFigures", "DatasetCheck",
    "FrameSource", "Sample", "Fold", "SampleTable", "check_folds", "cross_folds", "group_folds", "kfold_folds",
    "lodo_folds", "loso_folds", "ConfigError", "DataError", "FoldError", "MebenchError", "OptionError",
    "PreprocessingError", "RunError", "UnknownNameError", "UsageError", "SampleNote", "MULTI_LABEL", "SINGLE_LABEL",
    "TaskKind", "INTERVALS",
    # task kinds as a plugin point: the built-in kinds' classes a plugin's kind extends, and the fourth built-in kind
    "SingleLabel", "MultiLabel", "Intervals", "SpotThenRecognise", "SPOT_THEN_RECOGNISE",
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


def test_a_dataset_declared_multilabel_the_old_way_is_a_multi_label_task_with_one_warning():
    from mebench.api import MULTI_LABEL, SINGLE_LABEL, DatasetSpec

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = DatasetSpec(name="old-au", load=lambda data_root=None: [], classes=("AU1", "AU2"), multilabel=True)
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert spec.kind is MULTI_LABEL and len(deprecations) == 1 and "kind=mebench.api.MULTI_LABEL" in str(
        deprecations[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new spelling warns about nothing
        assert DatasetSpec(name="new", load=lambda data_root=None: []).kind is SINGLE_LABEL
        new_au = DatasetSpec(name="new-au", load=lambda data_root=None: [], kind=MULTI_LABEL)
        assert new_au.kind is MULTI_LABEL and new_au.multilabel  # read as before
    with pytest.warns(DeprecationWarning, match="multilabel=True"):  # the old 5th positional argument
        positional = DatasetSpec("old-au2", lambda data_root=None: [], "", ("AU1",), True)
    assert positional.kind is MULTI_LABEL


def test_the_task_kinds_in_the_api_are_the_ones_records_find_by_name():
    """A plugin extends the classes the API gives, and the API's kinds are the ones a record naming them reads as."""
    import mebench.api as api
    from mebench.tasks import task_kind

    for name in ("SINGLE_LABEL", "MULTI_LABEL", "INTERVALS", "SPOT_THEN_RECOGNISE"):
        kind = getattr(api, name)
        assert task_kind(kind.name) is kind
    assert [type(getattr(api, name)) for name in ("SINGLE_LABEL", "MULTI_LABEL", "INTERVALS", "SPOT_THEN_RECOGNISE")] \
        == [api.SingleLabel, api.MultiLabel, api.Intervals, api.SpotThenRecognise]
    assert issubclass(api.SpotThenRecognise, api.Intervals) and issubclass(api.SingleLabel, api.TaskKind)


def test_a_module_moved_into_a_layer_subpackage_still_imports_by_its_old_name_with_one_warning():
    import subprocess
    import sys

    code = ("import warnings\nwarnings.simplefilter('always')\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    from mebench.plan import RunConfig\n    import mebench.leaderboard as board\n"
            "    from mebench import runner\n    import mebench.plan\n"
            "import mebench.run.plan, mebench.analysis.leaderboard, mebench.run.runner\n"
            "print(RunConfig is mebench.run.plan.RunConfig, board is mebench.analysis.leaderboard,\n"
            "      runner is mebench.run.runner, board.__spec__.name)\n"
            "print(*sorted(str(w.message) for w in caught if w.category is DeprecationWarning), sep='\\n')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == [
        "True True True mebench.analysis.leaderboard",
        "mebench.leaderboard has moved to mebench.analysis.leaderboard; import it from there (the old name will be "
        "removed)",
        "mebench.plan has moved to mebench.run.plan; import it from there (the old name will be removed)",
        "mebench.runner has moved to mebench.run.runner; import it from there (the old name will be removed)"]
