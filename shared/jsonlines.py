"""JSON parsing that remembers on which line each object began.

Used to point at the line at fault when a data file (a directory, a ruleset)
is refused. The pure-Python scanner is used so that object positions can be
recorded; these files are small.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
from typing import Any


class LocatedJSON:
    """A parsed document plus the 1-based line where each object starts."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._offsets: dict[int, int] = {}
        self.doc: Any = self._parse(text)

    def _parse(self, text: str) -> Any:
        decoder = json.JSONDecoder()
        offsets = self._offsets

        def parse_object(s_and_end: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
            s, end = s_and_end
            obj, new_end = json.decoder.JSONObject(s_and_end, *args, **kwargs)  # type: ignore[attr-defined]
            offsets[id(obj)] = end - 1
            return obj, new_end

        # The C scanner ignores parse_object; the pure-Python one calls it.
        decoder.parse_object = parse_object  # type: ignore[attr-defined]
        decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
        return decoder.decode(text)

    def _line(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def line_of(self, obj: Any) -> int | None:
        offset = self._offsets.get(id(obj))
        return None if offset is None else self._line(offset)

    def line_of_path(self, path: tuple[str | int, ...]) -> int | None:
        """The line of the field on `path`, else of the innermost object holding it."""
        node: Any = self.doc
        offset = self._offsets.get(id(node))
        for part in path:
            parent = node
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                node = None
            if isinstance(node, dict) and id(node) in self._offsets:
                offset = self._offsets[id(node)]
            elif (
                not isinstance(node, dict | list)
                and isinstance(parent, dict)
                and isinstance(part, str)
                and offset is not None
            ):
                # A scalar field: the line of its key inside the object that holds it.
                found = self.text.find(json.dumps(part, ensure_ascii=False), offset)
                return self._line(found if found >= 0 else offset)
            if node is None:
                break
        return None if offset is None else self._line(offset)


def path_text(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
