"""One home per database: each database module declares its database (``Database``) beside its reader, and
every table the tasks read — the databases by key, folders and root options, vocabularies, the tasks built
from a database's own labels, their descriptions and references, the AU tasks — is derived from the list of
declarations (``declared.DECLARED``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mebench.data import MEGC2019_CLASSES, Reference
from mebench.errors import DataError
from mebench.registry import default_registry
from mebench_plugins.datasets import au_tasks, catalog, declared
from mebench_plugins.datasets.clips import Clip, Reading
from mebench_plugins.datasets.declaration import Database, NativeTask

TOY_REFERENCE = Reference("Doe, J.", "A Toy Micro-Expression Database", "Nowhere", 2099)
TOY_EMOTIONS = {"glad": "positive", "cross": "negative", "startled": "surprise", "bored": None}


def toy_reader(folder: Path, sheet: Path | None = None) -> Reading:
    """One clip, whose folder is where the catalog told the reader to look."""
    return Reading([Clip("toy", "toy/p1", "c1", "glad", 1, 2, 3, folder / "p1" / "c1", "toy sheet", 2)],
                   [f"read {folder}"])


def toy_database(**changes) -> Database:
    fields = dict(key="toy", name="Toy DB", root="toy", reader=toy_reader, folder="TOYFOLDER",
                  root_name="the Toy database", reference=TOY_REFERENCE, emotions=TOY_EMOTIONS,
                  tasks=(NativeTask("toy", MEGC2019_CLASSES, None, "Toy, 3-class"),
                         NativeTask("toy-2class", ("glad", "cross"), {"glad": "glad", "cross": "cross",
                                                                       "startled": None, "bored": None},
                                    "Toy, two of its emotions")),
                  au_task="toy-au", au_description="Toy action units")
    fields.update(changes)
    return Database(**fields)


def test_every_declared_database_is_in_the_catalog_with_its_folder_and_root_option():
    roots = {}
    for database in declared.DECLARED:
        assert catalog.DATABASES[database.key] is database
        assert catalog.FOLDERS[database.root] == database.folder and database.folder
        assert catalog.ROOT_NAMES[database.root] == database.root_name and database.root_name
        [option] = [o for o in catalog.location_options((database.key,)) if o.name.endswith("_root")]
        assert option.name == f"{database.root}_root"
        assert database.root_name in option.help and f"DATA_ROOT/{database.folder}" in option.help
        roots.setdefault(database.root, set()).add(database.key)
    assert set(catalog.DATABASES) == {database.key for database in declared.DECLARED}
    assert roots["smic"] == {"smic", "smic-vis", "smic-nir", "smic-e-hs", "smic-e-vis", "smic-e-nir"}


def test_every_declared_task_is_registered_with_its_declared_classes_description_and_reference():
    registry = default_registry()
    seen = 0
    for database in declared.DECLARED:
        for task in database.tasks:
            spec = registry.datasets.get(task.name)
            assert tuple(spec.classes) == tuple(task.classes), task.name
            assert (spec.description, spec.reference) == (task.description, database.reference), task.name
            mapping = declared.EMOTION_TASKS[task.name].mapping
            assert mapping is (task.mapping if task.mapping is not None else database.emotions), task.name
            seen += 1
        if database.au_task:
            spec = registry.datasets.get(database.au_task)
            assert (spec.description, spec.reference) == (database.au_description, database.reference)
            assert [o.name for o in spec.options if o.name.endswith("_root")] == [f"{database.root}_root"]
        assert declared.EMOTIONS[database.key] is database.emotions
    assert seen == len(declared.EMOTION_TASKS)
    # the MEGC2019 databases' own tasks are the 5-class ones; their 3-class task is the official list's
    assert {task for task, d in declared.FIVE_CLASS_TASKS.items()} == {
        task.name for database in declared.DECLARED if database.megc2019 for task in database.tasks}


def test_a_new_declaration_appears_in_every_derived_table():
    toy = toy_database()
    before = declared.derive(declared.DECLARED)
    tables = declared.derive(declared.DECLARED + (toy,))
    assert tables.databases["toy"] is toy
    assert (tables.folders["toy"], tables.root_names["toy"]) == ("TOYFOLDER", "the Toy database")
    assert tables.emotions["toy"] is TOY_EMOTIONS
    assert tables.native_tasks["toy"].mapping is TOY_EMOTIONS
    assert (tables.native_tasks["toy"].dataset, tables.native_tasks["toy"].classes) == ("toy", MEGC2019_CLASSES)
    assert tables.native_tasks["toy-2class"].classes == ("glad", "cross")
    assert tables.native_tasks["toy-2class"].mapping["startled"] is None
    assert tables.descriptions["toy-2class"] == ("Toy, two of its emotions", TOY_REFERENCE)
    assert (tables.au_tasks["toy-au"], tables.au_descriptions["toy-au"]) == ("toy", "Toy action units")
    assert "toy" not in tables.five_class_tasks
    # nothing else changes
    assert {k: v for k, v in tables.databases.items() if k != "toy"} == before.databases
    assert {k: v for k, v in tables.native_tasks.items() if not k.startswith("toy")} == before.native_tasks
    # a MEGC2019 database's own tasks are its 5-class tasks, not native ones
    megc = declared.derive(declared.DECLARED + (toy_database(megc2019=True),))
    assert set(megc.five_class_tasks) - set(before.five_class_tasks) == {"toy", "toy-2class"}
    assert set(megc.native_tasks) == set(before.native_tasks)


def test_the_catalog_reads_a_database_through_its_declaration(monkeypatch, tmp_path):
    toy = toy_database()
    tables = declared.derive(declared.DECLARED + (toy,))
    monkeypatch.setitem(catalog.DATABASES, "toy", toy)
    monkeypatch.setitem(catalog.FOLDERS, "toy", tables.folders["toy"])
    monkeypatch.setitem(catalog.ROOT_NAMES, "toy", tables.root_names["toy"])
    read = catalog.read_clips(("toy",), tmp_path, {}, None)
    assert list(read.clips) == ["toy/p1/c1"]
    assert read.sources == [f"Toy DB: read {tmp_path / 'TOYFOLDER'}"]
    with pytest.raises(DataError, match="no data root for the Toy database.*holding TOYFOLDER/.*toy_root"):
        catalog.read_clips(("toy",), None, {}, None)
    assert [o.name for o in catalog.location_options(("toy",))] == ["toy_root", "sheet"]


def test_declarations_that_disagree_are_refused_naming_them():
    with pytest.raises(ValueError, match="two databases declare the key 'casme2'"):
        declared.derive(declared.DECLARED + (toy_database(key="casme2"),))
    with pytest.raises(ValueError, match="toy: root 'smic' is 'SMIC' in another declaration, not 'TOYFOLDER'"):
        declared.derive(declared.DECLARED + (toy_database(root="smic", root_name=declared.ROOT_NAMES["smic"]),))
    with pytest.raises(ValueError, match="toy: the task 'mmew' is declared twice"):
        declared.derive(declared.DECLARED + (toy_database(tasks=(NativeTask("mmew", MEGC2019_CLASSES, None, "x"),)),))


def test_the_au_tasks_need_neither_the_other_tasks_nor_megc2019():
    """The AU tasks' references come from the declarations: building their specs imports neither
    ``databases`` nor ``megc2019`` (they once imported each other inside functions)."""
    code = ("import sys\n"
            "from mebench_plugins.datasets import au_tasks\n"
            "specs = au_tasks.au_specs()\n"
            "print(au_tasks.__file__)\n"
            "print(len(specs), sorted(m for m in sys.modules if m in ('mebench_plugins.datasets.databases', "
            "'mebench_plugins.datasets.megc2019')))\n")
    # the child imports the same copy of the plugins as this process (the mutation check runs a scratch copy)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.splitlines() == [au_tasks.__file__, f"{len(declared.AU_TASKS) + 2} []"]
