"""The content category from the text, by a keyword table per category: data,
editable (the directory file may carry `keywords` per category; otherwise the
defaults shipped with the project apply), and every match is explained. Pure."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from shared.directory import Directory

DEFAULT_KEYWORDS = (
    Path(__file__).resolve().parent.parent / "shared" / "demo" / "category_keywords.json"
)


@dataclass(frozen=True)
class CategoryMatch:
    code: str
    keywords: tuple[str, ...]
    score: int
    explanation: str


@dataclass(frozen=True)
class CategoryProblem:
    message: str


def parse_keyword_table(text: str) -> dict[str, tuple[str, ...]]:
    """`{category code: [keyword, …]}`; raises ValueError on any other shape."""
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError("关键词表应为对象：{类别代码: [关键词, …]}")
    table: dict[str, tuple[str, ...]] = {}
    for code, words in doc.items():
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise ValueError(f"类别 {code} 的关键词应为非空文本的列表")
        table[code] = tuple(unicodedata.normalize("NFKC", w).strip() for w in words)
    return table


@cache
def default_keywords() -> dict[str, tuple[str, ...]]:
    return parse_keyword_table(DEFAULT_KEYWORDS.read_text(encoding="utf-8"))


def keyword_table(directory: Directory) -> dict[str, tuple[str, ...]]:
    """The directory's own keywords where a category has them, else the defaults."""
    defaults = default_keywords()
    return {
        code: (cat.keywords or defaults.get(code, ())) for code, cat in directory.categories.items()
    }


def classify(text: str, directory: Directory) -> CategoryMatch | CategoryProblem:
    """The category whose keywords the text shows most (longer keywords weigh more)."""
    folded = unicodedata.normalize("NFKC", text)
    scores: list[tuple[int, str, tuple[str, ...]]] = []
    for code, words in keyword_table(directory).items():
        hits = tuple(w for w in words if w and w in folded)
        if hits:
            scores.append((sum(len(w) for w in hits), code, hits))
    if not scores:
        return CategoryProblem("未能从内容判断信访事项的类别，请选择内容类别")
    scores.sort(reverse=True)
    best = scores[0]
    if len(scores) > 1 and scores[1][0] == best[0]:
        names = "、".join(directory.categories[c].name for _, c, _ in scores[:2])
        return CategoryProblem(f"内容同时涉及{names}，请选择内容类别")
    score, code, hits = best
    quoted = "".join(f"「{w}」" for w in hits)
    name = directory.categories[code].name
    return CategoryMatch(code, hits, score, f"内容中出现{quoted}，归入「{name}」")
