import importlib.metadata
import sys
import textwrap

import pytest

from mebench.data import ModelSpec
from mebench.errors import UnknownNameError
from mebench.registry import discover


def test_built_in_plugins_register_through_the_entry_point_group():
    registry = discover()
    assert {"base", "waspp", "dspp", "wspp", "daspp"} <= set(registry.models.names())
    assert "synthetic" in registry.datasets.names()
    assert {"apex_frame", "tvl1_flow", "optical_strain", "flow_stack"} <= set(registry.preprocessors.names())
    plugins = {p.name: p for p in registry.plugins}
    assert plugins["pyramid_nets"].distribution == "mebench" and plugins["pyramid_nets"].error is None
    assert registry.models.owner("waspp") == "pyramid_nets"


def test_wildcard_listing_and_close_matches():
    registry = discover()
    assert registry.models.names("aspp-v*-waterfall") == [
        "aspp-v-waterfall", "aspp-vi-waterfall", "aspp-vii-waterfall", "aspp-viii-waterfall"]
    with pytest.raises(UnknownNameError, match="did you mean waspp"):
        registry.models.get("wasp")


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("fake_plugin_")]:
        del sys.modules[name]


def _entry_point(name, module):
    return importlib.metadata.EntryPoint(name=name, value=module, group="mebench")


def test_plugin_failing_on_import_or_registration_is_reported_and_skipped(plugin_dir):
    (plugin_dir / "fake_plugin_import.py").write_text("raise ImportError('needs a missing library')\n")
    (plugin_dir / "fake_plugin_register.py").write_text(textwrap.dedent("""
        from mebench import hookimpl
        from mebench.data import InputSpec, ModelSpec

        @hookimpl
        def mebench_register_models(register):
            register(ModelSpec("half", object, InputSpec(3, 8, 8), ()))
            raise RuntimeError("boom while registering")
    """))
    (plugin_dir / "fake_plugin_good.py").write_text(textwrap.dedent("""
        from mebench import hookimpl
        from mebench.data import InputSpec, ModelSpec

        @hookimpl
        def mebench_register_models(register):
            register(ModelSpec("good-model", object, InputSpec(3, 8, 8), ()))
    """))
    eps = [_entry_point("importfail", "fake_plugin_import"), _entry_point("registerfail", "fake_plugin_register"),
           _entry_point("good", "fake_plugin_good")]
    registry = discover(eps)
    broken = {p.name: p.error for p in registry.broken}
    assert set(broken) == {"importfail", "registerfail"}
    assert "needs a missing library" in broken["importfail"]
    assert "boom while registering" in broken["registerfail"]
    # all or nothing: the half-registered model of the failing plugin is not kept
    assert registry.models.names() == ["good-model"]


def test_duplicate_names_are_refused_with_the_owner_named(plugin_dir):
    for name in ("a", "b"):
        (plugin_dir / f"fake_plugin_dup_{name}.py").write_text(textwrap.dedent("""
            from mebench import hookimpl
            from mebench.data import InputSpec, ModelSpec

            @hookimpl
            def mebench_register_models(register):
                register(ModelSpec("same", object, InputSpec(3, 8, 8), ()))
        """))
    registry = discover([_entry_point("first", "fake_plugin_dup_a"), _entry_point("second", "fake_plugin_dup_b")])
    assert registry.models.owner("same") == "first"
    assert "already registered by plugin 'first'" in registry.broken[0].error


def test_registering_the_wrong_type_is_reported(plugin_dir):
    (plugin_dir / "fake_plugin_wrong.py").write_text(textwrap.dedent("""
        from mebench import hookimpl

        @hookimpl
        def mebench_register_models(register):
            register({"name": "dict-is-not-a-spec"})
    """))
    registry = discover([_entry_point("wrong", "fake_plugin_wrong")])
    assert "expects ModelSpec" in registry.broken[0].error
    assert isinstance(registry.models, object) and len(registry.models) == 0
    assert ModelSpec  # the public type plugins must use
