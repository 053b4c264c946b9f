"""A progress bar on stderr (tqdm), loaded only when it is shown."""

from __future__ import annotations

from typing import Any

BATCH = 512  # updates handed to tqdm in batches: the walk's hot loop stays cheap


class Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._pending = 0

    def start(self, total: int) -> None:
        if not self.enabled:
            return
        import tqdm

        tqdm.tqdm.monitor_interval = 0  # no monitor thread: the run may fork workers
        self._bar = tqdm.tqdm(total=total, unit="file", leave=False, dynamic_ncols=True)

    def update(self, count: int) -> None:
        if self._bar is None:
            return
        self._pending += count
        if self._pending >= BATCH:
            self._bar.update(self._pending)
            self._pending = 0

    def close(self) -> None:
        if self._bar is not None:
            self._bar.update(self._pending)
            self._bar.close()
            self._bar = None
