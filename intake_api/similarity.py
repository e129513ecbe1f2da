"""How alike two petitions' texts are: Jaccard similarity of character bigrams
(Chinese has no spaces; bigrams carry most of the meaning of a phrase). Pure."""

from __future__ import annotations

import re
import unicodedata

# Over this, a new petition from the same person, in the same category and place,
# is the same matter. Paraphrases of one complaint score 0.3–0.5 on the test
# corpus; different matters of the same category stay under 0.15.
DEFAULT_THRESHOLD = 0.3
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def shingles(text: str) -> frozenset[str]:
    folded = _NOISE.sub("", unicodedata.normalize("NFKC", text).lower())
    if len(folded) < 2:
        return frozenset({folded}) if folded else frozenset()
    return frozenset(folded[i : i + 2] for i in range(len(folded) - 1))


def similarity(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)
