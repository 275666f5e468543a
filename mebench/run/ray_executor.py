"""Fold tasks on Ray: a local instance by default, a cluster with ``--ray-address`` / ``RAY_ADDRESS``.

Ray schedules; mebench only describes tasks. Each prepared dataset goes to the object store once
and every fold task of it reads the same object. Tasks ask for CPUs and, where the cluster has
GPUs, a fraction of one sized from the measured peak memory of one fold, so small nets share a
GPU. Workers return fold records; only the driver writes them (atomically), so a killed driver
loses nothing that was saved and the same command resumes. Failed tasks are retried, then reported.
"""

from __future__ import annotations

import math
import os
import socket
from dataclasses import replace
from typing import Callable

import numpy as np
import torch

from mebench.errors import OptionError
from mebench.run.execute import FoldFailure, FoldJob, OnRecord, WorkUnit, train_jobs


def _require_ray():
    try:
        import ray
    except ImportError:
        raise OptionError("--executor ray needs Ray, an optional extra: pip install 'mebench[ray]'") from None
    return ray


def train_job_on_worker(job: FoldJob, data: tuple[np.ndarray, np.ndarray], plugin: tuple[str, str]) -> dict:
    """Runs on a Ray worker: rebuild the model from the worker's own plugins, train the fold, return its record."""
    import ray

    from mebench.errors import UnknownNameError
    from mebench.registry import default_registry

    try:
        spec = default_registry().models.get(job.model)
    except UnknownNameError:
        name, package = plugin
        raise RuntimeError(f"worker {socket.gethostname()}: model {job.model!r} is not installed there; it comes "
                           f"from plugin {name!r} of package {package!r}: pip install it on every node") from None
    device = torch.device("cuda") if ray.get_gpu_ids() else torch.device("cpu")
    job = replace(job, settings=replace(job.settings, device=device))
    x, y = (torch.from_numpy(np.array(a)) for a in data)  # np.array: the store's arrays are read-only
    build = lambda: spec.build(job.n_classes, **job.model_options)  # noqa: E731
    return train_jobs([job], build, x.to(device), y.to(device))[0]


def gpu_fraction(unit: WorkUnit, total_memory: int) -> float:
    """A fold's share of one GPU: its measured peak training memory (one step, on the driver's GPU)
    with headroom, rounded up to a twentieth."""
    from mebench.run.fold_batching import fold_peak_memory

    device = torch.device("cuda")
    plan = unit.plan
    x, y = unit.data.x.to(device), unit.data.y.to(device)
    peak = fold_peak_memory(plan.build_model, x, y, unit.folds[0], replace(plan.settings, device=device))
    return min(1.0, math.ceil(20 * 1.5 * peak / total_memory) / 20)


class RayExecutor:
    """Runs fold tasks as Ray tasks. ``address``: None starts a local instance (or uses
    ``RAY_ADDRESS``); ``retries``: attempts after a failure; ``cpus_per_task``; ``gpus_per_task``:
    None sizes it from a measured fold where the cluster has GPUs."""

    name = "ray"

    def __init__(self, address: str | None = None, retries: int = 2, cpus_per_task: float = 1.0,
                 gpus_per_task: float | None = None, num_cpus: int | None = None, progress: bool = True,
                 log: Callable[[str], None] = print):
        self.ray = _require_ray()
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.retries, self.cpus_per_task, self.gpus_per_task = retries, cpus_per_task, gpus_per_task
        self.num_cpus, self.progress, self.log = num_cpus, progress, log

    def start(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        options = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
        if self.address:
            ray.init(address=self.address, **options)
        else:
            ray.init(num_cpus=self.num_cpus or os.cpu_count(), **options)
        resources = ray.cluster_resources()
        self.log(f"ray: {int(resources.get('CPU', 0))} CPUs, {resources.get('GPU', 0):g} GPUs "
                 f"({'cluster ' + self.address if self.address else 'local instance'})")

    def run(self, units: list[WorkUnit], on_record: OnRecord, bar=None) -> list[FoldFailure]:
        ray = self.ray
        self.start()
        cluster_gpus = ray.cluster_resources().get("GPU", 0)
        remote = ray.remote(train_job_on_worker)
        failures: list[FoldFailure] = []
        in_flight: dict = {}
        data_refs: dict[int, object] = {}
        for unit in units:
            if not unit.folds:
                continue
            key = id(unit.data)
            if key not in data_refs:  # once per prepared dataset, shared by all its tasks
                data_refs[key] = ray.put((unit.data.x.numpy(), unit.data.y.numpy()))
            gpus = self.gpus_per_task
            if gpus is None:
                gpus = 0.0
                if cluster_gpus and unit.plan.learner.uses_gpu:  # an estimator is fitted on the CPU
                    gpus = (gpu_fraction(unit, torch.cuda.get_device_properties(0).total_memory)
                            if torch.cuda.is_available() else 1.0)
            plugin = self._plugin_of(unit.plan.config.model)
            task = remote.options(num_cpus=self.cpus_per_task, num_gpus=gpus, max_retries=self.retries,
                                  retry_exceptions=True)
            for fold in unit.folds:
                job = FoldJob.of(unit.plan, unit.data, fold)
                in_flight[task.remote(job, data_refs[key], plugin)] = (unit.plan, fold)
        while in_flight:
            done, _ = ray.wait(list(in_flight), num_returns=1)
            plan, fold = in_flight.pop(done[0])
            try:
                record = ray.get(done[0])
            except Exception as error:  # the task's error after its retries
                cause = getattr(error, "cause", None) or error
                failures.append(FoldFailure(plan.run_id, fold.name, f"{type(cause).__name__}: {cause}"))
                continue
            on_record(plan, record)
            if bar is not None:
                bar.update(1)
        return failures

    @staticmethod
    def _plugin_of(model: str) -> tuple[str, str]:
        from mebench.registry import default_registry

        registry = default_registry()
        try:
            owner = registry.models.owner(model)
        except KeyError:
            return "?", "?"
        info = next((p for p in registry.plugins if p.name == owner), None)
        return owner, info.distribution if info else "?"
