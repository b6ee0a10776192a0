"""A company's bank folders, read without following links (issue 26).

`<data_dir>/<company id>/incoming` may be written by an SFTP drop, which can create symbolic
links (and, with OpenSSH's hardlink extension, hard links). A link to another company's
processed file would import that company's payments here, so the pick-up:

- refuses a company folder, or any of its sub-folders, that is a link rather than a folder;
- takes each entry out of `incoming` by renaming it into `reading` (a folder only Kravflyt
  writes, mode 0700): a rename moves a link itself, never its target, and once there the
  entry can no longer be swapped by the drop;
- reads it only when it is a regular file with no second name; anything else is set aside in
  `rejected` with a reason.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

SUBFOLDERS = ("incoming", "reading", "processed", "rejected")


class FolderRefused(Exception):
    """A company's bank folder is not a plain folder (a link): nothing is read from it."""


@dataclass(frozen=True)
class Folders:
    """The four folders of one company."""

    incoming: Path
    reading: Path
    processed: Path
    rejected: Path


def company_folders(root: Path, company_id: int) -> Folders:
    """The company's folders, made when missing; `FolderRefused` when one is a link."""
    base = root / str(company_id)
    paths = [base, *(base / name for name in SUBFOLDERS)]
    for path in paths:
        path.mkdir(mode=0o700 if path.name == "reading" else 0o777, exist_ok=True)
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            raise FolderRefused(
                f"{path}: a symbolic link, not a folder: the pick-up does not follow links"
            )
    return Folders(*paths[1:])


def why_not_read(path: Path) -> str | None:
    """Why an entry is not read (None: a regular file with one name, to be read)."""
    mode = os.lstat(path)
    if stat.S_ISLNK(mode.st_mode):
        return "a symbolic link, not a file: not read (only regular files are)"
    if not stat.S_ISREG(mode.st_mode):
        return "not a regular file: not read"
    if mode.st_nlink > 1:
        return "a second name (hard link) of another file: not read"
    return None


def take_incoming(folders: Folders) -> list[Path]:
    """Move what waits in `incoming` into `reading` (names starting with '.' are uploads in
    progress; folders are left alone); returns everything in `reading`, oldest name first
    (what an interrupted pick-up left there included)."""
    for entry in os.scandir(folders.incoming):
        if entry.name.startswith(".") or entry.is_dir(follow_symlinks=False):
            continue
        target = folders.reading / entry.name
        if not os.path.lexists(target):  # a same name still being read waits for next time
            os.rename(entry.path, target)
    return sorted(folders.reading.iterdir())


def write_reason(folders: Folders, name: str, reason: str) -> None:
    """`rejected/<name>.reason.txt`, written without following a link planted there."""
    path = folders.rejected / f"{name}.reason.txt"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    with os.fdopen(os.open(path, flags, 0o644), "w", encoding="utf-8") as fh:
        fh.write(f"{reason}\n")
