"""What a database module declares about its database: one ``Database`` (its ``DATABASE``, or one per camera),
beside its reader. ``declared`` lists the declarations and derives every table from them (the databases by
key, the folders and root options, the emotion vocabularies, the tasks built from a database's own labels,
their descriptions and references, the action-unit tasks), so adding a database is its module and one line
in ``declared.DECLARED``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from mebench.data import Reference

if TYPE_CHECKING:
    from mebench_plugins.datasets.clips import Reading


@dataclass(frozen=True)
class NativeTask:
    """A task built from the database's own emotion labels (no official list): its name, its classes in
    label-index order, the emotion → class mapping (None = known but excluded; ``None`` as the whole mapping:
    the database's 3-class vocabulary, ``Database.emotions``) and the description ``mebench list`` shows."""

    name: str
    classes: tuple[str, ...]
    mapping: Mapping[str, str | None] | None
    description: str


@dataclass(frozen=True)
class Database:
    """One database (or one camera of one) as mebench reads it.

    ``key`` namespaces its sample ids and subjects (``casme3a/spNO.1``); ``root`` names the folder it
    lives in — the option ``<root>_root``, the variable ``MEBENCH_<ROOT>`` and the default
    ``<data root>/<folder>``, named ``root_name`` in messages (databases sharing a root share both);
    ``reader(folder, sheet)`` reads it (``sheet``: a user's annotation file, or None to find it by name);
    ``sheet`` says whether it reads an annotation spreadsheet.

    ``emotions`` is its emotion vocabulary with the MEGC2019 3-class mapping (negative / positive /
    surprise; None = known but excluded; lower-case keys: labels are matched case-insensitively): the one
    place a label of this database becomes a class, so a typo is an error in every task. ``megc2019``: its
    3-class task is MEGC2019's, checked against the official list (``megc2019.py``); ``tasks`` are the
    tasks built from its own labels. ``au_task`` names its action-unit task (None: no AU codes) and
    ``au_description`` describes it; ``reference`` is cited by its tasks. Databases with one ``recordings``
    value are views of the same recordings (SMIC's cameras, cut and long clips: the same micro-expressions
    of the same people), so a composite takes at most one of them."""

    key: str
    name: str
    root: str
    reader: Callable[[Path, Path | None], "Reading"]
    sheet: bool = True
    folder: str = ""
    root_name: str = ""
    reference: Reference | None = None
    emotions: Mapping[str, str | None] | None = None
    megc2019: bool = False
    tasks: tuple[NativeTask, ...] = ()
    au_task: str | None = None
    au_description: str = ""
    recordings: str | None = None
