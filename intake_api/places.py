"""Where a matter happened, from the address a petitioner wrote: the directory's
division names, full ("青石镇") and short ("青石"), found in the text, and the
deepest division whose chain agrees with everything named. Pure."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from shared.directory import Directory

# Longest first, so "街道办事处" is removed before "街道".
SUFFIXES = (
    "街道办事处", "居民委员会", "村民委员会", "自治县", "自治州", "特别行政区",
    "街道", "社区", "居委会", "村委会", "开发区",
    "省", "市", "县", "区", "旗", "镇", "乡", "村",
)  # fmt: skip


@dataclass(frozen=True)
class PlaceMatch:
    code: str
    name: str  # the full name, province first
    matched: tuple[str, ...]
    explanation: str


@dataclass(frozen=True)
class PlaceProblem:
    message: str


def fold(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def short_form(name: str) -> str | None:
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


@dataclass(frozen=True)
class _Index:
    # a name or short form → the codes it may mean
    names: dict[str, tuple[str, ...]]
    longest: int


_cache: dict[tuple[int, int], _Index] = {}


def _index(directory: Directory) -> _Index:
    """Built once per directory snapshot."""
    key = (id(directory), directory.version)
    if key not in _cache:
        _cache.clear()
        _cache[key] = _build_index(directory)
    return _cache[key]


def _build_index(directory: Directory) -> _Index:
    names: dict[str, set[str]] = {}
    for div in directory.divisions.values():
        for form in {div.name, short_form(div.name)}:
            if form:
                names.setdefault(form, set()).add(div.code)
    # "白沙" names both 白沙镇 and its 白沙村: a bare short form means the larger place.
    for form, codes in names.items():
        names[form] = {
            c for c in codes if not any(a.code in codes - {c} for a in directory.ancestors(c))
        }
    return _Index(
        names={k: tuple(sorted(v)) for k, v in names.items()},
        longest=max((len(k) for k in names), default=0),
    )


def _mentions(text: str, index: _Index) -> list[tuple[str, tuple[str, ...]]]:
    """Names in the text, longest match first at each position, without overlaps."""
    found: list[tuple[str, tuple[str, ...]]] = []
    i = 0
    while i < len(text):
        for size in range(min(index.longest, len(text) - i), 1, -1):
            piece = text[i : i + size]
            if piece in index.names:
                found.append((piece, index.names[piece]))
                i += size
                break
        else:
            i += 1
    return found


def resolve_place(address: str, directory: Directory) -> PlaceMatch | PlaceProblem:
    """The division an address names, or why none can be chosen."""
    text = fold(address)
    mentions = _mentions(text, _index(directory))
    if not mentions:
        return PlaceProblem(
            f"地址「{address}」中没有找到本系统目录中的行政区划名称，请填写区划代码"
        )
    # A candidate explains the address if every mention names it or one of its ancestors.
    candidates = {code for _, codes in mentions for code in codes}
    consistent = []
    for code in candidates:
        chain = {d.code for d in directory.ancestors(code)}
        if all(chain & set(codes) for _, codes in mentions):
            consistent.append(code)
    if not consistent:
        named = "」「".join(piece for piece, _ in mentions)
        return PlaceProblem(f"地址中的「{named}」不属于同一地方，请核对地址或填写区划代码")
    depth = max(len(directory.ancestors(code)) for code in consistent)
    deepest = sorted(code for code in consistent if len(directory.ancestors(code)) == depth)
    if len(deepest) > 1:
        options = "、".join(directory.full_name(code) for code in deepest)
        return PlaceProblem(f"地址「{address}」可能指{options}，请写得更具体或填写区划代码")
    code = deepest[0]
    pieces = tuple(piece for piece, _ in mentions)
    full = directory.full_name(code)
    quoted = "".join(f"「{p}」" for p in pieces)
    return PlaceMatch(code, full, pieces, f"地址中的{quoted}对应{full}（{code}）")
