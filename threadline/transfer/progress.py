"""Showing an import's progress: a bar on a terminal, nothing elsewhere."""

import sys
from typing import Any, Protocol

from tqdm import tqdm


class Progress(Protocol):
    def start(self, total: int, label: str) -> None: ...

    def advance(self, rows: int = 1) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    """Progress that shows nothing: tests, pipes and the API."""

    def start(self, total: int, label: str) -> None:
        return None

    def advance(self, rows: int = 1) -> None:
        return None

    def finish(self) -> None:
        return None


class BarProgress:
    """A progress bar in rows, for a person watching a terminal."""

    def __init__(self, stream: Any = sys.stdout) -> None:
        self.stream = stream
        self.bar: tqdm[Any] | None = None

    def start(self, total: int, label: str) -> None:
        self.bar = tqdm(total=total, desc=label, unit="row", file=self.stream)

    def advance(self, rows: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(rows)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.close()
