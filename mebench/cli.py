"""The ``mebench`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from mebench.registry import UnknownNameError, default_registry

ENV_DATA = "MEBENCH_DATA"


class CliError(click.ClickException):
    """A one-line error with exit code 2 and no traceback."""

    exit_code = 2


def _parse_value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _parse_options(pairs: tuple[str, ...], flag: str) -> dict[str, Any]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"{flag} takes KEY=VALUE, got {pair!r}")
        options[key.strip()] = _parse_value(value.strip())
    return options


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mebench")
def main() -> None:
    """mebench: fair, fast, reproducible micro-expression recognition benchmarks.

    Every model and dataset comes from a plugin; `mebench list` shows what is installed.
    """


def run_options(function):
    """The options shared by ``run`` and ``sweep``: everything that configures a run."""
    options = [
        click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), envvar=ENV_DATA,
                     help=f"Folder holding your copy of the licensed datasets (default: ${ENV_DATA})."),
        click.option("--epochs", type=click.IntRange(min=1), default=None,
                     help="Fixed training epochs per fold (default: the dataset's documented budget, else 50)."),
        click.option("--protocol", default="loso", show_default=True,
                     help="Evaluation protocol: loso, lodo, kfold, cross (see `mebench list protocols`)."),
        click.option("--protocol-opt", multiple=True, metavar="KEY=VALUE",
                     help="Protocol option, e.g. k=10 (kfold) or target=smic (cross) (repeatable)."),
        click.option("--selection", type=click.Choice(["fixed", "inner-val", "test-oracle"]), default="fixed",
                     show_default=True,
                     help="Model selection: fixed epoch budget; inner-val early stopping on training subjects; "
                          "test-oracle best epoch on the test fold (LEAKY, for measuring inflation only)."),
        click.option("--device", default="auto", show_default=True, help="auto (CUDA when present), cpu, or cuda[:N]."),
        click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True,
                     help="bf16 autocast (auto: wherever the hardware supports it) or plain fp32."),
        click.option("--channels-last", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
                     help="Channels-last memory format (auto: on with bf16 or CUDA)."),
        click.option("--fold-batch", default="auto", show_default=True,
                     help="Train this many folds at once (vectorised); auto: sized from free memory on CUDA, off on CPU."),
        click.option("--compile", "compile_model", is_flag=True, help="torch.compile the model (sequential training)."),
        click.option("--batch-size", type=click.IntRange(min=2), default=None,
                     help="Training batch size (default: the dataset's suggestion, else 32)."),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-4, show_default=True,
                     help="Adam learning rate (> 0)."),
        click.option("--model-opt", multiple=True, metavar="KEY=VALUE",
                     help="Option passed to the model factory, e.g. branches=5 (repeatable)."),
        click.option("--dataset-opt", multiple=True, metavar="KEY=VALUE",
                     help="Option passed to the dataset loader, e.g. preset=standard (repeatable)."),
        click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
                     show_default=True, help="Results folder; each run writes OUTPUT/<run-id>/."),
        click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Preprocessing cache (default: $MEBENCH_CACHE or ~/.cache/mebench)."),
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="Processes for preprocessing (default: CPU count, at most 8)."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bars."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def make_config(model: str, dataset: str, seed: int, settings: dict[str, Any]):
    """A ``RunConfig`` from the shared run options."""
    from mebench.plan import RunConfig

    data_root = settings["data_root"]
    return RunConfig(model=model, dataset=dataset, epochs=settings["epochs"], batch_size=settings["batch_size"],
                     lr=settings["lr"], seed=seed, device=settings["device"], precision=settings["precision"],
                     channels_last=settings["channels_last"], fold_batch=settings["fold_batch"],
                     compile=settings["compile_model"], protocol=settings["protocol"],
                     protocol_options=_parse_options(settings["protocol_opt"], "--protocol-opt"),
                     selection=settings["selection"],
                     model_options=_parse_options(settings["model_opt"], "--model-opt"),
                     dataset_options=_parse_options(settings["dataset_opt"], "--dataset-opt"),
                     data_root=str(data_root) if data_root else None)


def usage_errors():
    """Errors a user fixes by changing the command (exit 2) and errors of data or run time (exit 1),
    each as one line."""
    from mebench.data import DataError, OptionError
    from mebench.preprocessing import PreprocessingError
    from mebench.results import RunLockedError

    return (UnknownNameError, OptionError), (DataError, PreprocessingError, RunLockedError, RuntimeError, OSError)


@main.command()
@click.option("--model", "-m", required=True, help="Registered model name (see `mebench list models`).")
@click.option("--dataset", "-d", required=True, help="Registered dataset name (see `mebench list datasets`).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for weights and batch order.")
@click.option("--force", is_flag=True, help="Discard an existing result for this configuration and run again.")
@click.option("--no-wait", is_flag=True, help="Exit instead of waiting when another process is running this run.")
@run_options
def run(model, dataset, seed, force, no_wait, **settings):
    """Train and score MODEL on DATASET under a protocol (default: leave-one-subject-out).

    Writes run.json, predictions.csv and metrics.json under OUTPUT/<run-id>/ and prints the
    metrics table. An interrupted run resumes from its finished folds; a finished run is not
    repeated unless --force is given. Exit codes: 0 done, 1 data or run-time failure, 2 usage error.
    """
    from mebench.leaderboard import metrics_report
    from mebench.runner import run as run_one

    usage, failures = usage_errors()
    try:
        config = make_config(model, dataset, seed, settings)
        outcome = run_one(config, output_dir=settings["output"], cache_dir=settings["cache_dir"], force=force,
                          progress=not settings["quiet"], workers=settings["workers"],
                          log=lambda line: click.echo(line, err=True), wait=not no_wait)
    except usage as error:
        raise CliError(_one_line(error))
    except failures as error:
        raise click.ClickException(_one_line(error))
    click.echo(metrics_report(outcome.metrics))
    timing = outcome.run_info["timing"]
    click.echo(f"\nparameters: {outcome.run_info['parameters']:,}   train s/fold: "
               f"{timing['train_seconds_per_fold_mean']:.1f}   inference: {timing['inference_fps']:.0f} fps "
               f"(batch {timing['inference_batch_size']})")
    click.echo(f"results: {outcome.run_dir}")


def _one_line(error: BaseException) -> str:
    text = str(error.args[0] if len(error.args) == 1 else error) if error.args else type(error).__name__
    return " ".join(text.split()) if "\n" in text else text


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
@run_options
def sweep(sweep_file, models, datasets, seeds, executor, ray_address, retries, shard, dry_run, summarise_only,
          **settings):
    """Run a grid: every model × dataset × seed, skipping finished runs and resuming partial ones.

    The grid comes from --models/--datasets/--seeds plus any `mebench run` option, or from a TOML
    SWEEP_FILE with the same keys (models, datasets, seeds, epochs, protocol, model_options, …).
    One progress bar covers all fold tasks; a failing run does not stop the others (they are listed
    at the end and the exit code is 1). Ends with the grid's leaderboard.
    """
    from tabulate import tabulate

    from mebench.execute import InProcessExecutor
    from mebench.plan import RunConfig
    from mebench.sweep import Sweep, expand_names, grid_configs, parse_seeds, parse_shard, read_sweep_file

    usage, failures = usage_errors()
    log = lambda line: click.echo(line, err=True)  # noqa: E731
    registry = default_registry()
    try:
        if sweep_file:
            spec = read_sweep_file(sweep_file)
            models, datasets, seeds = spec["models"], spec["datasets"], spec.get("seeds", seeds)
            executor = spec.get("executor", executor)
            shard = spec.get("shard", shard)
            ray_address = spec.get("ray_address", ray_address)
            retries = spec.get("retries", retries)
            for key in ("output", "cache_dir", "data_root", "workers"):
                if key in spec:
                    settings[key] = Path(spec[key]) if key in ("output", "cache_dir", "data_root") else spec[key]
        elif not models or not datasets:
            raise CliError("give --models and --datasets, or a sweep file (mebench sweep FILE)")
        base = make_config("?", "?", 0, settings)
        if sweep_file:
            fields = {k: v for k, v in spec.items() if k in RunConfig.__dataclass_fields__}
            base = RunConfig(**{**base.__dict__, **fields})
        model_names = expand_names(models, registry.models.names(), registry.models.get, "model")
        dataset_names = expand_names(datasets, registry.datasets.names(), registry.datasets.get, "dataset")
        grid = Sweep(grid_configs(model_names, dataset_names, parse_seeds(seeds), base), settings["output"],
                     cache_dir=settings["cache_dir"], registry=registry, workers=settings["workers"],
                     progress=not settings["quiet"], log=log)
        shard_of = parse_shard(shard)
        if dry_run:
            rows = grid.dry_run_rows(shard_of)
            headers = ["run", "folds", "done", f"shard {shard}" if shard else "tasks", "status"]
            click.echo(tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True))
            complete = sum(r.complete for r in grid.runs)
            click.echo(f"\n{len(grid.runs)} runs, {complete} complete, "
                       f"{sum(len(r.plan.folds) - r.done_folds for r in grid.runs if r.plan)} fold tasks to do")
            return
        if executor == "ray":
            from mebench.ray_executor import RayExecutor

            runner = RayExecutor(address=ray_address, retries=retries, progress=not settings["quiet"], log=log)
        else:
            runner = InProcessExecutor(progress=not settings["quiet"], log=log, isolate_failures=True)
        outcome = grid.run(runner, shard=shard_of, summarise_only=summarise_only)
    except usage as error:
        raise CliError(_one_line(error))
    except failures as error:
        raise click.ClickException(_one_line(error))
    _print_grid_leaderboard(outcome, settings["output"])
    problems = [(r.label, r.error) for r in outcome.runs if r.error] + [
        (f"{f.run_id} fold {f.fold}", f.error) for f in outcome.failures]
    complete = sum(r.complete for r in outcome.runs)
    click.echo(f"\n{complete} of {len(outcome.runs)} runs complete", err=True)
    if problems:
        click.echo(f"{len(problems)} failed:", err=True)
        for where, error in problems:
            click.echo(f"  {where}: {error}", err=True)
        sys.exit(1)


def _print_grid_leaderboard(outcome, output: Path) -> None:
    """The leaderboard of the results folder the grid wrote to."""
    from mebench.leaderboard import results_leaderboard

    if any(r.complete for r in outcome.runs):
        click.echo(results_leaderboard(output))


@main.command(name="list")
@click.argument("what", type=click.Choice(["models", "datasets", "preprocessors", "protocols", "plugins"]), required=False)
@click.option("--pattern", default="*", show_default=True, help="Wildcard filter on names, e.g. 'aspp-*'.")
def list_(what, pattern):
    """List registered models, datasets, preprocessors, protocols, or the plugins that provide them."""
    from tabulate import tabulate

    registry = default_registry()
    sections = [what] if what else ["models", "datasets", "preprocessors", "protocols", "plugins"]
    for section in sections:
        if what is None:
            click.echo(f"\n{section}:")
        if section == "plugins":
            rows = [[p.name, p.distribution, p.version, "BROKEN: " + p.error if p.error else
                     f"ok ({len(p.registered)} entries)"] for p in registry.plugins]
            click.echo(tabulate(rows, headers=["plugin", "package", "version", "status"], tablefmt="simple"))
            continue
        table = getattr(registry, section)
        rows = []
        for name in table.names(pattern):
            spec = table.get(name)
            if section == "models":
                extra = [str(spec.input_spec)]
            elif section == "datasets":
                extra = ["your copy" if spec.needs_data_root else "built in", len(spec.classes)]
            else:
                extra = []
            rows.append([name, *extra, table.owner(name), spec.description])
        headers = ["name", *{"models": ["input"], "datasets": ["data", "classes"]}.get(section, []), "plugin", "description"]
        click.echo(tabulate(rows, headers=headers, tablefmt="simple") if rows else "(none)")
    if registry.broken and what != "plugins":
        names = ", ".join(p.name for p in registry.broken)
        click.echo(f"\nwarning: broken plugins skipped: {names} (see `mebench list plugins`)", err=True)


@main.group()
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
    import pandas as pd
    from tabulate import tabulate

    from mebench.data import DataError, OptionError

    registry = default_registry()
    try:
        spec = registry.datasets.get(dataset)
    except UnknownNameError as error:
        raise CliError(str(error.args[0]))
    if spec.check is None:
        raise CliError(f"dataset {dataset!r} reads no files of yours, so there is nothing to check")
    options = {**spec.default_options, **_parse_options(dataset_opt, "--dataset-opt")}
    try:
        report = spec.check(str(data_root) if data_root else None, **options)
    except OptionError as error:
        raise CliError(str(error))
    except DataError as error:
        raise click.ClickException(str(error))
    found = pd.DataFrame({"subject": [s.subject for s in report.found], "class": [s.label for s in report.found],
                          "dataset": [s.dataset for s in report.found],
                          "cropped": [s.cropped for s in report.found]})
    classes = list(spec.classes) + sorted({label for _, _, label in report.expected} - set(spec.classes))
    if report.expected:
        official = pd.DataFrame(report.expected, columns=["sample", "subject", "class"])
        click.echo(f"{dataset}: {len(found)} of {len(official)} official samples found, "
                   f"{found.subject.nunique()} of {official.subject.nunique()} subjects\n")
        counts = pd.DataFrame({"official": official["class"].value_counts(), "found": found["class"].value_counts()})
        counts = counts.reindex(classes).fillna(0).astype(int)
        counts.loc["total"] = counts.sum()
        click.echo(tabulate(counts.reset_index().values.tolist(), headers=["class", "official", "found"],
                            tablefmt="github"))
        by_subject = pd.DataFrame({"official": official.subject.value_counts(), "found": found.subject.value_counts()})
        by_subject = by_subject.fillna(0).astype(int).sort_index()
        click.echo("\n" + tabulate(by_subject.reset_index().values.tolist(), headers=["subject", "official", "found"],
                                   tablefmt="github"))
    else:
        click.echo(f"{dataset}: no official sample list for this task (built from the dataset's own annotation); "
                   f"{len(found)} samples, {found.subject.nunique()} subjects\n")
        counts = found["class"].value_counts().reindex(classes, fill_value=0)
        rows = [*counts.items(), ("total", int(counts.sum()))]
        click.echo(tabulate(rows, headers=["class", "samples"], tablefmt="github"))
        table = pd.crosstab(found.subject, found["class"]).reindex(columns=classes, fill_value=0)
        table["total"] = table.sum(axis=1)
        click.echo("\n" + tabulate(table.reset_index().values.tolist(), headers=["subject", *table.columns],
                                   tablefmt="github"))
    if len(found):
        region = found.groupby("dataset")["cropped"].agg(
            samples="size", already_cropped=lambda c: int((c == True).sum()),  # noqa: E712 (None is unknown)
            to_be_cropped=lambda c: int((c == False).sum()))  # noqa: E712
        click.echo("\nface region (a face_crop step in auto mode crops the samples whose frames are not cropped):")
        click.echo(tabulate(region.reset_index().values.tolist(),
                            headers=["dataset", "samples", "already cropped", "to be face-cropped"], tablefmt="github"))
    corrections = [note for sample in report.found for note in sample.corrections]
    limit = None if list_all else 20
    for title, items in (("corrections (known annotation slips, corrected; they do not block a run; "
                          "--dataset-opt strict=true refuses them)", corrections),
                         ("missing", report.missing), ("extra (not in the official list; not used)", report.extra),
                         ("problems", report.problems)):
        if items:
            click.echo(f"\n{title}: {len(items)}")
            for item in items[:limit]:
                click.echo(f"  {item}")
            if limit and len(items) > limit:
                click.echo(f"  … {len(items) - limit} more (--list-all)")
    if not report.ok:
        click.echo(f"\n{dataset}: NOT OK — fix the problems above and run the check again", err=True)
        sys.exit(1)
    click.echo(f"\n{dataset}: OK" + (f" ({len(corrections)} annotation slip(s) corrected)" if corrections else ""))


@main.command()
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON.")
def info(model, as_json):
    """Show MODEL's card: reference, input spec, parameters, MACs, paper figures and deviations."""
    from mebench.model_card import model_card, render_card

    registry = default_registry()
    try:
        spec = registry.models.get(model)
    except UnknownNameError as error:
        raise CliError(str(error.args[0]))
    card = model_card(spec, plugin=registry.models.owner(model))
    click.echo(json.dumps(card, indent=2) if as_json else render_card(card))


@main.command()
@click.option("--results", "results_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="Folder of saved runs.")
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
    from mebench.leaderboard import leaderboard_tables, render_tables, reported_figures
    from mebench.results import atomic_write_text

    registry = default_registry()
    if models_table:
        from mebench.model_card import models_leaderboard

        text = models_leaderboard(registry, fmt)
    else:
        configurations = _load_configurations_or_fail(results_dir)
        specs = [registry.models.get(n) for n in registry.models.names()] if reported else []
        metrics = [m.strip() for m in metric_list.split(",") if m.strip()] if metric_list else None
        try:
            tables = leaderboard_tables(configurations, reported_figures(specs), metrics, dataset)
        except ValueError as error:
            raise CliError(str(error))
        if not tables:
            raise click.ClickException(f"no runs of dataset {dataset!r} in {results_dir}")
        text = render_tables(tables, fmt)
        if plots_dir:
            from mebench.plots import leaderboard_plots

            for path in leaderboard_plots(tables, plots_dir):
                click.echo(f"wrote {path}", err=True)
    click.echo(text)
    if write:
        atomic_write_text(write, text if text.endswith("\n") else text + "\n")


def _load_configurations_or_fail(results_dir: Path):
    from mebench.leaderboard import load_configurations

    if not results_dir.exists():
        raise CliError(f"no results folder {results_dir}; run `mebench run` first or pass --results DIR")
    skipped: list[tuple[str, str]] = []
    configurations = load_configurations(results_dir, skipped)
    for folder, reason in skipped:
        click.echo(f"skipped {folder}: {reason}", err=True)
    if not configurations:
        raise click.ClickException(f"no complete runs in {results_dir}" + (f" ({len(skipped)} skipped)" if skipped else ""))
    return configurations


@main.command()
@click.argument("first")
@click.argument("second")
@click.option("--results", "results_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="Folder of saved runs in which FIRST and SECOND are looked up.")
@click.option("--dataset", default=None, help="Dataset of the runs, where a model name has runs on several.")
def compare(first, second, results_dir, dataset):
    """Paired comparison of two runs or configurations on the same samples.

    FIRST and SECOND are run ids, run folders, or model names (all seeds of that model's
    configuration). Prints accuracy, UF1 and UAR differences with paired subject-level bootstrap
    intervals and p-values, and McNemar's exact test on per-sample correctness per seed pair.
    """
    from mebench.leaderboard import ResolveError, compare_configurations, render_comparison, resolve_configuration

    configurations = _load_configurations_or_fail(results_dir)
    try:
        pair = [resolve_configuration(reference, configurations, dataset) for reference in (first, second)]
        comparison = compare_configurations(*pair)
    except (ResolveError, ValueError) as error:
        raise CliError(str(error))
    click.echo(render_comparison(comparison))


@main.command()
@click.option("--results", "results_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="Folder of saved runs.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for report.html (self-contained), report.md and the PNG plots.")
@click.option("--reported/--no-reported", default=True, show_default=True,
              help="Include published figures from model cards with their deltas to the measured ones.")
def report(results_dir, out_dir, reported):
    """Write an HTML report (images embedded) and its markdown twin from saved runs.

    Leaderboards per dataset with intervals and significance marks, reported-vs-measured rows,
    plots, and each run's protocol and environment.
    """
    from mebench.report import write_report

    configurations = _load_configurations_or_fail(results_dir)
    specs = []
    if reported:
        registry = default_registry()
        specs = [registry.models.get(n) for n in registry.models.names()]
    html_path, markdown_path = write_report(configurations, specs, out_dir)
    click.echo(f"wrote {html_path}\nwrote {markdown_path}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
