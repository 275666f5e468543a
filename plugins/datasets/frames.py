"""A clip's frames on disk: numbered by the digits of their file names, indexed once, and the onset, apex and
offset an annotation points at with its known slips corrected (or refused when strict)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mebench.errors import DataError
from mebench.frame_files import FRAME_NUMBER, IMAGE_SUFFIXES, FrameFiles, number_frames  # noqa: F401 (the rule's home)

if TYPE_CHECKING:
    from mebench_plugins.datasets.clips import Clip


def index_frames(folder: Path, file: object = None, row: object = None) -> FrameFiles:
    """All images in ``folder``, numbered by the last digits of their names (gaps allowed)."""
    if not folder.is_dir():
        raise DataError(folder, "missing clip folder", "the annotation lists this clip; restore the folder from "
                                                       "your copy or check --data-root", row)
    frames = number_frames(folder)
    if not frames.files:
        raise DataError(folder, "clip folder holds no images", "restore the frames from your copy", row)
    return frames


@dataclass(frozen=True)
class ResolvedFrames:
    """A clip's onset, apex and offset as used, plus one note per annotation slip corrected."""

    onset: int
    apex: int | None
    offset: int
    corrections: tuple[str, ...]


STRICT_FIX = "correct the annotation or add an erratum (strict=true refuses known annotation slips)"


def resolve_frames(clip: "Clip", frames: FrameFiles, strict: bool = False) -> ResolvedFrames:
    """The frames a clip's annotation points at, with known annotation slips corrected.

    The distributed spreadsheets have slips that cannot be fixed in a user's copy, so they do not
    block a run: an offset past the clip's last frame is clamped to the last frame, an onset before
    its first frame to the first frame (clips are cut to start at the onset), and a missing or
    out-of-range apex falls back to the preprocessing chain's apex rule. Each correction is a one-line
    note naming file, row, sample and the value used. ``strict`` refuses every slip instead (a
    ``DataError``). Blocking problems stay errors: an onset after the offset, an onset or offset
    frame inside the clip whose file is missing, and an apex from an erratum that is not such a frame
    (an apex an erratum set or cleared gets no second note).
    """
    present = frames.indices()
    first, last = present[0], present[-1]
    where = f"{clip.source}, row {clip.row}" if clip.row is not None else str(clip.source)
    notes: list[str] = []
    problems = span_problems(clip)
    if problems:
        raise DataError(clip.source, f"{clip.id}: {'; '.join(problems)}",
                        "correct the cells or add an erratum (fields onset, offset)", clip.row)
    if clip.onset is not None and clip.offset is not None and clip.onset <= clip.offset and (
            clip.onset > last or clip.offset < first):  # wholly outside: named by the annotated values
        raise DataError(clip.source, f"{clip.id}: onset..offset {clip.onset}..{clip.offset} lies outside the clip's "
                                     f"frames {first}..{last}", "correct the annotation or add an erratum", clip.row)

    def correct(problem: str, used: str) -> None:
        if strict:
            raise DataError(clip.source, f"{clip.id}: {problem}", STRICT_FIX, clip.row)
        notes.append(f"{where}: {clip.id}: {problem}; used {used}")

    onset = clip.onset if clip.onset is not None else first  # SMIC: the clip is the expression
    offset = clip.offset if clip.offset is not None else last
    if onset < first:
        correct(f"onset {onset} is before the clip's first frame {first}", f"onset {first} (the first frame)")
        onset = first
    if offset > last:
        correct(f"offset {offset} is past the clip's last frame {last}", f"offset {last} (the last frame)")
        offset = last
    if not onset <= offset:  # the annotated values, never clamped ones
        raise DataError(clip.source, f"{clip.id}: onset {clip.onset if clip.onset is not None else onset} is after "
                                     f"offset {clip.offset if clip.offset is not None else offset}",
                        "correct the annotation or add an erratum", clip.row)
    for name, index in (("onset", onset), ("offset", offset)):
        if index not in present:
            raise DataError(frames.folder, f"missing {name} frame {index} (frames present: {first}..{last})",
                            f"restore the frame from your copy or correct the annotation in {clip.source}", clip.row)
    apex = clip.apex
    if clip.annotated and "apex" not in clip.corrected_fields:
        if apex is None:
            correct("apex frame not annotated", "the apex rule of the preprocessing chain")
        elif not onset <= apex <= offset:
            correct(f"apex {apex} is outside onset..offset ({onset}..{offset})",
                    "the apex rule of the preprocessing chain")
            apex = None
        elif apex not in present:
            correct(f"no frame numbered apex {apex} in {frames.folder}", "the apex rule of the preprocessing chain")
            apex = None
    elif apex is not None and not (onset <= apex <= offset and apex in present):
        raise DataError(clip.source, f"{clip.id}: apex {apex} from the errata is not a frame within "
                                     f"onset..offset ({onset}..{offset})", "correct the erratum", clip.row)
    return ResolvedFrames(onset, apex, offset, tuple(notes))


def span_problems(clip: "Clip") -> list[str]:
    """What refuses a span of a recording, as the annotation (or an erratum) gives it, never a corrected value:
    it repeats an earlier span of its row, it is longer than an expression can be (``clip.longest``), or it
    does not lie within the recording's frames as the annotation gives them (``clip.extent``)."""
    onset, offset, problems = clip.onset, clip.offset, []
    if onset is None or offset is None:
        return problems
    if clip.repeats and not {"onset", "offset"} & clip.corrected_fields:
        problems.append(f"repeats {clip.repeats} of the same row")
    if clip.longest is not None and offset - onset + 1 > clip.longest:
        problems.append(f"is {offset - onset + 1:,} frames long, far longer than an expression (at most "
                        f"{clip.longest:,} frames)")
    if clip.extent is not None and not (clip.extent[0] <= onset and offset <= clip.extent[1]):
        problems.append(f"does not lie within the recording's frames {clip.extent[0]}..{clip.extent[1]} (the "
                        f"sheet's first and last frame)")
    return [f"span {onset}..{offset} {' and '.join(problems)}"] if problems else []
