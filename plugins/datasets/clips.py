"""What a database reader gives: one ``Clip`` per annotated clip, as the database's own files describe it, and
a ``Reading`` (the clips, what was read, warnings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mebench.errors import DataError
from mebench_plugins.datasets.action_units import AUCell, au_cell
from mebench_plugins.datasets.sheets import Sheet, frame_number


@dataclass(frozen=True)
class Clip:
    """One annotated clip as a dataset's own files describe it: the emotion as written, never its class (the
    task that builds samples assigns it from the database's declaration, ``catalog.clip_class``)."""

    dataset: str
    subject: str  # namespaced: casme2/sub01
    name: str  # clip name as in the official list: EP02_01f, 006_1_2, s01_ne_01; CAS(ME)³: a_355 (Filename_Onset)
    emotion: str  # as the annotation (or an erratum) writes it
    onset: int | None
    apex: int | None
    offset: int | None
    folder: Path
    source: str  # file the annotation came from
    row: int | str | None
    cropped: bool | None = None  # frames already cropped to the face (known from the layout read)
    annotated: bool = True  # the database annotates an apex (SMIC, SMIC-E: False; onset/offset may still be given)
    corrections: tuple[str, ...] = ()  # errata applied to this clip and slips named by its reader, one note each
    corrected_fields: frozenset[str] = frozenset()  # fields an erratum set
    recording: bool = False  # the folder is a whole recording; the sample is its onset..offset span
    flagged: tuple[tuple[int, str], ...] = ()  # frames of the folder an exception list names: (frame, list)
    au: AUCell | None = None  # the row's action-unit cells (None: the sheet has no AU column)
    #: a span of a whole recording (``recording``): the recording's first and last frame as the annotation gives
    #: them (SMIC-E FirstF..LastF), the longest span that can be an expression, in frames, and the earlier span of
    #: the same row this one repeats; ``span_problems`` checks the span against them
    extent: tuple[int, int] | None = None
    longest: int | None = None
    repeats: str | None = None
    #: where the emotion was read when that is not the clip's ``source`` and ``row`` (file, row): SMIC's emotion
    #: folder, the erratum that set it; an emotion outside the database's vocabulary is an error naming it
    emotion_from: tuple[object, object] | None = None

    @property
    def id(self) -> str:
        return f"{self.subject}/{self.name}"

    @property
    def where(self) -> str:
        return f"{self.source}, row {self.row}" if self.row is not None else str(self.source)


@dataclass
class Reading:
    """What a database reader found: the clips (every annotated one, excluded emotions too), one line per
    file or layout it read (``mebench data check`` prints them), and warnings that do not block."""

    clips: list[Clip]
    sources: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def clip_from_sheet(dataset: str, subject: str, record: dict[str, Any], columns: tuple[str, ...], frames_root: Path,
                    sheet: Sheet, row: int, cropped: bool | None, folder: Path | None = None) -> Clip:
    """A clip from one coding-spreadsheet row; ``columns`` names the (filename, onset, apex, offset,
    emotion) columns of that dataset's spreadsheet. The emotion is kept as written (the task checks it against
    the database's vocabulary, naming the row). The clip's frames are in ``folder``, by default
    ``frames_root/<subject>/<filename>``."""
    filename, onset, apex, offset, emotion_column = columns
    name = str(record[filename] or "").strip()
    if not name:
        raise DataError(sheet.source, f"empty {filename}", "correct the cell", row)
    emotion = str(record[emotion_column] or "").strip()
    return Clip(
        dataset=dataset, subject=f"{dataset}/{subject}", name=name, emotion=emotion,
        onset=frame_number(record[onset], onset, sheet.source, row),
        apex=frame_number(record[apex], apex, sheet.source, row, missing_ok=True),
        offset=frame_number(record[offset], offset, sheet.source, row),
        folder=folder if folder is not None else frames_root / subject / name, source=sheet.source, row=row,
        cropped=cropped, au=au_cell(record),
    )
