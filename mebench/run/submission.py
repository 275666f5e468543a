"""Challenge submissions (``mebench submit``): a spotter trained on every labelled video of the chosen spotting
tasks (no test fold: the challenge's test videos are the unlabelled ones), run on a folder of unlabelled videos,
its intervals written in the form a challenge's server reads.

The unlabelled videos are the sub-folders of one folder, one per video, each holding its frames as image files
(``.jpg``, ``.jpeg``, ``.png``, ``.bmp``) numbered by the last run of digits in their names (``img046.jpg`` is
frame 46), as the long-video readers number them. A video's frame numbers are its own: its first file's number
(1 for ``img001.jpg``), never a position counted from 0, so the submission names the frames the organisers'
ground truth names. A video's frame rate comes from ``fps.csv`` in the folder (``vid,fps``, one row per
video) where it names the video, else from ``--fps``; a video with neither is refused.

Forms (``FORMATS``): ``megc2023``, the spotting form of MEGC2022–2023, a header ``vid,pred_onset,pred_offset,type``
and one row per spotted interval, ``type`` ``me`` or ``mae``. The spot-then-recognise form of MEGC2024–2025 adds
the recognised emotion of each interval; its columns could not be confirmed from a readable page of those
challenges, so it is named in ``STR_FORMATS`` and refused in one line (``str_rows`` is its hook).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from mebench.errors import DataError, UsageError
from mebench.frame_files import IMAGE_SUFFIXES, FrameFiles, number_frames
from mebench.run.learners import SPOTTER, learner_for
from mebench.long_videos import KINDS, LongVideo
from mebench.run.plan import load_task_samples, resolve_model_options
from mebench.registry import Registry

FPS_FILE = "fps.csv"
#: The dataset name the unlabelled videos carry (``LongVideo.dataset``); a video's subject is its folder's name.
UNLABELLED = "unlabelled"


def index_video(folder: Path) -> FrameFiles:
    """The frames of one video folder by number (``mebench.frame_files``); a folder without frames is refused in
    one line."""
    frames = number_frames(folder)
    if not frames.files:
        raise DataError(folder, f"video folder holds no frames ({', '.join(IMAGE_SUFFIXES)})",
                        "put the video's frames in it as image files, or remove the folder")
    return frames


def read_fps_file(path: Path) -> dict[str, float]:
    """``fps.csv``: video folder name → frame rate (header ``vid,fps``)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    header = [name.strip().lower() for name in (rows[0] if rows else [])]
    if header[:2] != ["vid", "fps"]:
        raise DataError(path, f"header {rows[0] if rows else []}", "write the header vid,fps and one row per video",
                        1)
    rates = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            rate = float(row[1])
        except (IndexError, ValueError):
            rate = float("nan")
        if not (np.isfinite(rate) and rate > 0):
            raise DataError(path, f"frame rate {row[1:2]} of video {row[0]!r} is not a positive number",
                            "give the video's frames per second, e.g. 30 or 200", number)
        rates[row[0].strip()] = rate
    return rates


def read_unlabelled_videos(folder: Path, fps: float | None = None) -> list[LongVideo]:
    """Every sub-folder of ``folder`` as one video (sorted by name), its frames numbered by their file names."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "no such folder", "pass --videos DIR holding one sub-folder of frames per video")
    subfolders = sorted(path for path in folder.iterdir() if path.is_dir())
    if not subfolders:
        raise DataError(folder, "holds no video folders",
                        "put each unlabelled video's frames in a sub-folder of its own (DIR/<video>/img001.jpg)")
    rates = read_fps_file(folder / FPS_FILE) if (folder / FPS_FILE).is_file() else {}
    unknown = sorted(set(rates) - {path.name for path in subfolders})
    if unknown:
        raise DataError(folder / FPS_FILE, f"names videos without a folder: {', '.join(unknown)}",
                        "name each video by its folder's name")
    videos = []
    for path in subfolders:
        rate = rates.get(path.name, fps)
        if rate is None:
            raise DataError(path, "no frame rate for this video",
                            f"pass --fps N, or list it in {folder / FPS_FILE} (vid,fps)")
        frames = index_video(path)
        videos.append(LongVideo(dataset=UNLABELLED, subject=f"{UNLABELLED}/{path.name}", video=path.name,
                                fps=float(rate), frames=frames, n_frames=len(frames.files)))
    return videos


# --- forms ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SubmissionFormat:
    """A challenge's file: its header and, per video, the rows of its spotted intervals."""

    name: str
    description: str
    header: tuple[str, ...]
    rows: Callable[[str, Sequence[tuple[int, int, str]]], list[list[Any]]]


def spotting_rows(video: str, intervals: Sequence[tuple[int, int, str]]) -> list[list[Any]]:
    """MEGC2022–2023 spotting: ``vid, pred_onset, pred_offset, type`` per interval, sorted by onset."""
    return [[video, onset, offset, kind] for onset, offset, kind in sorted(intervals)]


def str_rows(video: str, intervals: Sequence[tuple[int, int, str, str]]) -> list[list[Any]]:
    """The hook for the spot-then-recognise form (MEGC2024–2025): each interval with its recognised emotion.
    Not written yet: it needs a recogniser per spotted interval (the STR protocol)."""
    raise UsageError("the spot-then-recognise submission form is not written yet; use --format megc2023")


FORMATS: dict[str, SubmissionFormat] = {
    "megc2023": SubmissionFormat("megc2023", "MEGC2022–2023 spotting: vid,pred_onset,pred_offset,type",
                                 ("vid", "pred_onset", "pred_offset", "type"), spotting_rows),
}
#: Forms named but not yet written (``str_rows``): asking for one says so in one line.
STR_FORMATS = ("megc2024-str", "megc2025-str")


def submission_format(name: str) -> SubmissionFormat:
    if name in FORMATS:
        return FORMATS[name]
    if name in STR_FORMATS:
        str_rows(name, [])
    raise UsageError(f"--format {name!r}: mebench writes {', '.join(FORMATS)} (spot-then-recognise forms "
                     f"{', '.join(STR_FORMATS)} are not written yet)")


# --- training and spotting ------------------------------------------------------------------------------------

@dataclass
class Submission:
    """What ``submit`` did: the file, the videos it trained on and spotted, the intervals per video."""

    path: Path
    model: str
    tasks: list[str]
    trained_on: list[str]
    intervals: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)

    def summary(self) -> str:
        counts = {kind: sum(1 for found in self.intervals.values() for *_, k in found if k == kind) for kind in KINDS}
        return (f"{self.model} trained on {len(self.trained_on)} labelled videos of {', '.join(self.tasks)}; "
                f"spotted {counts['me']} ME and {counts['mae']} MaE intervals in {len(self.intervals)} videos; "
                f"wrote {self.path}")


def training_videos(registry: Registry, tasks: Sequence[str], data_root: str | None,
                    dataset_options: dict[str, Any]) -> tuple[list[LongVideo], tuple[str, ...]]:
    """Every labelled video of the tasks (each a spotting task; the options go to each) and the types they
    annotate, in ``KINDS`` order."""
    videos, types = [], set()
    for task in tasks:
        spec = registry.datasets.get(task)
        if "spotter" not in spec.kind.learners:
            raise UsageError(f"--train {task!r} is not a spotting task; name long-video tasks such as "
                             f"synthetic-long, casme2-long, samm-long")
        if spec.needs_data_root and data_root is None:
            raise UsageError(f"--train {task!r} reads your copy: point --data-root (or $MEBENCH_DATA) at it")
        loaded, _ = load_task_samples(spec, data_root, dataset_options)
        values, _ = spec.resolve_options(dataset_options)
        videos += loaded
        types |= set(spec.task_classes(values))
    return videos, tuple(kind for kind in KINDS if kind in types)


def build_spotter(registry: Registry, model: str, model_options: dict[str, Any], types: Sequence[str]):
    """A fresh spotter of ``model`` with its options checked; a model that is not a spotter is refused."""
    spec = registry.models.get(model)
    values = resolve_model_options(spec, model_options, len(types))
    build = lambda: spec.build(len(types), **values)  # noqa: E731
    if learner_for(build, spec.learner) is not SPOTTER:
        raise UsageError(f"--model {model!r} is not a spotter; a submission needs one (e.g. mdmd)")
    return build()


def checked_intervals(spotter: Any, video: LongVideo, types: Sequence[str], intervals: Sequence[Any]
                      ) -> list[tuple[int, int, str]]:
    """The spotter's answer for ``video`` as (onset, offset, type) triples; one that is not an interval of the
    video's frames with a type among ``types`` stops the submission (``RunError``, one line), as it stops a run
    (the spotter learner's own check, ``SpotterLearner._spotted``)."""
    flat = SPOTTER._spotted(spotter, video, tuple(types), list(intervals))
    return [(flat[k], flat[k + 1], types[flat[k + 2]]) for k in range(0, len(flat), 3)]


def submit(registry: Registry, model: str, tasks: Sequence[str], videos_dir: Path, output: Path,
           fmt: str = "megc2023", data_root: str | None = None, model_options: dict[str, Any] | None = None,
           dataset_options: dict[str, Any] | None = None, fps: float | None = None,
           log: Callable[[str], None] | None = None) -> Submission:
    """Train ``model`` on every labelled video of ``tasks``, spot each video of ``videos_dir`` and write the
    ``fmt`` file to ``output``. Everything the user gives is checked before training starts."""
    form = submission_format(fmt)
    if not tasks:
        raise UsageError("--train names no task; give one or more spotting tasks, e.g. --train casme2-long,samm-long")
    unlabelled = read_unlabelled_videos(Path(videos_dir), fps)
    train, types = training_videos(registry, tasks, data_root, dict(dataset_options or {}))
    spotter = build_spotter(registry, model, dict(model_options or {}), types)
    if log:
        log(f"training {model} on {len(train)} labelled videos of {', '.join(tasks)}; then spotting "
            f"{len(unlabelled)} unlabelled videos")
    if callable(getattr(spotter, "fit", None)):
        spotter.fit(train)
    found: dict[str, list[tuple[int, int, str]]] = {}
    for video in unlabelled:
        found[video.video] = checked_intervals(spotter, video, types, spotter.spot_video(video))
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(form.header)
        for video, intervals in found.items():
            writer.writerows(form.rows(video, intervals))
    return Submission(output, model, list(tasks), [video.id for video in train], found)
