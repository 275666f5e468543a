"""Run options are declared once (``mebench.run_options``): RunConfig, the command-line options of ``run`` and
``sweep`` and the sweep file's keys are made from the declarations."""

from dataclasses import MISSING, fields
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import mebench.run_options as declarations
from mebench import cli
from mebench.run.plan import EXECUTION_LEVERS, LATER_SETTINGS, SELECTIONS, RunConfig
from mebench.run_options import RUN_OPTIONS, RunOption, run_config_class
from mebench.run.sweep import SweepSpec

#: The commands' own options, declared on the command rather than as run options.
RUN_OWN = {"force", "no_wait", "track"}
SWEEP_OWN = {"sweep_file", "models", "datasets", "seeds", "executor", "ray_address", "retries", "shard", "dry_run",
             "summarise_only", "track"}


def parameters(command: click.Command) -> dict[str, click.Parameter]:
    return {parameter.name: parameter for parameter in command.params}


def assert_made_from(parameter: click.Parameter, option: RunOption) -> None:
    assert parameter.opts == [name for name in (option.short, option.long_flag) if name]
    assert parameter.help == option.help
    assert parameter.required == option.required
    if option.type is bool:
        assert parameter.is_flag and parameter.get_default(click.Context(click.Command("c"))) is False
    elif option.multiple:
        assert parameter.multiple and parameter.metavar == "KEY=VALUE"
    else:
        assert parameter.default == option.default
        assert bool(parameter.show_default) == (option.default is not None)
    if option.choices:
        assert list(parameter.type.choices) == list(option.choices)
    if option.minimum is not None:
        assert parameter.type.min == option.minimum and parameter.type.min_open == option.minimum_open
    assert parameter.envvar == option.envvar


def test_run_command_options_are_the_declarations():
    run = parameters(cli.run)
    assert set(run) == {option.name for option in RUN_OPTIONS} | RUN_OWN
    for option in RUN_OPTIONS:
        assert_made_from(run[option.name], option)


def test_sweep_shares_every_run_option_but_the_grid_axes():
    sweep = parameters(cli.sweep)
    shared = [option for option in RUN_OPTIONS if option.sweep != declarations.AXIS]
    assert {o.name for o in RUN_OPTIONS} - {o.name for o in shared} == {"model", "dataset", "seed"}
    assert set(sweep) == {option.name for option in shared} | SWEEP_OWN
    for option in shared:
        assert_made_from(sweep[option.name], option)


def test_the_help_lists_the_options_in_declaration_order():
    text = CliRunner().invoke(cli.main, ["run", "--help"]).output
    places = [text.index(f"  {option.short + ', ' if option.short else ''}{option.long_flag} ") for option in RUN_OPTIONS]
    assert places == sorted(places)
    assert "--lr FLOAT RANGE                Adam learning rate (> 0).  [default: 0.0001;" in text
    assert "--selection [fixed|inner-val|test-oracle]" in text


def test_run_config_has_one_field_per_declared_setting_with_its_default():
    declared = {option.name: option for option in RUN_OPTIONS if option.role != declarations.SESSION}
    assert [f.name for f in fields(RunConfig)] == ["model", "dataset"] + [n for n in declared if n not in
                                                                          ("model", "dataset")]
    for field in fields(RunConfig):
        option = declared[field.name]
        if option.required:
            assert field.default is MISSING and field.default_factory is MISSING
        elif option.multiple:
            assert field.default_factory() == {}
        else:
            assert field.default == option.default
    config = RunConfig(model="base", dataset="casme2")
    assert (config.lr, config.selection, config.epochs, config.fold_batch, config.pos_weight) == (1e-4, "fixed", None,
                                                                                                   "auto", False)
    other = RunConfig(model="base", dataset="casme2")
    config.model_options["branches"] = 5
    assert other.model_options == {}  # a fresh dict per run
    assert RunConfig.__module__ == "mebench.run.plan" and RunConfig.__name__ == "RunConfig"
    with pytest.raises(TypeError):
        RunConfig(dataset="casme2")  # model is required


def test_levers_later_settings_and_choices_come_from_the_declarations():
    # the run ids of every recorded run depend on these: the levers stay out of the identity, pos_weight is
    # recorded only when set
    assert set(EXECUTION_LEVERS) == {"seed", "data_root", "device", "fold_batch", "compile"}
    assert LATER_SETTINGS == {"pos_weight": False}
    assert SELECTIONS == ("fixed", "inner-val", "test-oracle")


def test_sweep_file_keys_are_the_shared_run_options_and_the_grid():
    assert SweepSpec.keys() == {
        "models", "datasets", "seeds", "output", "cache_dir", "workers", "executor", "shard", "ray_address", "retries",
        "data_root", "epochs", "protocol", "protocol_options", "selection", "device", "precision", "channels_last",
        "fold_batch", "compile", "batch_size", "lr", "pos_weight", "model_options", "dataset_options"}
    spec = SweepSpec.from_mapping({"models": "base", "datasets": "casme2", "epochs": 3, "output": "out",
                                   "workers": 2})
    assert spec.run == {"epochs": 3} and spec.output == Path("out") and spec.workers == 2
    assert SweepSpec(models="a", datasets="b").output == Path("results")


WARMUP = RunOption("warmup", int, 3, "Warm-up epochs before the fixed budget.", minimum=0)


def test_a_new_declaration_is_an_option_of_both_commands_a_sweep_key_and_a_field(monkeypatch):
    monkeypatch.setattr(declarations, "RUN_OPTIONS", [*RUN_OPTIONS, WARMUP])

    @click.command()
    @cli.run_options
    def command(**settings):
        return cli.run_settings(settings)

    runner = CliRunner()
    help_text = runner.invoke(command, ["--help"]).output
    assert "--warmup INTEGER RANGE" in help_text and "Warm-up epochs before the fixed budget." in help_text
    assert "[default: 3; x>=0]" in help_text
    assert command.main(["--warmup", "5"], standalone_mode=False)["warmup"] == 5
    assert command.main([], standalone_mode=False)["warmup"] == 3
    refused = runner.invoke(command, ["--warmup", "-1"])
    assert refused.exit_code == 2 and "-1 is not in the range x>=0" in refused.output

    assert "warmup" in SweepSpec.keys()
    assert SweepSpec.from_mapping({"models": "a", "datasets": "b", "warmup": 2}).run == {"warmup": 2}
    made = run_config_class(declarations.RUN_OPTIONS)
    assert made(model="a", dataset="b").warmup == 3


def test_a_session_option_is_no_run_setting(monkeypatch):
    @click.command()
    @cli.run_options
    def command(**settings):
        return cli.run_settings(settings)

    settings = command.main(["--output", "elsewhere", "--workers", "2", "--quiet", "--model-opt", "branches=5",
                             "--data-root", "."], standalone_mode=False)
    assert settings["model_options"] == {"branches": 5} and settings["data_root"] == "."
    assert not {"output", "workers", "quiet", "cache_dir"} & set(settings)
