"""Common behaviour of the dataset readers: cheap checks at open, full checks per sample, ``validate()``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from rleseg.data.formats.files import DatasetError, summarize
from rleseg.data.sample import Sample


class CheckedSource(ABC):
    """Base of every reader. Subclasses fill ``open_problems`` while pairing files, then call
    :meth:`_finish_open`, and implement ``__len__`` and :meth:`_read`.

    ``strict=True`` (the default) raises at open on any pairing problem; ``strict=False`` keeps the
    well-formed samples and reports the rest through :meth:`validate` (what ``rleseg data check`` uses).
    """

    root: Path
    open_problems: list[str]

    @abstractmethod
    def __len__(self) -> int:
        """Number of samples that opened without a pairing problem."""

    @abstractmethod
    def _read(self, index: int) -> tuple[Sample | None, list[str]]:
        """Read sample ``index`` fully; return it with no problems, or None with one line per problem."""

    def _finish_open(self, strict: bool) -> None:
        """Raise at open when strict and pairing found problems."""
        if strict and self.open_problems:
            raise DatasetError(summarize(self.open_problems, self.root))

    def __getitem__(self, index: int) -> Sample:
        """Sample ``index`` (negative counts from the end); DatasetError naming the file if malformed."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples in {self.root}")
        sample, problems = self._read(index % len(self))
        if problems or sample is None:
            raise DatasetError(summarize(problems, self.root))
        return sample

    def validate(self) -> list[str]:
        """Read every file; return every problem found, one line each naming the file ([] when clean)."""
        problems = list(self.open_problems)
        for index in range(len(self)):
            problems.extend(self._read(index)[1])
        return problems

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r}, {len(self)} samples)"
