"""The extension points of mebench. A plugin is a module with functions of these names,
decorated with ``mebench.hookimpl``, advertised under the ``mebench`` entry-point group.
"""

import pluggy

hookspec = pluggy.HookspecMarker("mebench")
hookimpl = pluggy.HookimplMarker("mebench")


@hookspec
def mebench_register_datasets(register):
    """Call ``register(DatasetSpec(...))`` once per dataset this plugin provides."""


@hookspec
def mebench_register_preprocessors(register):
    """Call ``register(PreprocessorSpec(...))`` once per preprocessing step this plugin provides."""


@hookspec
def mebench_register_models(register):
    """Call ``register(ModelSpec(...))`` once per model this plugin provides."""


@hookspec
def mebench_register_protocols(register):
    """Call ``register(ProtocolSpec(...))`` once per evaluation protocol this plugin provides."""


@hookspec
def mebench_register_task_kinds(register):
    """Call ``register(kind)`` once per task kind (a ``TaskKind`` instance) this plugin declares, so that a run
    folder of that kind is read back by name; a kind a registered ``DatasetSpec`` declares is registered with it."""


@hookspec(firstresult=True)
def mebench_resolve_model(name):
    """Return a ``ModelSpec`` for a name not registered up front (e.g. ``timm:resnet18``), else None."""
