"""How much one dataset may hold once read: cells and decoded bytes, counted while the readers go.

Readers charge what they read to one `Budget` per dataset (every file and split of it together). A file whose size
is known before decoding (a Parquet footer, an Arrow table) is checked before anything is decoded, so a small
compressed file that would expand to gigabytes is refused with its real size; an honest big file is refused with
its size and the limit, not by running out of memory.

>>> budget = Budget(max_cells=1_000, max_bytes=10**6)
>>> budget.charge("big.csv", cells=4_000)
Traceback (most recent call last):
promptlab.messages.UserError: big.csv has 4,000 cells (rows × columns); the limit is 1,000 per dataset. ...
"""

from __future__ import annotations

from dataclasses import dataclass

from promptlab import settings
from promptlab.messages import Message, UserError


@dataclass
class Budget:
    max_cells: int
    max_bytes: int
    cells: int = 0   # charged so far
    nbytes: int = 0

    @classmethod
    def from_settings(cls) -> Budget:
        """The limits the environment sets (`settings.data_max_cells`, `settings.data_max_bytes`)."""
        return cls(settings.data_max_cells(), settings.data_max_bytes())

    def cells_left(self) -> int:
        return self.max_cells - self.cells

    def check_ahead(self, what: str, *, cells: int = 0, nbytes: int = 0) -> None:
        """Refuse `what` if the cells and bytes it declares (before decoding) would not fit; charges nothing."""
        if self.cells + cells > self.max_cells:
            raise self.over_cells(what, self.cells + cells)
        if self.nbytes + nbytes > self.max_bytes:
            raise self.over_bytes(what, self.nbytes + nbytes)

    def charge(self, what: str, *, cells: int = 0, nbytes: int = 0) -> None:
        """Count `cells` and `nbytes` that `what` (a file, a split) holds once decoded; ValueError once the dataset
        is over a limit."""
        self.check_ahead(what, cells=cells, nbytes=nbytes)
        self.cells += cells
        self.nbytes += nbytes

    def over_cells(self, what: str, total: int, *, at_least: bool = False) -> UserError:
        """The error for a dataset of `total` cells (`at_least`: reading stopped once over the limit, so that the
        total is not known)."""
        cells = Message("data.more_than", n=count(self.max_cells)) if at_least else count(total)
        return UserError("data.over_cells", what=what, cells=cells, others=self._others(self.cells),
                         limit=count(self.max_cells))

    def over_bytes(self, what: str, total: int) -> UserError:
        return UserError("data.over_bytes", what=what, size=size(total), others=self._others(self.nbytes),
                         limit=size(self.max_bytes))

    @staticmethod
    def _others(already: int) -> Message | str:
        return Message("data.with_files_before") if already else ""


def count(n: int) -> Message | str:
    """A count for people: 12,345 / 1.5 million / 40 million / 3 billion."""
    for scale, word in ((10**9, "billion"), (10**6, "million")):
        if n >= scale:
            return Message(f"data.count_{word}", n=f"{n / scale:.1f}".removesuffix(".0"))
    return f"{n:,}"


def size(nbytes: float) -> Message | str:
    """A size for people: 12 kB / 3.4 MB / 512 MB / 6.0 GB."""
    for scale, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if nbytes >= scale:
            value = nbytes / scale
            return f"{value:.1f} {unit}" if value < 10 or unit in ("GB", "TB") else f"{value:.0f} {unit}"
    return Message("data.bytes", n=int(nbytes))
