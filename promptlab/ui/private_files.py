"""Files the web app writes for visitors to download: YAML copies of drafts, Compare CSVs, run zips.

They live in one private folder per process (`tempfile.mkdtemp`: a random name, mode 0700, so no other local user
can plant a file or a link in it or guess its path), opened with O_EXCL | O_NOFOLLOW (a link is never followed, an
existing file never overwritten). The folder holds `MAX_KEPT` slots, sub-folders used in turn, one file each (two
visitors may download files of the same name): writing into a slot first removes what it held, so at most MAX_KEPT
files exist and a draft typed key by key cannot fill the disk. Gradio copies a handler's file into its own cache
when the handler returns, so a file is never needed once MAX_KEPT newer ones were written. (Slots are reused rather
than made and removed: removing a folder costs milliseconds on some disks, an unlink microseconds.)
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import stat
import tempfile
import threading
from pathlib import Path

MAX_KEPT = 64           # download files kept per process (the oldest are removed first)
MAX_NAME = 80           # characters of a download's file name (file systems allow 255 bytes)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # not on Windows, where planting links needs privileges
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_BINARY", 0)


class _Slots:
    """The private folder and its slots, shared by every handler thread of the process."""

    def __init__(self):
        self.lock = threading.Lock()
        self.root: Path | None = None
        self.slots: list[Path] = []
        self.turn = 0

    def next_slot(self) -> Path:
        """An emptied slot: the least recently used one (made on first use, like the private folder, which is made
        again if it was removed or is no longer private)."""
        with self.lock:
            if self.root is None or not _is_private(self.root):
                self.root = Path(tempfile.mkdtemp(prefix="promptlab-ui-"))
                self.slots, self.turn = [], 0
                atexit.register(shutil.rmtree, self.root, ignore_errors=True)
            index = self.turn % MAX_KEPT
            self.turn += 1
            if index == len(self.slots):
                self.slots.append(Path(tempfile.mkdtemp(dir=self.root)))
            slot = self.slots[index]
            with os.scandir(slot) as entries:  # unlink removes a link itself, never its target
                for entry in entries:
                    os.unlink(entry.path)
            return slot


_slots = _Slots()


def _is_private(folder: Path) -> bool:
    """A real folder (not a link) owned by this user that no one else may enter."""
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    owned = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return stat.S_ISDIR(info.st_mode) and owned and not info.st_mode & 0o077


def safe_name(name: str, suffix: str) -> str:
    """A file name from any text: letters, digits, '-', '_' and '.' only, at most MAX_NAME characters, ending in
    `suffix` (e.g. ".yaml")."""
    stem = re.sub(r"[^\w.-]+", "-", str(name)).strip(".-")[:MAX_NAME - len(suffix)].rstrip(".-")
    return (stem or "download") + suffix


def new_path(name: str, suffix: str) -> Path:
    """A path for a new download file (nothing there yet) in the next slot of the private folder."""
    return _slots.next_slot() / safe_name(name, suffix)


def open_new(path: Path):
    """A binary file object for a new file at `path`: refused if anything (a file, a link) is there already."""
    return os.fdopen(os.open(path, _FLAGS, 0o600), "wb")


def write_text(name: str, suffix: str, text: str) -> str:
    """Write `text` (UTF-8) as a new download named after `name`; return its path."""
    path = new_path(name, suffix)
    with open_new(path) as f:
        f.write(text.encode("utf-8"))
    return str(path)
