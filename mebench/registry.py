"""The registry of datasets, preprocessors, models and protocols, fed by plugins through pluggy hooks; the task
kinds plugins declare go to ``mebench.tasks.TASK_KINDS``, where records find them by name.

Every plugin, built-in or third-party, is found through the ``mebench`` entry-point group.
A plugin that fails to import or to register is recorded in ``Registry.broken`` and skipped;
it never takes the others down.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import importlib.metadata
import traceback
from dataclasses import dataclass, field
from typing import Callable, Generic, TypeVar

import pluggy

from mebench import hookspecs, tasks
from mebench.data import DatasetSpec, ModelSpec, PreprocessorSpec, ProtocolSpec
from mebench.errors import RegistrationError, UnknownNameError
from mebench.tasks import TaskKind, kind_conflict, register_task_kind

ENTRY_POINT_GROUP = "mebench"

Spec = TypeVar("Spec", DatasetSpec, PreprocessorSpec, ModelSpec, ProtocolSpec)


@dataclass
class PluginInfo:
    name: str
    module: str
    distribution: str
    version: str
    error: str | None = None
    registered: list[str] = field(default_factory=list)


class Table(Generic[Spec]):
    """Name → spec for one kind of thing, with wildcard listing and close-match errors."""

    def __init__(self, kind: str):
        self.kind = kind
        self._specs: dict[str, Spec] = {}
        self._owner: dict[str, str] = {}
        #: (plugin, its hook caller ``resolve(name=…) -> spec | None``) for names made on demand, e.g.
        #: ``timm:resnet18``; asked in plugin order, the first spec wins (the hook is ``firstresult``)
        self.resolvers: list[tuple[str, Callable[..., Spec | None]]] = []

    def add(self, spec: Spec, plugin: str) -> None:
        if not isinstance(spec.name, str) or not spec.name:
            raise RegistrationError(f"plugin {plugin!r} registered a {self.kind} without a name")
        if spec.name in self._specs:
            raise RegistrationError(
                f"plugin {plugin!r} registered {self.kind} {spec.name!r}, "
                f"already registered by plugin {self._owner[spec.name]!r}"
            )
        self._specs[spec.name] = spec
        self._owner[spec.name] = plugin

    def get(self, name: str) -> Spec:
        if name in self._specs:
            return self._specs[name]
        for plugin, resolve in self.resolvers:
            spec = resolve(name=name)
            if spec is not None:
                self.add(spec, plugin)
                return spec
        by_case = {known.lower(): known for known in self._specs}  # WASPP → waspp: only the case differs
        close = ([by_case[name.lower()]] if name.lower() in by_case else
                 [by_case[c] for c in difflib.get_close_matches(name.lower(), list(by_case), n=5, cutoff=0.5)])
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownNameError(f"unknown {self.kind} {name!r}{hint} (`mebench list {self.kind}s` shows all)")

    def owner(self, name: str) -> str:
        return self._owner[name]

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._specs if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: str) -> bool:
        return name in self._specs

    def __len__(self) -> int:
        return len(self._specs)


class Registry:
    """Everything the loaded plugins provide."""

    def __init__(self) -> None:
        self.datasets: Table[DatasetSpec] = Table("dataset")
        self.preprocessors: Table[PreprocessorSpec] = Table("preprocessor")
        self.models: Table[ModelSpec] = Table("model")
        self.protocols: Table[ProtocolSpec] = Table("protocol")
        self.plugins: list[PluginInfo] = []

    @property
    def broken(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.error]

    def listing(self, section: str, pattern: str = "*") -> str:
        """The table ``mebench list SECTION`` prints: names (matching ``pattern``) with what they are and
        which plugin provides them; for ``plugins``, each plugin's package, version and status."""
        from tabulate import tabulate

        if section == "plugins":
            rows = [[p.name, p.distribution, p.version, "BROKEN: " + p.error if p.error else
                     f"ok ({len(p.registered)} entr{'y' if len(p.registered) == 1 else 'ies'})"] for p in self.plugins]
            return tabulate(rows, headers=["plugin", "package", "version", "status"], tablefmt="simple")
        table: Table = getattr(self, section)
        extra_headers = {"models": ["input"], "datasets": ["data", "classes"]}.get(section, [])
        rows = []
        for name in table.names(pattern):
            spec = table.get(name)
            extra = ([str(spec.input_spec)] if section == "models" else
                     ["your copy" if spec.needs_data_root else "built in", len(spec.classes)]
                     if section == "datasets" else [])
            rows.append([name, *extra, table.owner(name), spec.description])
        if not rows:
            return "(none)"
        return tabulate(rows, headers=["name", *extra_headers, "plugin", "description"], tablefmt="simple")

    def load_module(self, module: object, info: PluginInfo) -> None:
        """Register one plugin module; any failure is recorded on ``info``, never raised."""
        manager = pluggy.PluginManager("mebench")
        manager.add_hookspecs(hookspecs)
        hooks: list[tuple[str, type, Table]] = [
            ("mebench_register_datasets", DatasetSpec, self.datasets),
            ("mebench_register_preprocessors", PreprocessorSpec, self.preprocessors),
            ("mebench_register_models", ModelSpec, self.models),
            ("mebench_register_protocols", ProtocolSpec, self.protocols),
        ]
        staged: list[tuple[Table, object]] = []
        try:
            manager.register(module, name=info.name)
            for hook_name, spec_type, table in hooks:

                def register(spec, _hook=hook_name, _type=spec_type, _table=table):
                    if not isinstance(spec, _type):
                        raise RegistrationError(
                            f"{_hook} expects {_type.__name__} objects, got {type(spec).__name__}"
                        )
                    staged.append((_table, spec))

                getattr(manager.hook, hook_name)(register=register)
            kinds = _declared_kinds(manager, staged)
            # All or nothing: a plugin that fails half-way registers none of its entries.
            probe: dict[int, set[str]] = {}
            for table, spec in staged:
                names = probe.setdefault(id(table), set())
                if spec.name in table or spec.name in names:
                    owner = table.owner(spec.name) if spec.name in table else info.name
                    raise RegistrationError(
                        f"{table.kind} {spec.name!r} is already registered by plugin {owner!r}"
                    )
                names.add(spec.name)
        except Exception as error:  # a broken plugin is reported, not fatal
            info.error = _describe(error)
        else:
            for table, spec in staged:
                table.add(spec, info.name)
                info.registered.append(f"{table.kind}:{spec.name}")
            for kind in kinds:
                if kind.name not in tasks.TASK_KINDS:
                    info.registered.append(f"task kind:{kind.name}")
                register_task_kind(kind)
            if manager.hook.mebench_resolve_model.get_hookimpls():
                self.models.resolvers.append((info.name, manager.hook.mebench_resolve_model))
                info.registered.append("model resolver")
        self.plugins.append(info)


def _declared_kinds(manager: pluggy.PluginManager, staged: list[tuple[Table, object]]) -> list[TaskKind]:
    """The task kinds a plugin declares (``mebench_register_task_kinds``) and those its datasets declare, checked
    against the kinds known by name; ``RegistrationError`` naming a conflict."""
    kinds: list[TaskKind] = []
    manager.hook.mebench_register_task_kinds(register=kinds.append)
    kinds += [spec.kind for _, spec in staged if isinstance(spec, DatasetSpec)]
    named: dict[str, TaskKind] = {}
    for kind in kinds:
        problem = kind_conflict(kind)
        if problem is None and type(named.setdefault(kind.name, kind)) is not type(kind):
            problem = f"task kind {kind.name!r} is declared twice, as {type(named[kind.name]).__name__} and " \
                      f"{type(kind).__name__}"
        if problem:
            raise RegistrationError(problem)
    return list(named.values())


def _describe(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"


def discover(entry_points: list[importlib.metadata.EntryPoint] | None = None) -> Registry:
    """Build a registry from the ``mebench`` entry points (or the ones given)."""
    registry = Registry()
    if entry_points is None:
        entry_points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    seen: set[str] = set()
    for entry_point in sorted(entry_points, key=lambda ep: ep.name):
        if entry_point.name in seen:
            continue
        seen.add(entry_point.name)
        dist = getattr(entry_point, "dist", None)
        info = PluginInfo(
            name=entry_point.name,
            module=entry_point.value,
            distribution=dist.metadata["Name"] if dist is not None else "?",
            version=dist.version if dist is not None else "?",
        )
        try:
            module = entry_point.load()
        except Exception as error:  # an import failure is reported, not fatal
            info.error = _describe(error)
            registry.plugins.append(info)
            continue
        registry.load_module(module, info)
    return registry


@functools.lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry built from the installed plugins, built once per process."""
    return discover()

