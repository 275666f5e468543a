"""The built-in evaluation protocols: ``loso``, ``lodo``, ``kfold``, ``cross`` and ``str`` (spot-then-recognise)."""

from __future__ import annotations

from typing import Any, Mapping

from mebench import hookimpl
from mebench.data import ProtocolSpec
from mebench.errors import OptionError
from mebench.folds import SampleTable, cross_folds, kfold_folds, lodo_folds, loso_folds
from mebench.options import Option


def _loso(table: SampleTable, dataset: str) -> list:
    return loso_folds(table)


def _spot_then_recognise(table: SampleTable, dataset: str, recogniser: str | None) -> list:
    return loso_folds(table)  # the plan resolves the recogniser (or finds the spotter recognises itself)


def _lodo(table: SampleTable, dataset: str) -> list:
    return lodo_folds(table)


def _kfold(table: SampleTable, dataset: str, k: int, seed: int) -> list:
    return kfold_folds(table, k=k, seed=seed)


def _cross(table: SampleTable, dataset: str, target: str | None) -> list:
    return cross_folds(table, source=dataset, target=target)


def _cross_tasks(dataset: str, options: Mapping[str, Any]) -> list[str]:
    target = options.get("target")
    if not target:
        raise OptionError("protocol cross needs a target task: --protocol-opt target=NAME "
                          "(e.g. --dataset casme2 --protocol cross --protocol-opt target=smic)")
    if target == dataset:
        raise OptionError(f"protocol cross trains on {dataset!r} and tests on another task; "
                          f"--protocol-opt target={target} is the same task")
    return [dataset, str(target)]


@hookimpl
def mebench_register_protocols(register):
    register(ProtocolSpec(
        name="loso", split=_loso, options=(),
        description="Leave one subject out: one fold per subject (the MEGC2019 protocol; default)"))
    register(ProtocolSpec(
        name="lodo", split=_lodo, options=(),
        description="Leave one database out of a composite: train on the others, test on it (MEGC2018 holdout-database)"))
    register(ProtocolSpec(
        name="kfold", split=_kfold,
        options=(Option("k", int, 5, "number of folds", minimum=2, recorded=True),
                 Option("seed", int, 0, "shuffling seed (the protocol's own: folds stay fixed across training "
                                        "seeds)", minimum=0, recorded=True)),
        description="k subject-disjoint folds, class-stratified as far as subjects allow (options k, seed)"))
    register(ProtocolSpec(
        name="str", split=_spot_then_recognise, kind="spot-then-recognise",
        options=(Option("recogniser", str, None, "the recognition model that classifies each spotted interval "
                                                  "(any registered net, trained per fold on the training videos' "
                                                  "annotated intervals); none for a spotter that recognises itself",
                        recorded=True),),
        description="Spot-then-recognise on a spotting task: leave one subject out, each spotted interval classified "
                    "by a recogniser trained on the fold (option recogniser=MODEL; scored by STRS)"))
    register(ProtocolSpec(
        name="cross", split=_cross, tasks=_cross_tasks,
        options=(Option("target", str, None, "the task tested on (same classes, other samples)", recorded=True),),
        description="Train on the run's task, test on another with the same classes (option target=TASK)"))
