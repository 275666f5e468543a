"""The public plugin API: what a third-party model, dataset, preprocessing step, protocol or task kind may import.

Everything in ``__all__`` stays importable from ``mebench.api`` across minor versions; a name that is
renamed or removed keeps a deprecated alias that warns (``DeprecationWarning`` naming its replacement)
for at least one minor version. Other modules of ``mebench`` are internal: their names may move.

    from mebench.api import DatasetSpec, Option, Sample, hookimpl
"""

from mebench.data import (MEGC2019_CLASSES, CodeLocation, DatasetSpec, Fidelity, FrameSource, InputSpec, ModelCard,
                          ModelSpec, PreprocessingStep, PreprocessorSpec, ProtocolSpec, Reference, ReportedFigures,
                          Sample, SampleNote)
from mebench.dataset_check import DatasetCheck
from mebench.errors import (ConfigError, DataError, FoldError, MebenchError, OptionError, PreprocessingError,
                            RunError, UnknownNameError, UsageError)
from mebench.folds import (Fold, SampleTable, check_folds, cross_folds, group_folds, kfold_folds, lodo_folds,
                           loso_folds)
from mebench.hookspecs import hookimpl
from mebench.options import Option
from mebench.tasks import (INTERVALS, MULTI_LABEL, SINGLE_LABEL, SPOT_THEN_RECOGNISE, Intervals, MultiLabel,
                           SingleLabel, SpotThenRecognise, TaskKind)

__all__ = [
    # registering
    "hookimpl",
    # declarations
    "CodeLocation", "DatasetSpec", "Fidelity", "InputSpec", "MEGC2019_CLASSES", "ModelCard", "ModelSpec", "Option",
    "PreprocessingStep", "PreprocessorSpec", "ProtocolSpec", "Reference", "ReportedFigures", "SampleNote",
    # task kinds a dataset task declares (DatasetSpec.kind), and their classes a plugin's kind may extend
    # (registered with the hook mebench_register_task_kinds)
    "INTERVALS", "MULTI_LABEL", "SINGLE_LABEL", "SPOT_THEN_RECOGNISE", "TaskKind", "Intervals", "MultiLabel",
    "SingleLabel", "SpotThenRecognise",
    # what flows between plugins and the core
    "DatasetCheck", "FrameSource", "Sample",
    # protocols: sample tables, folds and their checks
    "Fold", "SampleTable", "check_folds", "cross_folds", "group_folds", "kfold_folds", "lodo_folds", "loso_folds",
    # errors a plugin raises
    "ConfigError", "DataError", "FoldError", "MebenchError", "OptionError", "PreprocessingError", "RunError",
    "UnknownNameError", "UsageError",
]
