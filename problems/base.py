"""The common base of every problem class: file I/O by extension and a uniform interface."""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from ._validation import InvalidProblemError


class Problem:
    """Base class: subclasses validate on construction and know their file formats.

    Subclasses set ``extensions`` (the file suffixes they read and write) and implement
    ``_read(path)`` / ``_write(path)`` plus ``objective(solution)``.
    """

    extensions: ClassVar[tuple[str, ...]] = ()
    #: a human name used in messages and by the registry
    kind: ClassVar[str] = "problem"

    def objective(self, solution: Any) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def size(self) -> int:
        """A single number describing the instance size (nodes, variables, unknowns...)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- file I/O
    @classmethod
    def from_file(cls, path: str | os.PathLike, **kwargs: Any) -> Problem:
        """Read an instance of this class from ``path`` (format chosen by extension);
        ``kwargs`` go to the constructor where the file leaves them open (e.g. ``alpha``)."""
        path = Path(path)
        if not path.exists():
            raise InvalidProblemError(f"{path}: no such file")
        if not path.is_file():
            raise InvalidProblemError(f"{path}: not a regular file")
        ext = file_extension(path)
        if cls.extensions and ext not in cls.extensions:
            raise InvalidProblemError(
                f"{path}: {cls.__name__} files must end in one of {', '.join(cls.extensions)}"
            )
        try:
            return cls._read(path, **kwargs) if kwargs else cls._read(path)
        except InvalidProblemError as exc:
            msg = str(exc)
            raise InvalidProblemError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None
        except Exception as exc:  # any parser failure is the file's fault, reported as such
            raise InvalidProblemError(
                f"{path}: malformed {cls.__name__} file ({type(exc).__name__}: {exc})"
            ) from None

    def to_file(self, path: str | os.PathLike) -> None:
        """Write this instance to ``path`` atomically (temporary file, then rename)."""
        path = Path(path)
        ext = file_extension(path)
        if self.extensions and ext not in self.extensions:
            raise InvalidProblemError(
                f"{path}: {type(self).__name__} files must end in one of {', '.join(self.extensions)}"
            )
        with atomic_path(path) as tmp:
            self._write(tmp)

    @classmethod
    def _read(cls, path: Path) -> Problem:  # pragma: no cover - abstract
        raise NotImplementedError

    def _write(self, path: Path) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


def file_extension(path: str | os.PathLike) -> str:
    """The lower-case extension, including a compression suffix: 'x.mps.gz' -> '.mps.gz'."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if not suffixes:
        return ""
    if suffixes[-1] in (".gz", ".bz2", ".xz") and len(suffixes) >= 2:
        return suffixes[-2] + suffixes[-1]
    return suffixes[-1]


def read_text(path: Path) -> str:
    """Read a (possibly gzip-compressed) text file."""
    if str(path).lower().endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return fh.read()
    return path.read_text(encoding="utf-8")


class atomic_path:
    """Context manager yielding a temporary path that is renamed onto ``path`` on success."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __enter__(self) -> Path:
        directory = self.path.parent if str(self.path.parent) else Path(".")
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=".tmp-", suffix="".join(self.path.suffixes), dir=directory
        )
        os.close(fd)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.tmp, 0o666 & ~umask)
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
