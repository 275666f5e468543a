"""Facial action units (FACS) as the databases' coding sheets write them, read by stated rules.

Every MER database codes each clip's action units in one cell (CASME II and SAMM ``Action Units``,
CAS(ME)³ and CASME ``AU``, MMEW ``Action Units``, 4DME ``AUs``; 4DME also has one column per AU).
``parse_au_cell`` reads one cell into an ``AUCode``; ``resolve`` turns that into the AUs an AU task
counts, under the task's options. The rules, with their sources (docs/datasets.md, "Action units",
repeats them for users):

1. **Separators.** ``+`` (CASME II, SAMM, CAS(ME)³ Part A) and ``,`` (CAS(ME)³ Part C, ``R4,5``) separate
   codes; spaces around them are ignored (SAMM ``L12 + 61``, ``7B+ ref(43)``) and so is one trailing
   separator (Part C ``14,L24,``). The cell is read after Unicode compatibility normalisation (NFKC,
   Unicode Standard Annex #15), so the full-width comma of Part C's ``4，11`` is a comma. Any other empty
   item (``4++7``) blocks. A number cell (``4``, ``4.0``) is that AU.
2. **One code** is ``[AU][prefix]<number>[intensity][(k)][?]`` (letters in either case: the full
   CAS(ME)³ sheet writes ``r18``), the number 1–99. What each part means — none of it changes which
   AU it is (AU12 = L12 = R12A = A12B = T12):

   - ``L`` / ``R``: unilateral, left or right side only. FACS 2002 manual, ch. 10, Scoring Step V ("If
     there is no trace of evidence for the AU on one side, score the action as unilateral using 'L' or
     'R'"); the SAMM sheet's own key ("L2 or R2" = unilateral AU 2 on the left / right side).
   - ``A`` before the number: asymmetric, on both sides but stronger on one (SAMM key: "A2" =
     asymmetric AU 2; FACS 2002 ch. 11 scores asymmetry). Not the intensity A, which follows the number.
   - ``T`` / ``B``: **not documented** in any source we could read. They occur only with lip AUs (18,
     22, 23, 24, 28) in the public sheets, so we read them as top / bottom lip; either way they locate
     the AU and do not change it. ``U``: not documented and absent from the public sheets; read like
     ``L``/``R`` (a side or location mark).
   - ``AU`` before the code: the label written out (4DME ``AU4(k)``, ``AUR2``).
   - ``A``–``E`` after the number: intensity, A trace … E maximum (FACS 2002 manual, the "C" sections
     of each AU, e.g. "AU 16C … marked", "AU 16E … maximum range"). Dropped: an AU task is detection.
   - ``(k)``: 4DME marks static AUs so (MEB's earlier reader: "static (marked as (k) in the file)
     AUs"; no 4DME document we could read says so). A static AU is held, not moved, so it counts as
     absent, as MEB counts it by default (``ignore_ks=False``).
   - ``?`` after a code: the SAMM key: "some AU's continue for a while and have unclear offset"; the
     AU is present (CAS(ME)³ Part C ``13?``: not documented there; read by the SAMM key).
3. **Alternatives.** ``/`` means "or" (SAMM key: ``"/" = or``); SAMM also writes the word ``or``.
   Between letters of one code it chooses an intensity or a side of one AU (``10A/B`` = AU10 at A or
   B; ``A/L12`` = AU12 asymmetric or left): one AU, no alternative. Between codes of different AUs
   (``L12 or L14``, ``(R6 or R12)+R15``, ``R14A or 17A or 24A``) the coders could not decide between AUs:
   an ``AUCode.alternatives`` group, which the task option ``alternatives`` resolves (``resolve``).
   Such alternatives must be the whole cell or be in parentheses; ``L12 or L14+25`` blocks as ambiguous.
   (MEB's parser joins their digits into "AU 612", "AU 1214", "AU 141724" and patches the five SAMM
   rows by position; mebench reads them by rule.)
4. **``ref(…)``** (SAMM only: ``12A+ref(24)``, ``ref(7B)+43``, ``7B+ ref(43)``, ``ref(L10)+A12B``): **not
   documented** — the SAMM key does not define it and no source we could read explains it. The AU
   inside is read like any code and kept apart (``AUCode.referenced``); the task option ``ref``
   decides: ``present`` (default: what MEB counts) or ``absent``.
5. **Not coded.** An empty cell or a cell ``?`` alone (CASME II, five rows) codes nothing: the clip
   leaves an AU task (``AUCode.coded`` is False) and ``mebench data check`` lists it.
6. **Free text.** An item of words only (SAMM ``R14+17+soft focus``) is a note, not an AU: ignored
   and listed. A cell of notes only blocks.
7. **Anything else blocks** (``AUSyntaxError``; the task names file, row and value).

4DME's one column per AU (``AU1``, ``AU2``, …, 1 = present) is read by ``read_cell``: the ``AUs`` cell,
where the sheet has one, is read by the rules above and the columns are checked against it (a
disagreement is a note: the cell is used); a sheet with only the columns is read from them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from mebench.errors import OptionError

#: MEB's AU set (``meb/utils/utils.py``, ``dataset_aus["cross"]``), the default of every AU task.
MEB_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17)
#: How a task resolves alternatives between AUs: count them ``all``, the ``first`` only, or ``drop`` the clip.
ALTERNATIVES = ("drop", "all", "first")
#: How a task reads ``ref(…)``: the AU inside is ``present`` or ``absent``.
REFERENCES = ("present", "absent")

#: The spreadsheet column holding a row's AU code, as each database spells it (declared optional: the
#: emotion tasks do not need it). 4DME's one-hot columns are matched by ``ONE_HOT``.
AU_COLUMN_NAME = "Action Units"
AU_COLUMN_ALIASES = ("AU", "AUs")
ONE_HOT = re.compile(r"^AU\s*(\d{1,2})$", re.IGNORECASE)

_CODE = re.compile(r"^(?:AU\s*)?(?P<prefix>[LRBTUA])?\s*(?P<number>\d{1,2})(?P<intensity>[A-E])?"
                   r"\s*(?P<static>\(\s*k\s*\))?\s*(?P<unclear>\?)?$", re.IGNORECASE)
_PREFIX_LETTER = re.compile(r"^[LRBTUA]$", re.IGNORECASE)
_INTENSITY_LETTER = re.compile(r"^[A-E]$", re.IGNORECASE)
_REF = re.compile(r"^ref\s*\((?P<inner>.*)\)$", re.IGNORECASE)
_OR = re.compile(r"\s+or\s+", re.IGNORECASE)
_WORDS = re.compile(r"^[A-Za-z]+(?: [A-Za-z]+)*$")


class AUSyntaxError(ValueError):
    """A cell the rules cannot read; the message says which part and why."""


@dataclass(frozen=True)
class AUCode:
    """What one AU cell codes. ``present``: AUs coded (side, asymmetry, intensity dropped);
    ``alternatives``: groups of two or more AUs of which the coders meant one; ``referenced``: AUs
    written ``ref(…)``; ``static``: AUs marked ``(k)``; ``notes``: readings that change nothing (a ``/``
    between intensities or sides, an unclear offset); ``ignored``: what a user should see (free text
    ignored, 4DME's one-hot columns disagreeing with the AU cell). One short phrase each."""

    coded: bool
    present: frozenset[int] = frozenset()
    alternatives: tuple[tuple[int, ...], ...] = ()
    referenced: frozenset[int] = frozenset()
    static: frozenset[int] = frozenset()
    notes: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()

    @property
    def named(self) -> frozenset[int]:
        """Every AU the cell names, however it names it."""
        return frozenset(self.present | self.referenced | self.static
                         | {au for group in self.alternatives for au in group})


NOT_CODED = AUCode(coded=False)


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _code(text: str) -> tuple[int, bool, bool]:
    """(AU, static, unclear) of one code like ``R14A``, ``AU4(k)`` or ``13?``."""
    match = _CODE.match(text)
    if not match:
        raise AUSyntaxError(f"{text!r} is not an AU code ([prefix L/R/A/T/B/U]<number>[intensity A-E])")
    number = int(match["number"])
    if not 1 <= number <= 99:
        raise AUSyntaxError(f"{text!r}: AU {number} does not exist")
    return number, bool(match["static"]), bool(match["unclear"])


def _slashed(text: str, notes: list[str]) -> tuple[tuple[int, ...], frozenset[int], bool]:
    """The AUs of one code possibly holding ``/`` alternatives (``10A/B``, ``A/L12``, ``12/14``), in
    order; which of them are static; whether one is marked unclear."""
    parts = [part.strip() for part in text.split("/")]
    if len(parts) == 1:
        au, static, unclear = _code(parts[0])
        return (au,), frozenset({au}) if static else frozenset(), unclear
    aus: list[int] = []
    static_aus, unclear = set(), False
    for part in parts:
        if _CODE.match(part):
            au, static, flag = _code(part)
            aus.append(au)
            if static:
                static_aus.add(au)
            unclear |= flag
        elif not aus and _PREFIX_LETTER.match(part):
            continue  # A/L12: a side or asymmetry alternative of the code that follows
        elif aus and _INTENSITY_LETTER.match(part):
            continue  # 10A/B: an intensity alternative of the code before
        else:
            raise AUSyntaxError(f"{text!r}: {part!r} between '/' is neither an AU code, nor a prefix letter "
                                f"before one, nor an intensity letter after one")
    if not aus:
        raise AUSyntaxError(f"{text!r} names no AU")
    distinct = tuple(dict.fromkeys(aus))
    if len(distinct) == 1:
        notes.append(f"'/' between intensities or sides of AU{distinct[0]} ({text})")
    return distinct, frozenset(static_aus), unclear


def _split(text: str) -> list[str]:
    """Top-level items of a cell: split on ``+`` and ``,`` outside parentheses; one trailing separator
    allowed."""
    items, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise AUSyntaxError("a ')' without its '('")
        if char in "+," and depth == 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if depth:
        raise AUSyntaxError("a '(' without its ')'")
    items.append("".join(current).strip())
    if len(items) > 1 and items[-1] == "":
        items.pop()  # 14,L24, (CAS(ME)³ Part C): one trailing separator
    if "" in items:
        raise AUSyntaxError("an empty item between separators")
    return items


def parse_au_cell(value: Any) -> AUCode:
    """The AUs one spreadsheet cell codes, by the rules of this module's docstring; ``AUSyntaxError``
    for anything they cannot read."""
    if value is None:
        return NOT_CODED
    if isinstance(value, bool):
        raise AUSyntaxError("a true/false cell, not an AU code")
    if isinstance(value, (int, float)):
        if not float(value).is_integer():
            raise AUSyntaxError(f"{value!r} is not an AU number")
        au, _, _ = _code(str(int(value)))
        return AUCode(True, frozenset({au}))
    if not isinstance(value, str):
        raise AUSyntaxError(f"a {type(value).__name__} cell, not AU text")
    text = _normal(value)
    return NOT_CODED if text in ("", "?") else _parse_text(text)


def _parse_text(text: str) -> AUCode:
    """The AUs of a cell's (normalised, non-empty) text."""
    items = _split(text)
    present: set[int] = set()
    referenced: set[int] = set()
    static: set[int] = set()
    groups: list[tuple[int, ...]] = []
    notes: list[str] = []
    ignored: list[str] = []

    def alternatives(parts: Sequence[str], where: str) -> None:
        aus: list[int] = []
        held: set[int] = set()
        for part in parts:
            named, marked, unclear = _slashed(part, notes)
            aus += named
            held |= marked
            if unclear:
                notes.append(f"'?' after {part.rstrip('?').strip()}: unclear offset")
        distinct = tuple(dict.fromkeys(aus))
        if len(distinct) == 1:
            (static if distinct[0] in held else present).add(distinct[0])
            if len(parts) > 1:
                notes.append(f"'or' between sides or intensities of AU{distinct[0]} ({where})")
        else:
            if len(items) > 1 and not where.startswith("("):
                raise AUSyntaxError(f"alternatives {where!r} next to other codes without parentheses: it is not "
                                    f"clear which codes they cover (write them in parentheses)")
            groups.append(distinct)

    for item in items:
        if match := _REF.match(item):
            inner = match["inner"].strip()
            if _OR.search(f" {inner} "):
                raise AUSyntaxError(f"{item!r}: alternatives inside ref(…) are not a known spelling")
            named, held, _ = _slashed(inner, notes)
            if len(named) > 1:
                raise AUSyntaxError(f"{item!r}: alternatives inside ref(…) are not a known spelling")
            (referenced if not held else static).add(named[0])
        elif item.startswith("(") and item.endswith(")"):
            alternatives(_OR.split(item[1:-1].strip()), item)
        elif len(parts := _OR.split(item)) > 1:
            alternatives(parts, item)
        elif _WORDS.match(item) and not _CODE.match(item):
            if sum(c.isalpha() for c in item) < 3:
                raise AUSyntaxError(f"{item!r} is not an AU code")
            ignored.append(f"free text {item!r} is not an AU code; ignored")
        else:
            alternatives([item], item)
    static -= present
    if not (present or referenced or static or groups):
        raise AUSyntaxError("no AU code in the cell")
    return AUCode(True, frozenset(present - static), tuple(groups), frozenset(referenced - present),
                  frozenset(static), tuple(notes), tuple(ignored))


def one_hot(value: Any) -> bool | None:
    """A one-hot AU cell: True (1), False (0), None (empty); ``AUSyntaxError`` for anything else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text in ("1", "1.0"):
        return True
    if text in ("0", "0.0"):
        return False
    raise AUSyntaxError(f"{value!r} in a one-column-per-AU cell (expected 1, 0 or empty)")


@dataclass(frozen=True)
class AUCell:
    """The raw AU coding of one spreadsheet row: the AU column's header (as spelled) and cell, and the
    one-column-per-AU cells (4DME) by header."""

    column: str | None
    value: Any
    flags: tuple[tuple[str, Any], ...] = ()

    @property
    def shown(self) -> str:
        """How messages quote the cell."""
        if self.column is not None:
            empty = self.value is None or (isinstance(self.value, str) and not self.value.strip())
            return f"{self.column} (empty)" if empty else f"{self.column} {self.value!r}"
        return "one-hot " + ", ".join(f"{c}={v!r}" for c, v in self.flags if v not in (None, "", 0))


def au_cell(record: Mapping[str, Any]) -> AUCell | None:
    """The AU cells of one ``sheets.read_sheet`` record (its AU column declared as
    ``sheets.AU_COLUMN``), or None where the sheet has none."""
    flags = tuple((title, value) for title, value in record.items() if ONE_HOT.match(str(title)))
    if AU_COLUMN_NAME in record:
        spelled = next((title for title in record if title != AU_COLUMN_NAME and _normal(str(title)).casefold()
                        in {s.casefold() for s in (AU_COLUMN_NAME, *AU_COLUMN_ALIASES)}), AU_COLUMN_NAME)
        return AUCell(spelled, record[AU_COLUMN_NAME], flags)
    return AUCell(None, None, flags) if flags else None


def read_cell(cell: AUCell) -> AUCode:
    """An ``AUCell`` read by the rules: its AU column where it has one (the one-hot columns checked against
    it: a disagreement is a note and the AU column is used), else its one-hot columns."""
    marks = {int(ONE_HOT.match(title)[1]): one_hot(value) for title, value in cell.flags}
    if cell.column is None:
        if all(mark is None for mark in marks.values()):
            return NOT_CODED
        return AUCode(True, frozenset(au for au, mark in marks.items() if mark))
    code = parse_au_cell(cell.value)
    if marks and code.coded:
        named = code.named
        disagree = sorted(au for au, mark in marks.items() if bool(mark) != (au in named))
        if disagree:
            note = (f"the one-hot columns disagree with the {cell.column} cell on "
                    f"{', '.join(f'AU{a}' for a in disagree)}; the {cell.column} cell is used")
            return AUCode(code.coded, code.present, code.alternatives, code.referenced, code.static,
                          code.notes, code.ignored + (note,))
    return code


@dataclass(frozen=True)
class Resolution:
    """What a task makes of one ``AUCode``: ``aus`` (in the task's set, sorted) or None where the clip
    leaves the task (not coded, or dropped by ``alternatives=drop``); ``applied`` names each rule that
    changed what the task counts (alternatives, ``ref``, ``(k)``), one phrase each; ``outside`` the
    AUs coded outside the task's set (ignored)."""

    aus: tuple[int, ...] | None
    applied: tuple[str, ...] = ()
    outside: frozenset[int] = frozenset()


def resolve(code: AUCode, aus: Iterable[int], alternatives: str = "drop", ref: str = "present") -> Resolution:
    """The AUs of the task's set ``aus`` that ``code`` counts under the task's ``alternatives`` and
    ``ref`` rules. AUs outside the set are ignored; side, asymmetry and intensity never split an AU."""
    if alternatives not in ALTERNATIVES or ref not in REFERENCES:
        raise ValueError(f"alternatives={alternatives!r}, ref={ref!r}")
    wanted = set(aus)
    outside = frozenset(code.named - wanted)
    if not code.coded:
        return Resolution(None, (), outside)
    counted, applied = set(code.present), []
    referenced = code.referenced & wanted
    if referenced:
        names = ", ".join(f"AU{a}" for a in sorted(referenced))
        if ref == "present":
            counted |= referenced
            applied.append(f"ref({names}) counted as present (ref=present)")
        else:
            applied.append(f"ref({names}) counted as absent (ref=absent)")
    static = code.static & wanted
    if static:
        applied.append(f"{', '.join(f'AU{a}' for a in sorted(static))} marked (k) (static) counted as absent")
    for group in code.alternatives:
        shown = " or ".join(f"AU{a}" for a in group)
        if not wanted & set(group):
            continue  # alternatives outside the set: whichever was meant, the task does not count it
        if alternatives == "drop":
            return Resolution(None, tuple(applied) + (f"alternatives {shown}: the clip leaves the task "
                                                       f"(alternatives=drop)",), outside)
        chosen = set(group) if alternatives == "all" else {group[0]}
        counted |= chosen
        kept = ", ".join(f"AU{a}" for a in sorted(chosen & wanted)) or "none of the task's AUs"
        applied.append(f"alternatives {shown}: counted {kept} (alternatives={alternatives})")
    return Resolution(tuple(sorted(counted & wanted)), tuple(applied), outside)


def parse_au_set(text: Any) -> tuple[int, ...]:
    """The AU set of a task option: AU numbers (``AU`` optional) separated by commas, ``+`` or spaces,
    sorted; ``OptionError`` for anything else."""
    if text is None:
        return MEB_AUS
    parts = [part for part in re.split(r"[,+\s]+", str(text).strip()) if part]
    numbers = []
    for part in parts:
        match = re.fullmatch(r"(?:AU)?(\d{1,2})", part, re.IGNORECASE)
        if not match or not 1 <= int(match[1]) <= 99:
            raise OptionError(f"--dataset-opt aus={text}: {part!r} is not an AU number; give AU numbers separated "
                              f"by commas, e.g. aus={','.join(map(str, MEB_AUS))}")
        numbers.append(int(match[1]))
    if not numbers:
        raise OptionError(f"--dataset-opt aus={text}: no AU given")
    return tuple(sorted(set(numbers)))


def au_labels(aus: Iterable[int]) -> tuple[str, ...]:
    """The task's class names: ``AU4`` for AU 4."""
    return tuple(f"AU{au}" for au in aus)
