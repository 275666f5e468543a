"""The options of a run, declared once.

``RUN_OPTIONS`` holds one ``RunOption`` per setting of a run: its name, type, default, choices or
range, help line, and its role — part of the run's identity (hashed into the run id), an execution
lever (where and how folds are trained: never changes a result, so a run resumes across it), or a
setting of the session (where results and caches go, progress bars) that is no part of the run.
Everything else is made from these declarations: ``mebench.run.plan.RunConfig`` (its fields and
defaults), the command-line options of ``mebench run`` and those ``mebench sweep`` shares with it
(``mebench.cli``), the keys a sweep file accepts (``mebench.run.sweep.SweepSpec.keys``), and the plan's
execution levers and later settings. A new run option is one more declaration here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any, Sequence

from mebench.options import Option

#: The environment variable that stands in for ``--data-root``.
ENV_DATA = "MEBENCH_DATA"

#: Roles: part of the run's identity; an execution lever (recorded in run.json, not in the identity); a setting of
#: the session, no field of ``RunConfig``.
IDENTITY, LEVER, SESSION = "identity", "lever", "session"
#: What a sweep does with an option: a key of its file and an option of its command line; an option of its command
#: line only; or none, the run's own, for which the sweep has a grid axis (``models``, ``datasets``, ``seeds``).
KEY, COMMAND_LINE, AXIS = "key", "command-line", "axis"


@dataclass(frozen=True)
class RunOption(Option):
    """One setting of a run, as ``Option`` declares a plugin's (name, type, default, choices or minimum, help),
    with what a run and its command line need besides.

    ``role``: ``IDENTITY``, ``LEVER`` or ``SESSION``. ``flag``: the long flag where it is not ``--`` and the name
    with dashes; ``short``: a one-letter alias (``-o``). ``required``: no default, ``RunConfig`` needs it.
    ``multiple``: repeatable ``KEY=VALUE`` pairs, gathered into a dict. ``minimum_open``: the value must exceed
    ``minimum``. ``envvar``: an environment variable that gives it. ``sweep``: ``KEY``, ``COMMAND_LINE`` or
    ``AXIS``. ``later``: added after runs were recorded; written into run.json and the identity only where it is
    not at its default, so earlier runs keep their ids."""

    role: str = IDENTITY
    flag: str = ""
    short: str = ""
    required: bool = False
    multiple: bool = False
    minimum_open: bool = False
    envvar: str | None = None
    sweep: str = KEY
    later: bool = False

    @property
    def long_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def in_config(self) -> bool:
        """Whether ``RunConfig`` has it (every option but the session's)."""
        return self.role != SESSION

    @property
    def annotation(self) -> Any:
        """Its type as a ``RunConfig`` field: the pairs of a repeatable option as a dict; a path as text."""
        if self.multiple:
            return dict[str, Any]
        kind = str if self.type is Path else self.type
        return kind | None if self.default is None and not self.required else kind


#: Every option of a run, in the order ``mebench run --help`` lists them: the run's own (model, dataset, seed),
#: then those ``mebench sweep`` shares.
RUN_OPTIONS: list[RunOption] = [
    RunOption("model", str, help="Registered model name (see `mebench list models`).", short="-m", required=True,
              sweep=AXIS),
    RunOption("dataset", str, help="Registered dataset name (see `mebench list datasets`).", short="-d",
              required=True, sweep=AXIS),
    RunOption("seed", int, 0, "Seed for weights and batch order.", role=LEVER, sweep=AXIS),
    RunOption("data_root", Path, None, f"Folder holding your copy of the licensed datasets (default: ${ENV_DATA}).",
              role=LEVER, envvar=ENV_DATA),
    RunOption("epochs", int, None, "Fixed training epochs per fold (default: the dataset's documented budget, "
                                   "else 50).", minimum=1),
    RunOption("protocol", str, None, "Evaluation protocol: loso, lodo, kfold, cross (see `mebench list protocols`); "
                                     "default: the task's own (lodo for cd6me), else loso."),
    RunOption("protocol_options", str, help="Protocol option, e.g. k=10 (kfold) or target=smic (cross) (repeatable).",
              flag="--protocol-opt", multiple=True),
    RunOption("selection", str, "fixed", "Model selection: fixed epoch budget; inner-val early stopping on training "
                                         "subjects; test-oracle best epoch on the test fold (LEAKY, for measuring "
                                         "inflation only).", choices=("fixed", "inner-val", "test-oracle")),
    RunOption("device", str, "auto", "auto (CUDA when present), cpu, or cuda[:N].", role=LEVER),
    RunOption("precision", str, "auto", "bf16 autocast (auto: wherever the hardware supports it) or plain fp32.",
              choices=("auto", "fp32", "bf16")),
    RunOption("channels_last", str, "auto", "Channels-last memory format (auto: on with bf16 or CUDA).",
              choices=("auto", "on", "off")),
    RunOption("fold_batch", str, "auto", "Train this many folds at once (vectorised); auto: sized from free memory "
                                         "on CUDA, off on CPU.", role=LEVER),
    RunOption("compile", bool, False, "torch.compile the model (sequential training).", role=LEVER),
    RunOption("batch_size", int, None, "Training batch size (default: the dataset's suggestion, else 32).",
              minimum=2),
    RunOption("lr", float, 1e-4, "Adam learning rate (> 0).", minimum=0, minimum_open=True),
    RunOption("pos_weight", bool, False, "Multi-label (action-unit) tasks: weigh each label's positives by "
                                         "negatives/positives of the training fold.", later=True),
    RunOption("model_options", str, help="Option passed to the model factory, e.g. branches=5 (repeatable; "
                                         "`mebench info MODEL` lists them).", flag="--model-opt", multiple=True),
    RunOption("dataset_options", str, help="Option passed to the dataset loader, e.g. preset=standard (repeatable).",
              flag="--dataset-opt", multiple=True),
    RunOption("output", Path, Path("results"), "Results folder; each run writes OUTPUT/<run-id>/.", role=SESSION,
              short="-o"),
    RunOption("cache_dir", Path, None, "Preprocessing cache (default: $MEBENCH_CACHE or ~/.cache/mebench).",
              role=SESSION),
    RunOption("workers", int, None, "Processes for preprocessing (default: CPU count, at most 8).", role=SESSION,
              minimum=1),
    RunOption("quiet", bool, False, "No progress bars.", role=SESSION, short="-q", sweep=COMMAND_LINE),
]


def run_option(name: str) -> RunOption:
    """The declaration of the run option ``name``."""
    return next(option for option in RUN_OPTIONS if option.name == name)


def shared_options() -> list[RunOption]:
    """The options ``mebench sweep`` shares with ``mebench run`` (all but the grid's axes), in help order."""
    return [option for option in RUN_OPTIONS if option.sweep != AXIS]


def sweep_run_keys() -> tuple[str, ...]:
    """The ``RunConfig`` fields a sweep sets for all its runs: the sweep-file keys that are run settings."""
    return tuple(o.name for o in RUN_OPTIONS if o.in_config and o.sweep == KEY)


def execution_levers() -> tuple[str, ...]:
    """The settings that do not change what is computed: out of the run's identity."""
    return tuple(option.name for option in RUN_OPTIONS if option.role == LEVER)


def later_settings() -> dict[str, Any]:
    """Settings added after runs were recorded, with the default at which run.json and the identity omit them."""
    return {option.name: option.default for option in RUN_OPTIONS if option.later}


def run_config_class(options: Sequence[RunOption], name: str = "RunConfig", doc: str = "",
                     module: str = __name__) -> type:
    """A dataclass with one field per option ``in_config``, in declaration order: its type and default (a
    repeatable option: an empty dict); the required ones first, without a default."""
    kept = [option for option in options if option.in_config]
    specs = []
    for option in sorted(kept, key=lambda option: not option.required):  # a stable sort: declaration order kept
        if option.required:
            specs.append((option.name, option.annotation))
        elif option.multiple:
            specs.append((option.name, option.annotation, field(default_factory=dict)))
        else:
            specs.append((option.name, option.annotation, field(default=option.default)))
    made = make_dataclass(name, specs)
    made.__module__, made.__qualname__, made.__doc__ = module, name, doc or made.__doc__
    return made
