"""mebench: a plugin-based benchmark harness for micro-expression recognition."""

__version__ = "0.1.0"

from mebench.hookspecs import hookimpl  # noqa: E402  (re-exported for plugin authors)

__all__ = ["hookimpl", "__version__"]
