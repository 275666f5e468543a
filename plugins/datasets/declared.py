"""Every database mebench reads, as its own module declares it, and the tables derived from the declarations:
the databases by key, the folder and name of each root (``--data-root``/<FOLDER>, ``<root>_root``), the
emotion vocabularies, the tasks built from a database's own labels with their descriptions and references,
and the action-unit tasks. Adding a database is its module (a reader and a ``Database``) and one line in
``DECLARED``; nothing else lists databases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from mebench.data import Reference
from mebench_plugins.datasets import casme, casme2, casme3, fourdme, mmew, samm, smic, smic_e
from mebench_plugins.datasets.declaration import Database
from mebench_plugins.datasets.labels import EmotionTask

#: The declarations, in the order the tables list them (errata name the databases in this order).
DECLARED: tuple[Database, ...] = (
    casme2.DATABASE,
    samm.DATABASE,
    smic.HS,
    casme3.DATABASE,
    mmew.DATABASE,
    fourdme.DATABASE,
    casme.DATABASE,
    smic.VIS,
    smic.NIR,
    smic_e.HS,
    smic_e.VIS,
    smic_e.NIR,
)


@dataclass(frozen=True)
class Tables:
    """What the declarations say, by the key each caller looks things up with."""

    databases: dict[str, Database]  # key → declaration
    folders: dict[str, str]  # root → folder under --data-root
    root_names: dict[str, str]  # root → how messages name it
    emotions: dict[str, Mapping[str, str | None]]  # key → 3-class vocabulary
    five_class_tasks: dict[str, EmotionTask]  # the tasks of the MEGC2019 databases' own labels
    native_tasks: dict[str, EmotionTask]  # the tasks of the other databases' own labels
    descriptions: dict[str, tuple[str, Reference | None]]  # every task of a database's own labels
    au_tasks: dict[str, str]  # AU task → key
    au_descriptions: dict[str, str]  # AU task → description


def derive(declared: Iterable[Database]) -> Tables:
    """The tables of ``declared``. Two declarations of one key or one task name, or two databases in one root
    naming its folder differently, are a mistake in the declarations (``ValueError`` naming them)."""
    declared = tuple(declared)
    databases, folders, root_names = {}, {}, {}
    emotions, five, native, descriptions, au_tasks, au_descriptions = {}, {}, {}, {}, {}, {}
    for database in declared:
        if database.key in databases:
            raise ValueError(f"two databases declare the key {database.key!r}")
        databases[database.key] = database
        for table, value in ((folders, database.folder), (root_names, database.root_name)):
            if table.setdefault(database.root, value) != value:
                raise ValueError(f"{database.key}: root {database.root!r} is {table[database.root]!r} in another "
                                 f"declaration, not {value!r}")
        if database.emotions is not None:
            emotions[database.key] = database.emotions
        for task in database.tasks:
            if task.name in descriptions:
                raise ValueError(f"{database.key}: the task {task.name!r} is declared twice")
            mapping = task.mapping if task.mapping is not None else database.emotions
            (five if database.megc2019 else native)[task.name] = EmotionTask(database.key, task.classes, mapping)
            descriptions[task.name] = (task.description, database.reference)
        if database.au_task:
            au_tasks[database.au_task] = database.key
            au_descriptions[database.au_task] = database.au_description
    return Tables(databases, folders, root_names, emotions, five, native, descriptions, au_tasks, au_descriptions)


TABLES = derive(DECLARED)
#: Every database mebench reads, by key.
DATABASES: dict[str, Database] = TABLES.databases
#: Folder name under --data-root, and the name used in messages, of each root.
FOLDERS: dict[str, str] = TABLES.folders
ROOT_NAMES: dict[str, str] = TABLES.root_names
#: Each database's emotion vocabulary and its MEGC2019 3-class mapping (negative / positive / surprise);
#: None = known but excluded. Sources per database are tabulated in docs/datasets.md ("The 3-class scheme").
EMOTIONS: dict[str, Mapping[str, str | None]] = TABLES.emotions
#: The 5-class tasks of the literature on the MEGC2019 databases (CASME II, SAMM).
FIVE_CLASS_TASKS: dict[str, EmotionTask] = TABLES.five_class_tasks
#: The other single-database tasks built from a database's own labels: the native label sets of the
#: literature and each other database's 3-class task (its ``EMOTIONS`` mapping).
NATIVE_TASKS: dict[str, EmotionTask] = TABLES.native_tasks
#: Every task built from a database's own labels (no official list): the 5-class and native tasks.
EMOTION_TASKS: dict[str, EmotionTask] = {**FIVE_CLASS_TASKS, **NATIVE_TASKS}
#: Each task built from a database's own labels: its description and its database's reference.
DESCRIPTIONS: dict[str, tuple[str, Reference | None]] = TABLES.descriptions
#: Each single-database AU task and the database it reads, and its description.
AU_TASKS: dict[str, str] = TABLES.au_tasks
AU_DESCRIPTIONS: dict[str, str] = TABLES.au_descriptions
