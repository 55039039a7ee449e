"""Limits on what an uploaded file may make the server read, in the request and on the worker.

A 1.5 MB XLSX can hold a 1.5 GB cell (a zip "bomb"), a CSV one line of a million separators:
read naively, either holds a web worker for its whole timeout. So before openpyxl opens a
workbook its zip directory is checked (members, declared sizes, compression ratio; Python's
zipfile never inflates a member past its declared size), every member is read through a guard
that refuses a text run (a cell) longer than the cell limit, and the header inspection done in
the request has a time budget. CSV lines are read with a length limit and the header row's
columns are counted.

Nothing here touches the database. A refusal is a ``FileRefused`` whose message is shown to
the person (the form, the API's 400, the failed job).

Each limit is a setting, read from the environment when settings.py does not set it.
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from typing import BinaryIO

from django.conf import settings
from django.utils.translation import gettext as _

MB = 1024 * 1024
# Members this small may compress as well as they like (styles, empty sheets).
RATIO_MIN_BYTES = MB

DEFAULTS = {
    # An XLSX of CRM_IMPORT_MAX_BYTES (300 MB) and 2 M rows inflates to an estimated 1.5-2.5 GB of XML.
    "CRM_IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES": 4 * 1024 * MB,
    "CRM_IMPORT_MAX_XLSX_MEMBER_BYTES": 2 * 1024 * MB,
    # Spreadsheet XML deflates 5-30 times; a bomb's ratio is near deflate's maximum of 1032.
    "CRM_IMPORT_MAX_XLSX_RATIO": 200,
    "CRM_IMPORT_MAX_XLSX_MEMBERS": 2000,
    # Excel's own limit for one cell.
    "CRM_IMPORT_MAX_CELL_CHARS": 32_767,
    "CRM_IMPORT_MAX_LINE_CHARS": MB,
    "CRM_IMPORT_MAX_COLUMNS": 500,
    "CRM_IMPORT_INSPECT_SECONDS": 10.0,
}


def limit(name: str):
    """The setting ``name``: settings.py's value, else the environment's, else the default."""
    default = DEFAULTS[name]
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    return default if value in (None, "") else type(default)(value)


class FileRefused(Exception):
    """The file goes past a limit; ``str(exc)`` is the message for the person (translated)."""


class Deadline:
    """A time budget for reading in the request; ``None`` seconds: none (the worker)."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.at = None if seconds is None else time.monotonic() + seconds

    def check(self) -> None:
        if self.at is not None and time.monotonic() > self.at:
            raise FileRefused(_("Reading the file's first rows took more than %(n)d seconds; it is too complex to inspect. "
                                "Save it as CSV, or split it, and upload that.") % {"n": self.seconds})


NO_DEADLINE = Deadline(None)


def cell_too_long() -> FileRefused:
    return FileRefused(_("A cell of the file holds more than %(n)d characters; no cell of a portfolio is that long.")
                       % {"n": limit("CRM_IMPORT_MAX_CELL_CHARS")})


def check_zip(archive: zipfile.ZipFile) -> None:
    """Refuse a workbook whose zip directory announces more than the limits allow."""
    members = archive.infolist()
    most = limit("CRM_IMPORT_MAX_XLSX_MEMBERS")
    if len(members) > most:
        raise FileRefused(_("The workbook holds %(n)d parts; the limit is %(limit)d.") % {"n": len(members), "limit": most})
    total_limit = limit("CRM_IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES")
    member_limit = limit("CRM_IMPORT_MAX_XLSX_MEMBER_BYTES")
    ratio_limit = limit("CRM_IMPORT_MAX_XLSX_RATIO")
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_MIN_BYTES and ratio > ratio_limit:
            raise FileRefused(_("A part of the workbook unpacks to %(ratio)d times its packed size: it may be a zip bomb. "
                                "Save it as CSV and upload that.") % {"ratio": ratio})
        if member.file_size > member_limit or total > total_limit:
            raise FileRefused(_("The workbook unpacks to more than %(limit)s MB: it may be a zip bomb, or it is too large "
                                "to read. Save it as CSV, or split it, and upload that.") % {
                "limit": f"{(member_limit if member.file_size > member_limit else total_limit) / MB:,.0f}"})


class _GuardedMember(io.RawIOBase):
    """A zip member read through the limits: no text run (a cell, between two tags) longer than
    the cell limit, and the deadline checked on every read."""

    def __init__(self, raw, *, max_run: int, deadline: Deadline):
        self.raw = raw
        self.max_run = max_run
        self.deadline = deadline
        self.run = 0  # length of the text run at the end of what was read so far

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(256 * 1024), b""))
        data = self.raw.read(size)
        self._scan(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _scan(self, data: bytes) -> None:
        self.deadline.check()
        first = data.find(b"<")
        if first < 0:
            self.run += len(data)
        else:
            last = data.rfind(b"<")
            longest = max(self.run + first, max(map(len, data[first + 1:last].split(b"<"))) if last > first else 0)
            self.run = len(data) - last - 1
            if longest > self.max_run:
                raise cell_too_long()
        if self.run > self.max_run:
            raise cell_too_long()

    def close(self) -> None:
        self.raw.close()
        super().close()


class GuardedZipFile(zipfile.ZipFile):
    """A workbook's zip with its directory checked on opening and every member read guarded."""

    def __init__(self, file: BinaryIO, *, deadline: Deadline = NO_DEADLINE):
        super().__init__(file, "r")
        try:
            check_zip(self)
        except FileRefused:
            self.close()
            raise
        self.deadline = deadline
        # XML escapes a character in at most 6 bytes (&quot;) and UTF-8 in 4: a generous byte bound.
        self.max_run = 6 * limit("CRM_IMPORT_MAX_CELL_CHARS") + 1024

    def open(self, name, mode="r", pwd=None, **kwargs):
        member = super().open(name, mode, pwd, **kwargs)
        if mode != "r":
            return member
        return _GuardedMember(member, max_run=self.max_run, deadline=self.deadline)


def _announced_members(file: BinaryIO) -> int:
    """The member count of the zip's end record, read before its directory is parsed (a 300 MB
    directory of empty members would take a minute to parse). 0 when there is no end record."""
    try:
        end = zipfile._EndRecData(file)  # noqa: SLF001 - the stdlib's own reader of that record
    except OSError:
        return 0
    file.seek(0)
    return end[zipfile._ECD_ENTRIES_TOTAL] if end else 0  # noqa: SLF001


def open_workbook(file: BinaryIO, *, deadline: Deadline = NO_DEADLINE):
    """The openpyxl read-only workbook of ``file``, read through the limits."""
    from openpyxl.reader.excel import ExcelReader

    most = limit("CRM_IMPORT_MAX_XLSX_MEMBERS")
    if (announced := _announced_members(file)) > most:
        raise FileRefused(_("The workbook holds %(n)d parts; the limit is %(limit)d.") % {"n": announced, "limit": most})
    archive = GuardedZipFile(file, deadline=deadline)

    class _Reader(ExcelReader):
        # ExcelReader opens its own ZipFile; this one reads through the guarded archive.
        def __init__(self):
            self.archive = archive
            self.valid_files = archive.namelist()
            self.read_only, self.keep_vba, self.data_only, self.keep_links, self.rich_text = True, False, True, False, False
            self.shared_strings = []

    reader = _Reader()
    try:
        reader.read()
    except BaseException:
        archive.close()
        raise
    return reader.wb
