"""The dashboard's rendered sections, kept by what they show, so that a page and its updates,
and every other visitor's, render a section once per change of the run rather than once per
request."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

KEPT = 8  # a few runs or pairs at once; the oldest is forgotten first


class SectionCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: OrderedDict[Hashable, dict[str, str]] = OrderedDict()

    def get(self, key: Hashable) -> dict[str, str] | None:
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
            return self._kept.get(key)

    def put(self, key: Hashable, sections: dict[str, str]) -> None:
        with self._lock:
            self._kept[key] = sections
            self._kept.move_to_end(key)
            while len(self._kept) > KEPT:
                self._kept.popitem(last=False)
