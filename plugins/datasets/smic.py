"""SMIC as distributed: one folder per camera, ``HS/`` (100 fps high-speed, 164 clips, 16 subjects)
and ``VIS/`` and ``NIR/`` (25 fps visual and near-infrared cameras, 71 clips of the last 8 subjects each),
each ``s1/micro/{negative,positive,surprise}/s1_ne_01/*.bmp`` (not cropped to the face), or the widely
shared face-cropped copy under ``SMIC_all_cropped/<camera>``; ``Clip.cropped`` says which was read. No
apex is annotated; onset and offset are the first and last frames. Folder names are unpadded
(``s3_po_08``) where the MEGC2019 list pads them (``s03_po_08``).

The HS layout is the one MEB (``tvaranka/meb``) reads. That ``VIS/`` and ``NIR/`` sit beside ``HS/`` with
the same structure is NOT confirmed by a public source (docs/datasets.md, "Unconfirmed"): a copy laid
out otherwise gets a message saying exactly what was looked for.

Reference: Li et al., A Spontaneous Micro-Expression Database: Inducement, Collection and
Baseline, IEEE FG 2013.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

from mebench.data import MEGC2019_CLASSES, Reference
from mebench.errors import DataError
from mebench_plugins.datasets.clips import Clip, Reading
from mebench_plugins.datasets.declaration import Database, NativeTask

SMIC = Reference("Li, X.; Pfister, T.; Huang, X.; Zhao, G.; Pietikäinen, M.",
                 "A Spontaneous Micro-Expression Database: Inducement, Collection and Baseline", "IEEE FG", 2013)
#: SMIC's three labels (its emotion folders), the same in every camera and in SMIC-E.
EMOTIONS = {"negative": "negative", "positive": "positive", "surprise": "surprise"}
#: Where every part of SMIC lives (HS, VIS, NIR and SMIC-E): one folder, one ``smic_root``.
ROOT = dict(root="smic", folder="SMIC", root_name="SMIC (HS, VIS, NIR, SMIC-E)")
#: Every part of SMIC shows the same recordings (``Database.recordings``).
RECORDINGS = "SMIC"

CLIP_NAME = re.compile(r"^s(\d+)_([a-z]+)_(\d+)$")
#: Dataset key of each camera's clips (their ids and subjects are namespaced by it).
CAMERAS = {"HS": "smic", "VIS": "smic-vis", "NIR": "smic-nir"}


def layouts(camera: str) -> dict[str, bool]:
    """The folders a camera's clips may sit in, in order of preference, each with whether its frames are
    already cropped to the face."""
    return {camera: False, f"SMIC_all_cropped/{camera}": True}


def read_smic(root: Path, sheet: Path | None = None, camera: str = "HS") -> Reading:
    root, dataset = Path(root), CAMERAS[camera]
    layout = next((name for name in layouts(camera) if (root / name).is_dir()), None)
    if layout is None:
        raise DataError(root, f"no SMIC-{camera} folder {camera}/ or SMIC_all_cropped/{camera}/",
                        "point --data-root at the folder holding SMIC/ (or --dataset-opt smic_root=DIR); expected "
                        f"{camera}/s<k>/micro/<negative|positive|surprise>/s<k>_<ne|po|sur>_<nn>/")
    cropped = layouts(camera)[layout]
    folder = root / layout
    clips = []
    for subject_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        micro = subject_dir / "micro"
        if not micro.is_dir():
            raise DataError(subject_dir, "subject folder has no micro/ folder", "restore it from your copy")
        for emotion_dir in sorted(p for p in micro.iterdir() if p.is_dir()):
            for clip_dir in sorted(p for p in emotion_dir.iterdir() if p.is_dir()):
                match = CLIP_NAME.match(clip_dir.name)
                if not match:
                    raise DataError(clip_dir, "clip folder name is not like s1_ne_01", "rename it as distributed")
                subject = f"s{int(match.group(1)):02d}"
                clips.append(Clip(
                    dataset=dataset, subject=f"{dataset}/{subject}",
                    name=f"{subject}_{match.group(2)}_{match.group(3)}", emotion=emotion_dir.name,
                    onset=None, apex=None, offset=None, folder=clip_dir, source=str(clip_dir), row=None,
                    cropped=cropped, annotated=False, emotion_from=(emotion_dir, None),
                ))
    return Reading(clips, [f"clips {folder}/s<k>/micro/<emotion>/<clip>/ "
                           f"({'face-cropped' if cropped else 'not cropped'}; labels from the emotion folders)"])


#: SMIC-HS, whose 3-class task is MEGC2019's (``smic``), and the VIS and NIR cameras.
HS = Database("smic", "SMIC-HS", reader=partial(read_smic, camera="HS"), sheet=False, **ROOT, reference=SMIC,
              emotions=dict(EMOTIONS), recordings=RECORDINGS, megc2019=True)
VIS = Database("smic-vis", "SMIC-VIS", reader=partial(read_smic, camera="VIS"), sheet=False, **ROOT, reference=SMIC,
               emotions=dict(EMOTIONS), recordings=RECORDINGS,
               tasks=(NativeTask("smic-vis", MEGC2019_CLASSES, None,
                                 "SMIC-VIS (25 fps visual camera), 3-class: 71 clips, 8 subjects in the literature; "
                                 "no apex annotated"),))
NIR = Database("smic-nir", "SMIC-NIR", reader=partial(read_smic, camera="NIR"), sheet=False, **ROOT, reference=SMIC,
               emotions=dict(EMOTIONS), recordings=RECORDINGS,
               tasks=(NativeTask("smic-nir", MEGC2019_CLASSES, None,
                                 "SMIC-NIR (25 fps near-infrared camera), 3-class: 71 clips, 8 subjects in the "
                                 "literature; no apex annotated"),))
