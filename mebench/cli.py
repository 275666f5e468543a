"""The ``mebench`` command line: each command parses its options, calls one function and prints.

Every error a user can cause is a ``mebench.errors.MebenchError``; the group prints its message as
one line and exits with its ``exit_code`` (2: change the command; 1: data or run time). An
``OSError`` (a full disk, a vanished folder) is one line and exit code 1 too.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

import mebench.run_options as run_option_declarations
from mebench.errors import DataError, MebenchError, OptionError, UsageError, one_line
from mebench.registry import default_registry
from mebench.run_options import ENV_DATA, RunOption
from mebench.spotting import DEFAULT_IOU


class OneLineError(click.ClickException):
    """An error shown as ``Error: <one line>`` with its exit code, never a traceback."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class MebenchGroup(click.Group):
    """Turns every ``MebenchError`` (and ``OSError``) raised by a command into one line and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as error:  # click's own (a bad option value, an unknown option): one line too
            command = error.ctx.command_path if error.ctx else ctx.command_path
            message = f"{error.format_message().rstrip('.')} — see `{command} --help`"
            raise OneLineError(message, error.exit_code) from None
        except MebenchError as error:
            raise OneLineError(one_line(error), error.exit_code) from None
        except OSError as error:
            raise OneLineError(one_line(error), 1) from None
        except KeyboardInterrupt:  # Ctrl-C: not click's bare "Aborted!"
            resumes = ctx.invoked_subcommand in ("run", "sweep")
            raise OneLineError("interrupted" + ("; every finished fold is kept, and the same command again resumes "
                                                "from them" if resumes else ""), 130) from None


def parse_value(text: str) -> Any:
    """``3`` → 3, ``0.5`` → 0.5, ``true``/``false`` → booleans, anything else stays text."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_options(pairs: tuple[str, ...], flag: str) -> dict[str, Any]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise OptionError(f"{flag} takes KEY=VALUE, got {pair!r}")
        options[key.strip()] = parse_value(value.strip())
    return options


@click.group(cls=MebenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mebench")
def main() -> None:
    """mebench: fair, fast, reproducible micro-expression recognition benchmarks.

    Every model and dataset comes from a plugin; `mebench list` shows what is installed.
    """


def declared_option(option: RunOption):
    """The command-line option of a declared run option (``mebench.run_options``): its flags, type, default,
    choices or range, help and environment variable."""
    names = [name for name in (option.short, option.long_flag) if name]
    if option.type is bool:
        return click.option(*names, option.name, is_flag=True, help=option.help)
    if option.multiple:
        return click.option(*names, option.name, multiple=True, metavar="KEY=VALUE", help=option.help)
    settings: dict[str, Any] = {"help": option.help, "default": option.default}
    if option.choices:
        settings["type"] = click.Choice(list(option.choices))
    elif option.type is Path:
        settings["type"] = click.Path(file_okay=False, path_type=Path)
    elif option.type in (int, float) and (option.minimum is not None or option.maximum is not None):
        bounds = click.IntRange if option.type is int else click.FloatRange
        settings["type"] = bounds(min=option.minimum, max=option.maximum,
                                  **({"min_open": True} if option.minimum_open else {}))
    elif option.type is not str:
        settings["type"] = option.type
    if option.required:
        settings["required"] = True
    if option.default is not None:
        settings["show_default"] = True
    if option.envvar:
        settings["envvar"] = option.envvar
    return click.option(*names, option.name, **settings)


def _declared_options(options: list[RunOption]):
    def decorate(function):
        for option in reversed(options):
            function = declared_option(option)(function)
        return function
    return decorate


def run_options(function):
    """The options ``run`` and ``sweep`` share, made from their declarations."""
    return _declared_options(run_option_declarations.shared_options())(function)


def run_own_options(function):
    """The options of ``run`` whose place a sweep's grid takes (model, dataset, seed), from their declarations."""
    return _declared_options([o for o in run_option_declarations.RUN_OPTIONS
                              if o.sweep == run_option_declarations.AXIS])(function)


def run_settings(settings: dict[str, Any], only_given: bool = False) -> dict[str, Any]:
    """``RunConfig`` keywords from the shared run options (``only_given``: those set on the command line
    or through the environment, not click's defaults — what overrides a sweep file)."""
    context = click.get_current_context()
    values = {}
    for option in run_option_declarations.shared_options():
        name = option.name
        if not option.in_config or name not in settings:
            continue
        if only_given and context.get_parameter_source(name).name == "DEFAULT":
            continue
        value = settings[name]
        if option.multiple:
            value = parse_options(value, option.long_flag)
        values[name] = str(value) if option.type is Path and value is not None else value
    return values


def require_data_root(data_root: Path | None, spec) -> None:
    """A data root that was given must exist, for a task that reads your copies (not "CASME II folder not found")."""
    if data_root is not None and spec.needs_data_root and not Path(data_root).is_dir():
        source = click.get_current_context().get_parameter_source("data_root")
        given = f"${ENV_DATA}" if source is not None and source.name == "ENVIRONMENT" else "--data-root"
        raise DataError(data_root, f"no such folder (given by {given})",
                        f"point --data-root or ${ENV_DATA} at the folder that holds your copies of the databases")


def _given_on_command_line(parameter: str) -> bool:
    """Whether the user typed this option (not a default, nor an environment variable such as $MEBENCH_DATA)."""
    source = click.get_current_context().get_parameter_source(parameter)
    return source is not None and source.name == "COMMANDLINE"


def log_line(line: str) -> None:
    click.echo(line, err=True)


TRACK_OPTION = click.option(
    "--track", type=click.Choice(["mlflow", "tensorboard", "wandb"]), default=None,
    help="Export to this tracker, as `mebench export` does, the run when it finishes (sweep: each run of the grid "
         "as soon as it is complete, and at the start those already complete). The run folder stays the record; "
         "this is not live per-epoch logging. "
         "Needs the tracker's extra: pip install \"mebench[mlflow]\" ….")


@main.command()
@run_own_options
@click.option("--force", is_flag=True, help="Discard an existing result for this configuration and run again.")
@click.option("--no-wait", is_flag=True, help="Exit instead of waiting when another process is running this run.")
@TRACK_OPTION
@run_options
def run(model, dataset, seed, force, no_wait, track, **settings):
    """Train and score MODEL on DATASET under a protocol (default: the task's own, else leave-one-subject-out).

    Writes run.json, predictions.csv and metrics.json under OUTPUT/<run-id>/ and prints the
    metrics table. An interrupted run resumes from its finished folds; a finished run is not
    repeated unless --force is given. Exit codes: 0 done, 1 data or run-time failure, 2 usage error.
    """
    from mebench.run.plan import RunConfig
    from mebench.run.runner import run as run_one

    if track:
        from mebench.analysis.export import require_tracker

        require_tracker(track)  # before any training: a missing extra is one line, not a lost run
    require_data_root(settings["data_root"], default_registry().datasets.get(dataset))
    config = RunConfig(model=model, dataset=dataset, seed=seed, **run_settings(settings))
    outcome = run_one(config, output_dir=settings["output"], cache_dir=settings["cache_dir"], force=force,
                      progress=not settings["quiet"], workers=settings["workers"], log=log_line, wait=not no_wait)
    click.echo(outcome.summary())
    if track:
        from mebench.analysis.export import export_runs

        for line in export_runs([outcome.run_dir], track, log=log_line):
            log_line(f"exported {line}")


@main.command()
@click.argument("sweep_file", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--models", default=None, help="Comma list of models and wildcards, e.g. 'waspp,base,aspp-*-waterfall'.")
@click.option("--datasets", default=None, help="Comma list of datasets (tasks), e.g. 'combined,casme2'.")
@click.option("--seeds", default="0", show_default=True, help="Seeds: numbers and ranges, e.g. 0-4 or 0,2,5-6.")
@click.option("--executor", type=click.Choice(["in-process", "ray"]), default="in-process", show_default=True,
              help="Where fold tasks run: this process, or Ray (pip install 'mebench[ray]').")
@click.option("--ray-address", default=None, envvar="RAY_ADDRESS",
              help="Ray cluster to join (default: $RAY_ADDRESS, else a local Ray instance).")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Ray: attempts after a failed fold task before it is reported.")
@click.option("--shard", default=None, metavar="I/N",
              help="Do only shard I of N of the grid's fold tasks (N processes sharing --output finish it together).")
@click.option("--dry-run", is_flag=True, help="List the runs, their fold counts and what is already done; train nothing.")
@click.option("--summarise", "summarise_only", is_flag=True,
              help="Train nothing; write the summary of every run whose folds are all done.")
@TRACK_OPTION
@run_options
def sweep(sweep_file, dry_run, summarise_only, track, **settings):
    """Run a grid: every model × dataset × seed, skipping finished runs and resuming partial ones.

    The grid comes from --models/--datasets/--seeds plus any `mebench run` option, or from a TOML
    SWEEP_FILE with the same keys (models, datasets, seeds, epochs, protocol, model_options, …);
    options given on the command line take precedence over the file. One progress bar covers all
    fold tasks; a failing run does not stop the others (they are listed at the end and the exit
    code is 1). Ends with the grid's leaderboard.
    """
    from mebench.run.sweep import SweepSpec, dry_run_report, run_sweep

    context = click.get_current_context()
    own = {name: settings.pop(name) for name in ("models", "datasets", "seeds", "executor", "ray_address", "retries",
                                                 "shard")}
    quiet = settings["quiet"]
    session = [o.name for o in run_option_declarations.shared_options()
               if not o.in_config and o.sweep == run_option_declarations.KEY]  # output, cache_dir, workers
    given = {name: value for name, value in {**own, **{k: settings[k] for k in session}}.items()
             if context.get_parameter_source(name).name != "DEFAULT"}
    if sweep_file:
        spec = SweepSpec.from_file(sweep_file, {**given, **run_settings(settings, only_given=True)})
    elif not own["models"] or not own["datasets"]:
        raise UsageError("give --models and --datasets, or a sweep file (mebench sweep FILE)")
    else:
        spec = SweepSpec.from_mapping({**given, **run_settings(settings, only_given=True)}, where="mebench sweep")
    if dry_run:
        click.echo(dry_run_report(spec, progress=not quiet, log=log_line))
        return
    if track:
        from mebench.analysis.export import require_tracker, track_runs

        require_tracker(track)  # before any training
    untracked: list[Path] = []  # --track: each run is exported as soon as it is complete, the grid going on
    on_complete = (lambda folder: untracked.extend(track_runs([folder], track, log_line))) if track else None
    outcome = run_sweep(spec, summarise_only=summarise_only, progress=not quiet, log=log_line, on_complete=on_complete)
    if outcome.complete:  # the leaderboard of the grid's complete runs, not of everything in the results folder
        from mebench.analysis.configurations import load_run_folders
        from mebench.analysis.leaderboard import leaderboard_tables, render_tables

        click.echo(render_tables(leaderboard_tables(load_run_folders(outcome.complete_folders))))
    click.echo(f"\n{outcome.complete} of {len(outcome.runs)} runs complete", err=True)
    if outcome.problems:
        click.echo(f"{len(outcome.problems)} failed:", err=True)
        for where, error in outcome.problems:
            click.echo(f"  {where}: {error}", err=True)
        sys.exit(1)
    if untracked:
        sys.exit(1)


@main.command(name="list")
@click.argument("what", type=click.Choice(["models", "datasets", "preprocessors", "protocols", "plugins"]), required=False)
@click.option("--pattern", default="*", show_default=True, help="Wildcard filter on names, e.g. 'aspp-*'.")
def list_(what, pattern):
    """List registered models, datasets, preprocessors, protocols, or the plugins that provide them."""
    registry = default_registry()
    for section in [what] if what else ["models", "datasets", "preprocessors", "protocols", "plugins"]:
        if what is None:
            click.echo(f"\n{section}:")
        click.echo(registry.listing(section, pattern))
    if registry.broken and what != "plugins":
        names = ", ".join(p.name for p in registry.broken)
        click.echo(f"\nwarning: broken plugins skipped: {names} (see `mebench list plugins`)", err=True)


@main.group(cls=MebenchGroup)
def data() -> None:
    """Inspect and validate your copies of the datasets."""


@data.command()
@click.argument("dataset")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), envvar=ENV_DATA,
              help=f"Folder holding your copy of the licensed datasets (default: ${ENV_DATA}).")
@click.option("--dataset-opt", multiple=True, metavar="KEY=VALUE",
              help="Option passed to the dataset, e.g. gt_version=441 or samm_root=DIR (repeatable).")
@click.option("--list-all", is_flag=True, help="List every missing and extra sample (default: the first 20).")
def check(dataset, data_root, dataset_opt, list_all):
    """Validate a copy of DATASET: its files, its annotation and, where the task has one, its official list.

    Prints counts per class and per subject (next to the official ones where there is an official
    list), how many samples of each dataset will be cropped to the face (their frame layout is not
    cropped), every known annotation slip corrected, and every missing or extra sample and problem.
    Exits 0 when only corrections remain, 1 when anything blocks a run, 2 for a bad option.
    """
    from mebench.dataset_check import check_dataset

    spec = default_registry().datasets.get(dataset)
    require_data_root(data_root, spec)
    report = check_dataset(spec, str(data_root) if data_root else None, parse_options(dataset_opt, "--dataset-opt"))
    click.echo(report.render(spec.classes, list_all))
    if not report.ok:
        click.echo(f"\n{dataset}: NOT OK — fix the problems above and run the check again", err=True)
        sys.exit(1)
    corrections = report.corrections
    click.echo(f"\n{dataset}: OK" + (f" ({len(corrections)} annotation slip(s) corrected)" if corrections else ""))


@main.command()
@click.argument("model", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON.")
@click.option("--all", "every_model", is_flag=True, help="Every model's card as one markdown document.")
@click.option("--write", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the output to this file (atomically).")
def info(model, as_json, every_model, write):
    """Show MODEL's card: source, code, fidelity, input chain, parameters, MACs, options, paper figures, deviations."""
    from mebench.run.model_card import model_facts, models_document, render_card

    registry = default_registry()
    if every_model == bool(model):
        raise UsageError("give a MODEL, or --all for every model's card")
    if every_model:
        text = models_document(registry)
    else:
        facts = model_facts(registry.models.get(model), plugin=registry.models.owner(model))
        text = json.dumps(facts.as_json(), indent=2) if as_json else render_card(facts)
    _echo_and_write(text, write)


def _echo_and_write(text: str, write: Path | None) -> None:
    """Print ``text``; with ``--write FILE``, also write it there atomically, ending in a newline."""
    from mebench.atomic import atomic_write_text

    click.echo(text)
    if write:
        atomic_write_text(write, text if text.endswith("\n") else text + "\n")


RESULTS_OPTION = click.option("--results", "results_dir", type=click.Path(file_okay=False, path_type=Path),
                              default=Path("results"), show_default=True, help="Folder of saved runs.")


@main.command()
@RESULTS_OPTION
@click.option("--format", "fmt", type=click.Choice(["markdown", "csv"]), default="markdown", show_default=True,
              help="Output format.")
@click.option("--reported/--no-reported", default=False, show_default=True,
              help="Add the published figures from model cards, labelled 'reported: SOURCE'.")
@click.option("--metrics", "metric_list", default=None, metavar="LIST",
              help="Comma-separated columns among accuracy, uf1, uar, per-dataset "
                   "(default: uf1,uar,per-dataset for composites, accuracy,uf1,uar otherwise).")
@click.option("--dataset", default=None, help="Only this dataset's tables.")
@click.option("--models", "models_table", is_flag=True, help="Print the model table (params, MACs, input, reference) instead.")
@click.option("--write", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the table to this file (atomically).")
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write the leaderboard plots (UF1 with CIs, UF1 against parameters and fps) as PNGs here.")
def leaderboard(results_dir, fmt, reported, metric_list, dataset, models_table, write, plots_dir):
    """Print comparison tables from saved runs: one per dataset, protocol and selection.

    Figures are means over seeds with 95 % subject-level bootstrap intervals; the best UF1 and
    every configuration not significantly different from it (paired bootstrap, Holm, alpha 0.05)
    are marked. Runs that cannot be read are listed as skipped.
    """
    from mebench.analysis.leaderboard import leaderboard_text

    registry = default_registry()
    if models_table:
        from mebench.run.model_card import models_leaderboard

        text = models_leaderboard(registry, fmt)
    else:
        metrics = [m.strip() for m in metric_list.split(",") if m.strip()] if metric_list else None
        text, plots = leaderboard_text(load_saved_runs(results_dir), registry if reported else None, fmt, metrics,
                                       dataset, plots_dir)
        for path in plots:
            click.echo(f"wrote {path}", err=True)
    _echo_and_write(text, write)


def load_saved_runs(results_dir: Path):
    """The configurations under ``results_dir``; each unusable run is named on stderr."""
    from mebench.analysis.configurations import load_configurations

    if not results_dir.exists():
        raise UsageError(f"no results folder {results_dir}; run `mebench run` first or pass --results DIR")
    default_registry()  # the plugins' task kinds are known by name before their runs are read
    skipped: list[tuple[str, str]] = []
    configurations = load_configurations(results_dir, skipped)
    for folder, reason in skipped:
        click.echo(f"skipped {folder}: {reason}", err=True)
    if not configurations:
        raise MebenchError(f"no complete runs in {results_dir}" + (f" ({len(skipped)} skipped)" if skipped else ""))
    return configurations


@main.command()
@click.argument("first")
@click.argument("second")
@RESULTS_OPTION
@click.option("--dataset", default=None, help="Dataset of the runs, where a model name has runs on several.")
def compare(first, second, results_dir, dataset):
    """Paired comparison of two runs or configurations on the same samples.

    FIRST and SECOND are run folders (anywhere), run ids or model names (all seeds of that model's
    configuration; ids and names are looked up in --results). Prints accuracy, UF1 and UAR
    differences with paired subject-level bootstrap intervals and p-values, and McNemar's exact
    test on per-sample correctness per seed pair.
    """
    from mebench.analysis.compare import compare_configurations, render_comparison
    from mebench.analysis.configurations import load_run_folders, resolve_configuration

    pair, saved = [], None
    for reference in (first, second):
        if Path(reference).is_dir() or os.sep in reference:  # a run folder, wherever it is
            pair += load_run_folders([Path(reference)])
        else:
            saved = saved or load_saved_runs(results_dir)
            pair.append(resolve_configuration(reference, saved, dataset))
    click.echo(render_comparison(compare_configurations(*pair)))


@main.command()
@click.argument("predictions", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--task", "task", required=True, help="The task the predictions are for, e.g. combined (see "
                                                   "`mebench list datasets`).")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), envvar=ENV_DATA,
              help="Your copy of the datasets, for a task whose ground truth mebench does not ship "
                   f"(default: ${ENV_DATA}).")
@click.option("--dataset-opt", multiple=True, metavar="KEY=VALUE",
              help="Option of the task, e.g. gt_version=441 (repeatable).")
@click.option("--ground-truth", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="--task spotting: the ground-truth intervals, a CSV vid,onset,offset,type[,subject].")
@click.option("--iou", type=click.FloatRange(0, 1, min_open=True), default=DEFAULT_IOU, show_default=True,
              help="--task spotting: the IoU at which a predicted interval matches a ground-truth one.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the tables.")
@click.option("--as", "store_as", default=None, metavar="NAME",
              help="Also store the scored file as configuration NAME under --results, marked external: the "
                   "leaderboard and compare use it like a run of mebench's own.")
@click.option("--results", "results_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="--as: the folder of saved runs it is stored in.")
@click.option("--allow-missing", is_flag=True,
              help="--as: store a file that lacks some of the task's samples (scored on those it has).")
@click.option("--force", is_flag=True, help="--as: replace what NAME holds when it was scored from another file.")
def score(predictions, task, data_root, dataset_opt, ground_truth, iou, as_json, store_as, results_dir, allow_missing,
          force):
    """Score PREDICTIONS (a CSV made anywhere) against TASK's ground truth, as a run of mebench is scored.

    Spotting (--task spotting --ground-truth GT.csv): intervals in the MEGC submission form
    (vid,onset,offset,type with type me|mae; pred_onset/pred_offset too), scored by the MEGC rule (IoU ≥ 0.5,
    each ground-truth interval found once) per type and overall, with subject-level intervals (video-level
    where the ground truth names no subjects). With a spotting task instead (--task casme2-long, synthetic-long,
    …) the ground truth is that task's videos (your copy: --data-root), named in the file by their id, by
    SUBJECT/VIDEO or SUBJECT_VIDEO (s15_0101), or by the video's name where no other video shares it.

    Recognition: the file names each sample by an `id` column (mebench's sample id) or by the official
    list's `dataset`, `subject` and `clip` (or `filename`) columns, and gives a `prediction` column: a class name or its
    index in the task's coding. Prints accuracy, UF1 and UAR pooled and per source dataset with 95 %
    subject-level intervals and the chance line, then the non-standard per-subject means some papers report, labelled as such. An
    action-unit task's answers are label sets (AU4+AU12, none), scored by macro-F1 and per label. Ids the
    file lacks or adds are named; a malformed row stops it, naming the file, the row and the value.

    --as NAME stores the scored file as a configuration in RESULTS/NAME__TASK__external__HASH__seed0/ (refused
    where the file lacks ids of the task, unless --allow-missing). The same NAME again: the same file leaves it
    as it is; another file is refused unless --force replaces it.
    """
    from mebench.analysis.score import (Truth, check_external_name, match_predictions, score_file, score_report,
                               score_spotting, spotting_report, store_scored)

    for path in (predictions, ground_truth):
        if path is not None and not path.is_file():
            raise DataError(path, "no such file", "pass an existing CSV file")
    if store_as is None and (allow_missing or force or _given_on_command_line("results_dir")):
        raise UsageError("--results, --allow-missing and --force go with --as NAME")
    if store_as is not None:
        if task == "spotting":
            raise UsageError("--as stores recognition predictions; a spotting file is scored but not stored")
        check_external_name(store_as, default_registry().models.names())
    if task == "spotting":
        if ground_truth is None:
            raise UsageError("--task spotting needs --ground-truth GT.csv (vid,onset,offset,type[,subject])")
        if dataset_opt or _given_on_command_line("data_root"):
            raise UsageError("--task spotting reads its ground truth from --ground-truth; --data-root and "
                             "--dataset-opt are for recognition tasks")
        scored = score_spotting(predictions, ground_truth, iou)
        click.echo(json.dumps(scored.to_json(), indent=2) if as_json else spotting_report(scored))
        return
    if ground_truth is not None:
        raise UsageError("--ground-truth is for --task spotting; a recognition task's ground truth is the task's own")
    spec = default_registry().datasets.get(task)
    given = parse_options(dataset_opt, "--dataset-opt")
    values, _ = spec.resolve_options(given)
    if "spotter" in spec.kind.learners:  # a spotting task: the ground truth is its videos' intervals
        if store_as is not None:
            raise UsageError("--as stores recognition predictions; a spotting file is scored but not stored")
        from mebench.run.plan import load_task_samples
        from mebench.analysis.score import score_spotting_task

        if spec.needs_data_root:
            require_data_root(data_root, spec)
        videos, _ = load_task_samples(spec, str(data_root) if data_root else None, given)
        scored = score_spotting_task(predictions, task, videos, iou)
        click.echo(json.dumps(scored.to_json(), indent=2) if as_json else spotting_report(scored))
        return
    if spec.ground_truth is not None and not _given_on_command_line("data_root"):  # $MEBENCH_DATA is not a request
        rows = spec.ground_truth(**values)
    else:
        from mebench.run.plan import load_task_samples

        if spec.needs_data_root and data_root is None:
            raise UsageError(f"task {task!r} ships no ground truth: point --data-root (or ${ENV_DATA}) at your copy")
        require_data_root(data_root, spec)
        samples, _ = load_task_samples(spec, str(data_root) if data_root else None, given)
        rows = [(sample.id, sample.subject, sample.label) for sample in samples]
    truth = [Truth(sample_id, sample_id.split("/", 1)[0], subject, label) for sample_id, subject, label in rows]
    scored = score_file(predictions, task, truth, spec.task_classes(values), spec.kind)
    click.echo(json.dumps(scored.to_json(), indent=2) if as_json else score_report(scored))
    if store_as is not None:
        frame, _, _ = match_predictions(predictions, truth, spec.task_classes(values), spec.kind)
        stored = store_scored(scored, frame, store_as, results_dir, given, spec.default_protocol or "loso",
                              allow_missing=allow_missing, force=force)
        log_line(f"{stored.action} as {store_as!r} (external): {stored.folder}"
                 + (" — the same file was stored before" if stored.action == "unchanged" else ""))


@main.command()
@click.option("--model", "-m", required=True, help="A spotter (see `mebench list models`), e.g. mdmd.")
@click.option("--train", "train_tasks", required=True, metavar="TASK[,TASK]",
              help="Spotting tasks whose every labelled video trains the spotter, e.g. casme2-long,samm-long.")
@click.option("--videos", "videos_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of unlabelled videos: one sub-folder of frame images per video.")
@click.option("--format", "fmt", default="megc2023", show_default=True,
              help="The challenge's file: megc2023 (MEGC2022–2023 spotting, vid,pred_onset,pred_offset,type).")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The submission file to write (CSV).")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Frame rate of the unlabelled videos that VIDEOS/fps.csv (vid,fps) does not list.")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), envvar=ENV_DATA,
              help=f"Your copy of the training tasks' databases (default: ${ENV_DATA}).")
@click.option("--model-opt", "model_opt", multiple=True, metavar="KEY=VALUE", help="Option of the spotter (repeatable).")
@click.option("--dataset-opt", "dataset_opt", multiple=True, metavar="KEY=VALUE",
              help="Option of every training task, e.g. preset=quick (repeatable).")
def submit(model, train_tasks, videos_dir, fmt, output, fps, data_root, model_opt, dataset_opt):
    """Train a spotter on every labelled video of the training tasks and write a challenge submission for
    a folder of unlabelled videos.

    No test fold: the spotter fits on all of --train's videos, then spots each video folder of --videos (frames
    numbered by their file names, as the long-video readers number them: img001.jpg is frame 1) and writes one
    row per interval in the challenge's form. Read the file back with `mebench score FILE --task spotting
    --ground-truth GT.csv` where the ground truth is known.
    """
    from mebench.run.submission import submit as write_submission

    tasks = [task.strip() for task in train_tasks.split(",") if task.strip()]
    done = write_submission(default_registry(), model, tasks, videos_dir, output, fmt,
                            str(data_root) if data_root else None, parse_options(model_opt, "--model-opt"),
                            parse_options(dataset_opt, "--dataset-opt"), fps, log=log_line)
    click.echo(done.summary())


@main.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="RUN_DIR...")
@click.option("--to", "tracker", type=click.Choice(["mlflow", "tensorboard", "wandb"]), required=True,
              help="The tracker (an optional extra each: pip install \"mebench[mlflow]\", [tensorboard], [wandb]).")
@click.option("--uri", default=None,
              help="mlflow: the tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///RESULTS/../mlflow.db); "
                   "tensorboard: the log folder (default: RESULTS/../tensorboard); wandb: the folder for its files "
                   "(default: RESULTS/..).")
@click.option("--experiment", default="mebench", show_default=True, help="The MLflow experiment or W&B project.")
def export(run_dirs, tracker, uri, experiment):
    """Export finished runs (their folders, RESULTS/<run-id>) to an experiment tracker.

    Logs each run's configuration as parameters, every fold's training loss per epoch as steps, the
    pooled and per-dataset figures with their interval bounds as metrics (uf1, uf1_low, uf1_high, …),
    and predictions.csv, metrics.json and run.json as artifacts (MLflow, W&B; TensorBoard gets the
    scalars and the configuration as text). Repeatable: exporting a run again updates what it exported
    (one MLflow run per run id, tag mebench.run_id); the run folder is never changed. W&B runs offline
    unless $WANDB_MODE says otherwise.
    """
    from mebench.analysis.export import export_runs

    default_registry()  # the plugins' task kinds are known by name before their runs are read
    for line in export_runs(run_dirs, tracker, uri, experiment, log=log_line):
        click.echo(f"exported {line}")


@main.command()
@RESULTS_OPTION
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for report.html (self-contained), report.md and the PNG plots.")
@click.option("--reported/--no-reported", default=True, show_default=True,
              help="Include published figures from model cards with their deltas to the measured ones.")
def report(results_dir, out_dir, reported):
    """Write an HTML report (images embedded) and its markdown twin from saved runs.

    Leaderboards per dataset with intervals and significance marks (of the tasks the results ran:
    published figures on other tasks are named in one line), reported-vs-measured rows, plots, and
    each run's protocol and environment.
    """
    from mebench.analysis.report import write_report

    registry = default_registry()
    specs = [registry.models.get(n) for n in registry.models.names()] if reported else []
    html_path, markdown_path = write_report(load_saved_runs(results_dir), specs, out_dir)
    click.echo(f"wrote {html_path}\nwrote {markdown_path}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
