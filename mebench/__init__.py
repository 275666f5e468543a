"""mebench: a plugin-based benchmark harness for micro-expression recognition."""

__version__ = "0.1.0"

import importlib  # noqa: E402
import importlib.abc  # noqa: E402
import importlib.util  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

from mebench.hookspecs import hookimpl  # noqa: E402  (re-exported for plugin authors)

__all__ = ["hookimpl", "__version__"]

#: Modules moved into the layer subpackages (``mebench.run``, ``mebench.analysis``), old name → new: an import of
#: the old name still works, gives the moved module itself and warns once (``DeprecationWarning``).
MOVED_MODULES = {
    **{f"mebench.{name}": f"mebench.run.{name}" for name in (
        "preprocessing", "training", "fold_batching", "selection", "learners", "spot_recognise", "model_card", "plan",
        "execute", "summarise", "runner", "ray_executor", "sweep", "submission")},
    **{f"mebench.{name}": f"mebench.analysis.{name}" for name in (
        "configurations", "leaderboard", "compare", "plots", "report", "score", "export")},
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds a moved module under its old name; the old name becomes the new module (one object, not a copy)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        new = MOVED_MODULES[spec.name]
        warnings.warn(f"{spec.name} has moved to {new}; import it from there (the old name will be removed)",
                      DeprecationWarning, stacklevel=2)
        module = importlib.import_module(new)
        spec.loader_state = module.__spec__  # the import machinery sets __spec__ to the old name's: put it back
        return module

    def exec_module(self, module):
        module.__spec__ = module.__spec__.loader_state


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.insert(0, _MovedModules())
