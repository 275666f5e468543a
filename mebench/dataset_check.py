"""A copy of a dataset task checked against its annotation and, where there is one, its official list:
what was found, what is missing or extra, what blocks, and the counts ``mebench data check`` prints."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import pandas as pd
from tabulate import tabulate

from mebench.errors import UsageError
from mebench.tasks import MULTI_LABEL, SINGLE_LABEL, TaskKind

if TYPE_CHECKING:
    from mebench.data import DatasetSpec, Sample

#: How many missing, extra or problem lines ``render`` lists unless asked for all.
LISTED = 20
CORRECTIONS_TITLE = ("corrections (known annotation slips, corrected; they do not block a run; "
                     "--dataset-opt strict=true refuses them)")


@dataclass
class DatasetCheck:
    """A copy of a dataset task compared with its official sample list (``expected`` is empty where the
    task has none and is built from the dataset's own annotation)."""

    dataset: str
    expected: list[tuple[str, str, str]]  # (sample id, subject, label) from the official list
    found: list["Sample"]
    missing: list[str]
    extra: list[str]
    problems: list[str]
    #: what does not block but a user should know (an erratum that no longer applies, frames an exception
    #: list names), one line each
    warnings: list[str] = field(default_factory=list)
    #: what was read (annotation file and sheet, frame layout) and what the task's rules excluded
    sources: list[str] = field(default_factory=list)
    #: the task's kind (``mebench.tasks``); ``check_dataset`` sets it from the task's ``DatasetSpec``
    kind: TaskKind = SINGLE_LABEL

    @property
    def ok(self) -> bool:
        return not self.missing and not self.problems

    @property
    def corrections(self) -> list[str]:
        return [note for sample in self.found for note in sample.corrections]

    def found_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"subject": [s.subject for s in self.found], "class": [s.label for s in self.found],
                             "dataset": [s.dataset for s in self.found],
                             "cropped": [s.cropped for s in self.found]})

    @property
    def multilabel(self) -> bool:
        """Deprecated: whether the task is multi-label; read ``kind``."""
        warnings.warn("DatasetCheck.multilabel is deprecated; use DatasetCheck.kind (mebench.api.MULTI_LABEL)",
                      DeprecationWarning, stacklevel=2)
        return self.kind is MULTI_LABEL

    def label_frame(self) -> pd.DataFrame:
        """One row per (sample, label) of a multi-label task: subject, dataset and label."""
        return pd.DataFrame([{"subject": s.subject, "dataset": s.dataset, "label": target}
                             for s in self.found for target in s.targets or ()], columns=["subject", "dataset", "label"])

    def label_counts(self, labels: Sequence[str]) -> pd.DataFrame:
        """A multi-label task's samples showing each label, per source dataset (and in all), with the
        number of samples in a last row."""
        rows = self.label_frame()
        counts = pd.crosstab(rows["label"], rows["dataset"]).reindex(index=list(labels), fill_value=0)
        if counts.shape[1] > 1:
            counts["all"] = counts.sum(axis=1)
        samples = pd.Series([s.dataset for s in self.found]).value_counts()
        counts.loc["samples"] = [int(samples.get(c, len(self.found))) for c in counts.columns]
        return counts.fillna(0).astype(int)

    def class_counts(self, classes: Sequence[str]) -> pd.DataFrame:
        """Samples per class (``found``, and ``official`` where there is a list), with a total row;
        multi-label: samples per label (``label_counts``)."""
        if self.kind.several_per_sample:
            return self.label_counts(classes)
        found = self.found_frame()["class"].value_counts()
        if self.expected:
            official = pd.Series([label for _, _, label in self.expected]).value_counts()
            counts = pd.DataFrame({"official": official, "found": found})
        else:
            counts = pd.DataFrame({"samples": found})
        order = list(classes) + sorted(set(counts.index) - set(classes))
        counts = counts.reindex(order).fillna(0).astype(int)
        counts.loc["total"] = counts.sum()
        return counts

    def subject_counts(self, classes: Sequence[str]) -> pd.DataFrame:
        """Per subject: official and found counts (official list), else samples per class and total."""
        found = self.found_frame()
        if self.kind.several_per_sample:
            rows = self.label_frame()
            table = pd.crosstab(rows["subject"], rows["label"]).reindex(columns=list(classes), fill_value=0)
            table = table.reindex(sorted(found.subject.unique()), fill_value=0)
            table["samples"] = found.subject.value_counts().reindex(table.index).astype(int)
            return table
        if self.expected:
            official = pd.Series([subject for _, subject, _ in self.expected]).value_counts()
            table = pd.DataFrame({"official": official, "found": found.subject.value_counts()})
            return table.fillna(0).astype(int).sort_index()
        table = pd.crosstab(found.subject, found["class"]).reindex(columns=list(classes), fill_value=0)
        table["total"] = table.sum(axis=1)
        return table

    def face_regions(self) -> pd.DataFrame:
        """Per source dataset: samples, how many are already cropped and how many ``face_crop`` will crop."""
        found = self.found_frame()
        return found.groupby("dataset")["cropped"].agg(
            samples="size", already_cropped=lambda c: int((c == True).sum()),  # noqa: E712 (None is unknown)
            to_be_cropped=lambda c: int((c == False).sum()))  # noqa: E712

    def render(self, classes: Sequence[str], list_all: bool = False) -> str:
        """The report ``mebench data check`` prints (without its final OK / NOT OK line)."""
        lines = [self._headline(), *(f"  {line}" for line in self.sources), ""]
        counts = self.class_counts(classes)
        lines.append(tabulate(counts.reset_index().values.tolist(),
                              headers=[self.kind.label_word, *counts.columns], tablefmt="github"))
        subjects = self.subject_counts(classes)
        lines += ["", tabulate(subjects.reset_index().values.tolist(), headers=["subject", *subjects.columns],
                               tablefmt="github")]
        if self.found:
            lines += ["", "face region (a face_crop step in auto mode crops the samples whose frames are not cropped):",
                      tabulate(self.face_regions().reset_index().values.tolist(),
                               headers=["dataset", "samples", "already cropped", "to be face-cropped"],
                               tablefmt="github")]
        limit = None if list_all else LISTED
        for title, items in ((CORRECTIONS_TITLE, self.corrections),
                             ("warnings (they do not block a run)", self.warnings), ("missing", self.missing),
                             ("extra (not in the official list; not used)", self.extra), ("problems", self.problems)):
            if items:
                lines += ["", f"{title}: {len(items)}"] + [f"  {item}" for item in items[:limit]]
                if limit and len(items) > limit:
                    lines.append(f"  … {len(items) - limit} more (--list-all)")
        return "\n".join(lines)

    def _headline(self) -> str:
        found = self.found_frame()
        if self.expected:
            subjects = len({subject for _, subject, _ in self.expected})
            return (f"{self.dataset}: {len(found)} of {len(self.expected)} official samples found, "
                    f"{found.subject.nunique()} of {subjects} subjects")
        return (f"{self.dataset}: no official sample list for this task (built from the dataset's own annotation); "
                f"{len(found)} samples, {found.subject.nunique()} subjects")


def check_dataset(spec: "DatasetSpec", data_root: str | None, given: Mapping[str, Any]) -> DatasetCheck:
    """Check a copy of the task ``spec`` (``mebench data check``), its options validated first."""
    if spec.check is None:
        raise UsageError(f"dataset {spec.name!r} reads no files of yours, so there is nothing to check")
    values, _ = spec.resolve_options(given)
    report = spec.check(data_root, **values)
    report.kind = spec.kind
    return report
