import json

import click

from mebench.cli import main
from tests.conftest import tiny_run


def test_every_command_and_option_has_help(cli):
    for name, command in main.commands.items():
        result = cli(name, "--help")
        assert result.exit_code == 0, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts} has no help text"
                assert param.opts[0] in result.output


def test_list_models_shows_base_and_waspp(cli):
    result = cli("list", "models")
    assert result.exit_code == 0
    names = {line.split()[0] for line in result.output.splitlines()[2:] if line.strip()}
    assert {"base", "waspp"} <= names


def test_list_every_section(cli):
    datasets = cli("list", "datasets")
    assert datasets.exit_code == 0
    rows = {line.split()[0]: line for line in datasets.output.splitlines()[2:] if line.strip()}
    assert "built in" in rows["synthetic"] and "your copy" in rows["combined"]
    for section in ("preprocessors", "plugins"):
        assert cli("list", section).exit_code == 0
    everything = cli("list")
    assert everything.exit_code == 0 and "face_crop" in everything.output and "megc2019" in everything.output


def test_unknown_model_is_one_line_exit_2_with_close_matches(cli):
    result = cli("run", "--model", "waspnet", "--dataset", "synthetic")
    assert result.exit_code == 2
    assert "unknown model 'waspnet'" in result.output and "waspp" in result.output
    assert "Traceback" not in result.output
    result = cli("info", "bse")
    assert result.exit_code == 2 and "did you mean base" in result.output
    result = cli("run", "--model", "base", "--dataset", "synthtic")
    assert result.exit_code == 2 and "did you mean synthetic" in result.output


def test_malformed_option_pairs_are_refused(cli):
    result = cli("run", "--model", "base", "--dataset", "synthetic", "--model-opt", "branches")
    assert result.exit_code == 2 and "KEY=VALUE" in result.output


def test_info_prints_the_card(cli):
    result = cli("info", "base", "--json")
    assert result.exit_code == 0
    card = json.loads(result.output)
    assert card["parameters"] == 10_739_971 and card["input_spec"] == "3x75x75"
    assert card["macs"] > 1e9 and "Stofa" in card["card"]["source"]["authors"]
    assert card["card"]["fidelity"] == "reconstructed" and card["card"]["reference_parameters"] == 10_739_971


def test_leaderboard_shows_a_saved_run(cli, registry, tmp_path):
    tiny_run(registry, tmp_path)
    result = cli("leaderboard", "--results", str(tmp_path))
    assert result.exit_code == 0
    row = next(line for line in result.output.splitlines() if line.startswith("| tiny"))
    assert "measured" in row and "### synthetic" in result.output
    csv = cli("leaderboard", "--results", str(tmp_path), "--format", "csv", "--reported")
    header = csv.output.splitlines()[0].split(",")
    assert header[:5] == ["model", "dataset", "source", "seeds", "accuracy"]
    assert {"uf1", "uf1_ci_low", "uf1_ci_high", "uar", "samm_uf1"} <= set(header)
    assert any(line.startswith("waspp,combined,reported") for line in csv.output.splitlines())


def test_leaderboard_without_results_folder_is_a_clear_error(cli, tmp_path):
    result = cli("leaderboard", "--results", str(tmp_path / "none"))
    assert result.exit_code == 2 and "no results folder" in result.output
