"""The shared test kit: a tiny model plugin and a tiny synthetic run configuration, so that
end-to-end tests exercise the real runner in seconds on 2 CPU cores; the session's MEGC and other
databases' fixtures in their distributed layouts; and a CLI runner.

Tests marked ``slow`` (several seconds each: many folds, subprocesses, pip installs, Ray) are left
out of the quick inner loop, ``pytest -m "not slow"``; CI runs everything.
"""

from __future__ import annotations

import shutil
import types
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from mebench import hookimpl
from mebench.data import InputSpec, ModelSpec
from mebench.run.plan import RunConfig
from mebench.registry import PluginInfo, discover

TINY_INPUT = InputSpec(channels=3, height=16, width=16)
TINY_DATASET = {"subjects": 3, "clips_per_subject": 4, "size": 48}
#: Flow at the frames' own size: the tests' frames are small, and the common pre-flow size (128) would
#: only make the suite slower without testing anything more.
TINY_CHAIN = ("apex_frame", ("tvl1_flow", {"size": 0}), "optical_strain", "flow_stack")


def quiet(_line: str) -> None:
    """A log that prints nothing."""


#: Keywords of ``mebench.run.runner.run`` for a test: no progress bars, preprocessing in this process, no log.
QUIET = {"progress": False, "workers": 1, "log": quiet}


def tiny_config(**overrides) -> RunConfig:
    """One epoch of the tiny net on the tiny synthetic dataset (3 subjects × 4 clips), fp32 on the CPU."""
    values = dict(model="tiny", dataset="synthetic", epochs=1, batch_size=8, device="cpu", precision="fp32",
                  dataset_options=dict(TINY_DATASET))
    return RunConfig(**{**values, **overrides})


def load_task(task: str, data_root, **options):
    """The registered task's samples, as a run loads them (options checked by the one validator)."""
    from mebench.run.plan import load_task_samples
    from mebench.registry import default_registry

    spec = default_registry().datasets.get(task)
    return load_task_samples(spec, str(data_root) if data_root else None, options)[0]


def private(root: Path, tmp_path: Path, *folders: str) -> Path:
    """A private copy of some database folders of a session's data root that a test may damage; returns
    the copy's data root."""
    for folder in folders:
        shutil.copytree(root / folder, tmp_path / "data" / folder)
    return tmp_path / "data"


def tiny_run(registry, output_dir: Path, **overrides):
    """``mebench.run.runner.run`` of ``tiny_config(**overrides)`` into ``output_dir``, quietly."""
    from mebench.run.runner import run

    return run(tiny_config(**overrides), registry, output_dir=output_dir, **QUIET)


class TinyNet(nn.Module):
    def __init__(self, num_classes: int, input_spec: InputSpec, width: int = 8):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(input_spec.channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
        )
        self.head = nn.Linear(width * 4, num_classes)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


def tiny_plugin_module():
    module = types.ModuleType("tiny_test_plugin")

    @hookimpl
    def mebench_register_models(register):
        register(ModelSpec(
            name="tiny", factory=lambda num_classes, input_spec, **kw: TinyNet(num_classes, input_spec, **kw),
            input_spec=TINY_INPUT, preprocessing=TINY_CHAIN,
            description="a tiny test network",
        ))

    module.mebench_register_models = mebench_register_models
    return module


def tiny_registry(*extra: types.ModuleType):
    """A registry of the installed plugins, the tiny test model and the plugin modules ``extra``."""
    reg = discover()
    for module in (tiny_plugin_module(), *extra):
        reg.load_module(module, PluginInfo(module.__name__, "tests", "tests", "0"))
    return reg


@pytest.fixture(scope="session")
def registry():
    """The installed plugins plus the tiny test model."""
    return tiny_registry()


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session uses its own preprocessing cache, never the user's."""
    monkeypatch.setenv("MEBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def mebench_cli(*args):
    """``mebench ARGS`` in this process: click's result (exit code, stdout and stderr apart)."""
    from mebench.cli import main

    return CliRunner().invoke(main, [str(arg) for arg in args])


@pytest.fixture
def cli():
    """``mebench_cli`` as a fixture."""
    return mebench_cli


@pytest.fixture(scope="session")
def db_root(tmp_path_factory):
    """CAS(ME)³ Part A, MMEW, 4DME, CASME, SMIC-VIS/NIR and SMIC-E fixtures in their distributed layouts, written
    once per test session (never modified; tests/kit/database_fixtures.py)."""
    from tests.kit.database_fixtures import write_database_fixture

    return write_database_fixture(tmp_path_factory.mktemp("databases"))


@pytest.fixture(scope="session")
def megc_root(tmp_path_factory):
    """CASME II, SAMM and SMIC-HS fixtures in their distributed layouts, written once per test session
    (one folder, so the preprocessing cache is shared by every test that runs on it)."""
    from tests.kit.megc_fixtures import write_megc_fixture

    return write_megc_fixture(tmp_path_factory.mktemp("megc"))
