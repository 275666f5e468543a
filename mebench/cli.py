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


@main.command()
@click.option("--model", "-m", required=True, help="Registered model name (see `mebench list models`).")
@click.option("--dataset", "-d", required=True, help="Registered dataset name (see `mebench list datasets`).")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), envvar=ENV_DATA,
              help=f"Folder holding your copy of the licensed datasets (default: ${ENV_DATA}).")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Fixed training epochs per fold (default: the dataset's documented budget, else 50).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for weights and batch order.")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA when present), cpu, or cuda[:N].")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True,
              help="bf16 autocast (auto: wherever the hardware supports it) or plain fp32.")
@click.option("--channels-last", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="Channels-last memory format (auto: on with bf16 or CUDA).")
@click.option("--fold-batch", default="auto", show_default=True,
              help="Train this many folds at once (vectorised); auto: sized from free memory on CUDA, off on CPU.")
@click.option("--compile", "compile_model", is_flag=True, help="torch.compile each fold's model (sequential training).")
@click.option("--batch-size", type=click.IntRange(min=2), default=32, show_default=True, help="Training batch size.")
@click.option("--lr", type=float, default=1e-4, show_default=True, help="Adam learning rate.")
@click.option("--model-opt", multiple=True, metavar="KEY=VALUE",
              help="Option passed to the model factory, e.g. branches=5 (repeatable).")
@click.option("--dataset-opt", multiple=True, metavar="KEY=VALUE",
              help="Option passed to the dataset loader, e.g. preset=standard (repeatable).")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="Results folder; each run writes OUTPUT/<run-id>/.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Preprocessing cache (default: $MEBENCH_CACHE or ~/.cache/mebench).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes for preprocessing (default: CPU count, at most 8).")
@click.option("--force", is_flag=True, help="Discard an existing result for this configuration and run again.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def run(model, dataset, data_root, epochs, seed, device, precision, channels_last, fold_batch, compile_model, batch_size, lr, model_opt,
        dataset_opt, output, cache_dir, workers, force, quiet):
    """Train and score MODEL on DATASET with leave-one-subject-out cross-validation.

    Writes run.json, predictions.csv and metrics.json under OUTPUT/<run-id>/ and prints the
    metrics table. An interrupted run resumes from its finished folds; a finished run is not
    repeated unless --force is given.
    """
    from mebench.leaderboard import metrics_report
    from mebench.loso import ConfigError, RunConfig, run_loso
    from mebench.data import DataError
    from mebench.preprocessing import PreprocessingError

    config = RunConfig(model=model, dataset=dataset, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                       device=device, precision=precision, channels_last=channels_last, fold_batch=fold_batch,
                       compile=compile_model,
                       model_options=_parse_options(model_opt, "--model-opt"),
                       dataset_options=_parse_options(dataset_opt, "--dataset-opt"),
                       data_root=str(data_root) if data_root else None)
    try:
        outcome = run_loso(config, output_dir=output, cache_dir=cache_dir, force=force, progress=not quiet,
                           workers=workers, log=lambda line: click.echo(line, err=True))
    except (UnknownNameError, ConfigError) as error:
        raise CliError(str(error.args[0] if error.args else error))
    except (DataError, PreprocessingError, RuntimeError) as error:
        raise click.ClickException(str(error))
    click.echo(metrics_report(outcome.metrics))
    timing = outcome.run_info["timing"]
    click.echo(f"\nparameters: {outcome.run_info['parameters']:,}   train s/fold: "
               f"{timing['train_seconds_per_fold_mean']:.1f}   inference: {timing['inference_fps']:.0f} fps "
               f"(batch {timing['inference_batch_size']})")
    click.echo(f"results: {outcome.run_dir}")


@main.command(name="list")
@click.argument("what", type=click.Choice(["models", "datasets", "preprocessors", "plugins"]), required=False)
@click.option("--pattern", default="*", show_default=True, help="Wildcard filter on names, e.g. 'aspp-*'.")
def list_(what, pattern):
    """List registered models, datasets, preprocessors, or the plugins that provide them."""
    from tabulate import tabulate

    registry = default_registry()
    sections = [what] if what else ["models", "datasets", "preprocessors", "plugins"]
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
                extra = ["your copy" if spec.needs_data_root else "built in"]
            else:
                extra = []
            rows.append([name, *extra, table.owner(name), spec.description])
        headers = ["name", *{"models": ["input"], "datasets": ["data"]}.get(section, []), "plugin", "description"]
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
    """Validate a copy of DATASET against its official sample list.

    Prints counts per class and per subject next to the official ones and lists missing and extra
    samples and every annotation or file problem. Exits 1 when anything is missing or wrong.
    """
    from tabulate import tabulate

    from mebench.data import DataError

    registry = default_registry()
    try:
        spec = registry.datasets.get(dataset)
    except UnknownNameError as error:
        raise CliError(str(error.args[0]))
    if spec.check is None:
        raise CliError(f"dataset {dataset!r} has no official list to check against")
    options = {**spec.default_options, **_parse_options(dataset_opt, "--dataset-opt")}
    try:
        report = spec.check(str(data_root) if data_root else None, **options)
    except DataError as error:
        raise click.ClickException(str(error))
    expected_labels = [label for _, _, label in report.expected]
    found_labels = [s.label for s in report.found]
    click.echo(f"{dataset}: {len(report.found)} of {len(report.expected)} official samples found, "
               f"{len({s.subject for s in report.found})} of {len({e[1] for e in report.expected})} subjects\n")
    classes = sorted(set(expected_labels), key=lambda c: (c not in ("negative", "positive", "surprise"), c))
    rows = [[c, expected_labels.count(c), found_labels.count(c)] for c in classes]
    rows.append(["total", len(expected_labels), len(found_labels)])
    click.echo(tabulate(rows, headers=["class", "official", "found"], tablefmt="github"))
    subjects = sorted({e[1] for e in report.expected})
    found_by_subject = [s.subject for s in report.found]
    expected_by_subject = [e[1] for e in report.expected]
    rows = [[s, expected_by_subject.count(s), found_by_subject.count(s)] for s in subjects]
    click.echo("\n" + tabulate(rows, headers=["subject", "official", "found"], tablefmt="github"))
    limit = None if list_all else 20
    for title, items in (("missing", report.missing), ("extra (not in the official list; not used)", report.extra),
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
    click.echo(f"\n{dataset}: OK")


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
              help="Add the paper-reported figures from model cards, labelled 'reported'.")
@click.option("--models", "models_table", is_flag=True, help="Print the model table (params, MACs, input, reference) instead.")
@click.option("--write", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the table to this file (atomically).")
def leaderboard(results_dir, fmt, reported, models_table, write):
    """Print comparison tables from saved results (mean ± std over seeds)."""
    from mebench.leaderboard import results_leaderboard
    from mebench.results import atomic_write_text

    registry = default_registry()
    if models_table:
        from mebench.model_card import models_leaderboard

        text = models_leaderboard(registry, fmt)
    else:
        if not results_dir.exists():
            raise CliError(f"no results folder {results_dir}; run `mebench run` first or pass --results DIR")
        specs = [registry.models.get(n) for n in registry.models.names()] if reported else []
        text = results_leaderboard(results_dir, specs, fmt)
    click.echo(text)
    if write:
        atomic_write_text(write, text if text.endswith("\n") else text + "\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
