"""From a read file to the rows an import stores: the column mapping, and each row either accepted (normalised) or
refused with its line, raw values and reason. Pure: the database applies the duplicate rule afterwards.

A mapping names, for each file column used, its target: ``phone`` (required), ``name``, ``city``, ``region``,
``priority`` or ``custom:<key>``. Columns not mentioned are ignored.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator, Mapping

from crm_core.customers import places
from crm_core.customers.model import tr_lower
from crm_core.customers.phones import DEFAULT_REGION, InvalidPhoneError, e164
from dialer.pools.files import FileFormatError, open_table

FIELDS = ("phone", "name", "city", "region", "priority")
CUSTOM = "custom:"
_INT4 = 2**31 - 1

# line, phone (E.164), name, city, region, priority, the custom fields' values (None: empty) in the order of
# Prepared.custom_keys: the staging table's columns.
CandidateRow = tuple[int, str, str, str | None, str | None, int, list[str | None]]


class MappingError(FileFormatError):
    """The column mapping does not fit the file (or is wrong in itself)."""


@dataclasses.dataclass(frozen=True)
class Issue:
    """A line of the import report. ``outcome`` is ``rejected``, or ``stored`` when a duplicate rule acted on it."""

    line_no: int
    outcome: str
    reason: str
    detail: str | None
    raw: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class ColumnMapping:
    columns: Mapping[str, str]

    def __post_init__(self) -> None:
        targets: list[str] = []
        for column, target in self.columns.items():
            if not column.strip():
                raise MappingError("mapping.empty_column")
            if target not in FIELDS and not (target.startswith(CUSTOM) and target[len(CUSTOM) :].strip()):
                raise MappingError("mapping.unknown_target", target)
            if target in targets:
                raise MappingError("mapping.duplicate_target", target)
            targets.append(target)
        if "phone" not in targets:
            raise MappingError("mapping.no_phone")

    def as_dict(self) -> dict[str, str]:
        return dict(self.columns)

    def resolve(self, header: list[str]) -> dict[str, int]:
        """Target -> column index in ``header`` (names compared without case, Turkish letters included)."""
        positions: dict[str, int] = {}
        for index, name in enumerate(header):
            positions.setdefault(_key(name), index)
        duplicated = {_key(n) for n in header if n and sum(_key(h) == _key(n) for h in header) > 1}
        out: dict[str, int] = {}
        for column, target in self.columns.items():
            key = _key(column)
            if key not in positions:
                raise MappingError("mapping.unknown_column", column)
            if key in duplicated:
                raise MappingError("mapping.ambiguous_column", column)
            out[target] = positions[key]
        return out


def _key(name: str) -> str:
    return " ".join(tr_lower(name).split())


@dataclasses.dataclass
class Batch:
    """Consecutive data rows of a file, checked: accepted candidates (with their raw cells, for the report if the
    database refuses them after all) and refused rows."""

    candidates: list[CandidateRow] = dataclasses.field(default_factory=list)
    raw: dict[int, list[str]] = dataclasses.field(default_factory=dict)
    issues: list[Issue] = dataclasses.field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.candidates) + sum(1 for i in self.issues if i.outcome == "rejected")

    def refuse(self, lines: Mapping[int, tuple[str, str | None]]) -> None:
        """Move accepted lines to the report as refused (``line -> (reason, detail)``)."""
        if not lines:
            return
        self.candidates = [c for c in self.candidates if c[0] not in lines]
        for line, (reason, detail) in lines.items():
            self.issues.append(Issue(line, "rejected", reason, detail, tuple(self.raw.pop(line))))

    def note(self, lines: Mapping[int, tuple[str, str | None]]) -> None:
        """Report accepted lines that stay accepted (a duplicate rule acted on them)."""
        for line, (reason, detail) in lines.items():
            self.issues.append(Issue(line, "stored", reason, detail, tuple(self.raw[line])))


class RowReader:
    """A file opened for import: its header is read and the mapping checked at once (MappingError,
    FileFormatError); :meth:`batches` then reads the data rows. A file malformed further down raises
    FileFormatError from :meth:`batches`, when the reading gets there."""

    def __init__(self, filename: str, content: bytes, mapping: ColumnMapping, region: str = DEFAULT_REGION) -> None:
        self._table = open_table(filename, content)
        self._where = mapping.resolve(self._table.header)
        self._region = region
        self.file_format = self._table.file_format
        self.encoding = self._table.encoding
        self.delimiter = self._table.delimiter
        self.header = self._table.header
        custom = [(t[len(CUSTOM) :].strip(), i) for t, i in self._where.items() if t.startswith(CUSTOM)]
        self.custom_keys = [k for k, _ in custom]
        self._custom_at = [i for _, i in custom]
        self.blank_lines = 0
        self._seen: dict[str, int] = {}

    def batches(self, size: int) -> Iterator[Batch]:
        """Batches of ``size`` data rows (accepted or refused); always at least one, possibly empty."""
        batch = Batch()
        for line, cells in self._table.rows:
            if not "".join(cells).strip():
                self.blank_lines += 1
                continue
            self._check(line, cells, batch)
            if len(batch.candidates) + len(batch.issues) >= size:
                yield batch
                batch = Batch()
        yield batch

    def _check(self, line: int, cells: list[str], batch: Batch) -> None:
        """One data row into ``batch``: the hot loop of a million-row import, kept flat on purpose."""
        width = len(self.header)
        where = self._where
        if len(cells) != width:
            if len(cells) < width and self.file_format == "csv":  # a sheet's cells cannot shift; a CSV row's can
                batch.issues.append(
                    Issue(line, "rejected", "row.too_short", f"{len(cells)} of {width} columns", (*cells,))
                )
                return
            if len(cells) > width and "".join(cells[width:]).strip():
                batch.issues.append(
                    Issue(line, "rejected", "row.too_long", f"{len(cells)} of {width} columns", (*cells,))
                )
                return
            cells = (cells + [""] * width)[:width]
        phone_text = cells[where["phone"]]
        try:
            phone = e164(phone_text, self._region)
        except InvalidPhoneError as exc:
            batch.issues.append(Issue(line, "rejected", exc.code, phone_text.strip() or None, (*cells,)))
            return
        priority = 0
        at = where.get("priority")
        if at is not None:
            try:
                priority = int(cells[at])  # int() itself ignores surrounding blanks
            except ValueError:
                priority = 0 if not cells[at].strip() else _INT4 + 1
            if not -_INT4 <= priority <= _INT4:
                batch.issues.append(Issue(line, "rejected", "priority.invalid", cells[at].strip(), (*cells,)))
                return
        first = self._seen.setdefault(phone, line)
        if first != line:
            batch.issues.append(Issue(line, "rejected", "duplicate.in_file", f"line {first}", (*cells,)))
            return
        at = where.get("city")
        city = places.city(cells[at]) if at is not None else None
        at = where.get("region")
        area = places.region(cells[at]) if at is not None else None
        at = where.get("name")
        batch.candidates.append(
            (
                line,
                phone,
                cells[at].strip() if at is not None else "",
                city,
                area or places.region_of(city),
                priority,
                [cells[i].strip() or None for i in self._custom_at],
            )
        )
        batch.raw[line] = cells


@dataclasses.dataclass
class Prepared(Batch):
    """A whole file read and checked at once (small files, tests): the reader's findings and one batch."""

    file_format: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    header: list[str] = dataclasses.field(default_factory=list)
    custom_keys: list[str] = dataclasses.field(default_factory=list)
    blank_lines: int = 0

    @property
    def total_rows(self) -> int:
        return self.rows


def prepare(filename: str, content: bytes, mapping: ColumnMapping, region: str = DEFAULT_REGION) -> Prepared:
    """Read the whole file; every data row ends up a candidate or an issue."""
    reader = RowReader(filename, content, mapping, region)
    (batch,) = reader.batches(sys.maxsize)
    return Prepared(
        batch.candidates,
        batch.raw,
        batch.issues,
        file_format=reader.file_format,
        encoding=reader.encoding,
        delimiter=reader.delimiter,
        header=reader.header,
        custom_keys=reader.custom_keys,
        blank_lines=reader.blank_lines,
    )
