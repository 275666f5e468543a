"""Coding spreadsheets as the databases distribute them: a header row found by name, columns matched by any
of their spellings, annotation files and folders found by name below a database's folder, and frame-number
cells."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from mebench.errors import DataError
from mebench_plugins.datasets.action_units import AU_COLUMN_ALIASES, AU_COLUMN_NAME


@dataclass(frozen=True)
class Column:
    """A spreadsheet column a reader needs: the name its records use and the other spellings copies use."""

    name: str
    aliases: tuple[str, ...] = ()
    required: bool = True

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


#: The column of a row's action-unit code, in every spelling the databases use (CASME II, SAMM and MMEW
#: ``Action Units``, CAS(ME)³ and CASME ``AU``, 4DME ``AUs``); optional, since only the AU tasks read it
#: (``action_units.au_cell`` also collects 4DME's one column per AU).
AU_COLUMN = Column(AU_COLUMN_NAME, AU_COLUMN_ALIASES, required=False)


def _norm(text: Any) -> str:
    return " ".join(str(text if text is not None else "").split()).casefold()


@dataclass(frozen=True)
class Sheet:
    """The rows of one worksheet below its header row, as (spreadsheet row number, column → value); each
    record holds every header cell by its own spelling and each ``Column`` by its ``name``."""

    path: Path
    sheet: str
    header_row: int
    header: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, Any]], ...]
    several_sheets: bool  # the workbook has more than one worksheet: messages name the sheet

    @property
    def source(self) -> str:
        """How messages name this sheet: the file, and the worksheet where the workbook has several."""
        return f"{self.path}, sheet {self.sheet!r}" if self.several_sheets else str(self.path)

    @property
    def description(self) -> str:
        return f"{self.path} (sheet {self.sheet!r}, header row {self.header_row}, {len(self.rows)} rows)"

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def read_sheet(path: Path, columns: Iterable[str | Column], sheets: Iterable[str] = ()) -> Sheet:
    """The rows of a coding spreadsheet below its header row.

    The header row is found by name wherever it sits: the first row (of the first 50) with a cell
    spelled like the first column (title blocks above it are skipped), each column matched by any of
    its spellings (case and spacing ignored). The worksheet is the first of ``sheets`` the workbook
    has (CAS(ME)³'s ``label``); otherwise the first worksheet that has such a header row. A ``.csv`` file
    (a sheet saved as text, UTF-8) is read as one worksheet; its empty cells are empty."""
    import openpyxl

    wanted = [c if isinstance(c, Column) else Column(c) for c in columns]
    if Path(path).suffix.casefold() == ".csv":
        return _read_csv(Path(path), wanted)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:
        raise DataError(path, f"cannot read the spreadsheet ({type(error).__name__}: {error})",
                        "is it the .xlsx file distributed with the dataset?") from None
    try:
        names = workbook.sheetnames
        preferred = [n for wish in sheets for n in names if _norm(n) == _norm(wish)][:1]
        first = wanted[0]
        for name in preferred or names:
            rows = workbook[name].iter_rows(values_only=True)
            for number, values in enumerate(rows, start=1):
                if number > 50:
                    break
                cells = [_norm(v) for v in values or ()]
                if any(_norm(spelling) in cells for spelling in first.spellings):
                    return _sheet_below(path, name, len(names) > 1, number, values, rows, wanted)
        where = f"sheet {preferred[0]!r}" if preferred else f"any worksheet ({', '.join(map(repr, names))})"
        raise DataError(path, f"no header row (a row with a cell {first.name!r}) in {where}",
                        f"expected a header with columns {', '.join(c.name for c in wanted if c.required)}")
    finally:
        workbook.close()


def _read_csv(path: Path, wanted: list[Column]) -> Sheet:
    """``read_sheet`` of a ``.csv`` copy of a sheet (worksheet name ``csv``)."""
    import csv

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(path, f"cannot read the file ({type(error).__name__}: {error})",
                        "save the sheet as UTF-8 CSV, or use the .xlsx file distributed with the dataset") from None
    rows = iter([tuple(cell if cell.strip() else None for cell in row) for row in csv.reader(text.splitlines())])
    first = wanted[0]
    for number, values in enumerate(rows, start=1):
        if number > 50:
            break
        if any(_norm(spelling) in [_norm(v) for v in values] for spelling in first.spellings):
            return _sheet_below(path, "csv", False, number, values, rows, wanted)
    raise DataError(path, f"no header row (a row with a cell {first.name!r}) in the first 50 lines",
                    f"expected a header with columns {', '.join(c.name for c in wanted if c.required)}")


def _sheet_below(path: Path, name: str, several: bool, header_row: int, values, rows,
                 wanted: list[Column]) -> Sheet:
    header = [str(v).strip() if v is not None else "" for v in values]
    cells = [_norm(v) for v in header]
    position: dict[str, int] = {}
    for column in wanted:
        found = next((cells.index(_norm(s)) for s in column.spellings if _norm(s) in cells), None)
        if found is not None:
            position[column.name] = found
    missing = [c for c in wanted if c.required and c.name not in position]
    if missing:
        spelled = "; ".join(f"{c.name} also as {', '.join(c.aliases)}" for c in missing if c.aliases)
        raise DataError(f"{path}, sheet {name!r}" if several else path,
                        f"header row lacks column(s) {', '.join(c.name for c in missing)}"
                        + (f" ({spelled})" if spelled else ""),
                        f"expected columns {', '.join(c.name for c in wanted if c.required)}; "
                        f"found {', '.join(h for h in header if h)}", header_row)
    records = []
    for number, row in enumerate(rows, start=header_row + 1):
        if not row or all(v is None or str(v).strip() == "" for v in row):
            continue
        record = {title: row[i] if i < len(row) else None for i, title in enumerate(header) if title}
        record.update({key: row[i] if i < len(row) else None for key, i in position.items()})
        records.append((number, record))
    return Sheet(Path(path), name, header_row, tuple(header), tuple(records), several)


def find_files(root: Path, patterns: Iterable[str], max_depth: int = 4, prune: str | None = None) -> list[Path]:
    """Files below ``root`` (at most ``max_depth`` folders down) whose name matches one of ``patterns``
    (shell wildcards, case ignored); Office lock files (``~$…``) are skipped, and so are folders whose
    name matches the regular expression ``prune`` (frame trees: nothing to find there)."""
    import fnmatch

    patterns = [p.casefold() for p in patterns]
    skip = re.compile(prune) if prune else None
    found, level = [], [Path(root)]
    for _ in range(max_depth + 1):
        below = []
        for folder in level:
            try:
                entries = sorted(folder.iterdir())
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir():
                    if not (skip and skip.match(entry.name)):
                        below.append(entry)
                elif not entry.name.startswith("~$") and any(fnmatch.fnmatchcase(entry.name.casefold(), p)
                                                             for p in patterns):
                    found.append(entry)
        level = below
    return found


def find_annotation(root: Path, patterns: tuple[str, ...], what: str, option: str, sheet: Path | str | None = None,
                    prune: str | None = None) -> Path:
    """The one annotation file of a database: ``sheet`` when given, else the file below ``root`` whose
    name matches ``patterns``; none or several is an error saying exactly what was looked for."""
    if sheet:
        if not Path(sheet).is_file():
            raise DataError(sheet, f"{what} not found", f"pass an existing file with --dataset-opt {option}=FILE")
        return Path(sheet)
    if not Path(root).is_dir():
        raise DataError(root, "database folder not found", "point --data-root at the folder that holds it (or pass "
                                                           "its *_root option / MEBENCH_* variable)")
    found = find_files(root, patterns, prune=prune)
    if len(found) != 1:
        listed = ", ".join(str(p) for p in found) or "none"
        raise DataError(root, f"expected exactly one {what} ({' or '.join(patterns)}) anywhere below this folder, "
                              f"found {listed}",
                        f"keep the file distributed with the database, or pass --dataset-opt {option}=FILE")
    return found[0]


def find_dirs(root: Path, match, max_depth: int = 3, prune: str | None = None) -> list[Path]:
    """Folders below ``root`` (``root`` itself included, at most ``max_depth`` down) for which
    ``match(folder)`` holds; folders whose name matches ``prune`` may match but are not searched."""
    skip = re.compile(prune) if prune else None
    found, level = [], [Path(root)]
    for depth in range(max_depth + 1):
        below = []
        for folder in level:
            if match(folder):
                found.append(folder)
            if depth == max_depth or (skip and depth and skip.match(folder.name)):
                continue
            try:
                below += sorted(p for p in folder.iterdir() if p.is_dir())
            except OSError:
                continue
        level = below
    return found


def frame_number(value: Any, field: str, file: object, row: object, missing_ok: bool = False) -> int | None:
    """A frame-number cell; '/', '-1' or empty mean unknown where ``missing_ok``."""
    text = str(value).strip() if value is not None else ""
    if missing_ok and text in ("", "/", "-1", "-", "None"):
        return None
    try:
        number = float(text)
        if number != int(number):
            raise ValueError
        return int(number)
    except ValueError:
        raise DataError(file, f"{field} {text!r} is not a frame number", "correct the cell or add an erratum",
                        row) from None
