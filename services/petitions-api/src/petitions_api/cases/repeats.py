"""Is a new case the same petitioner's same matter as an earlier one? Pure functions.

Identity: equal blind indexes of the normalised phone number or ID number (the query is in
``service._find_repeat``; see ``personal_data``), among earlier cases of the same kind (an
earlier 12345 call does not make a 信访 letter a repeat petition, nor the other way round).
Matter: the same category (when both have one) and similar text, never the subject alone.
Similarity is rapidfuzz's character-level ratio, which works on
Chinese text without word segmentation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

from rapidfuzz import fuzz

_SPACE_AND_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def _normalise_text(text: str) -> str:
    return _SPACE_AND_PUNCT.sub("", text).lower()


# Below this many characters a text is compared whole: a short text is "contained" in almost
# any longer one on the same subject, so a partial match would call it the same matter.
_SHORTEST_PARTIAL = 8


def _alike(a: str, b: str) -> float:
    a, b = _normalise_text(a)[:2000], _normalise_text(b)[:2000]
    if not a or not b:
        return 0.0
    if min(len(a), len(b)) < _SHORTEST_PARTIAL:
        return fuzz.ratio(a, b)
    return fuzz.partial_ratio(a, b)


def similarity(subject_a: str, text_a: str, subject_b: str, text_b: str) -> float:
    """0–100: how alike the two matters' whole texts (subject and description) are.

    The subject alone never decides: a generic subject (拖欠工资, 噪音扰民) names many
    matters, and two filings against different employers share it word for word.
    """
    return float(_alike(subject_a + text_a, subject_b + text_b))


@dataclass(frozen=True)
class Candidate:
    case_id: UUID
    subject: str
    description: str
    category_code: str | None


def best_match(
    *,
    subject: str,
    description: str,
    category_code: str | None,
    candidates: list[Candidate],
    threshold: float,
) -> tuple[UUID, float] | None:
    """The most similar candidate at or above ``threshold``; candidates come newest first."""
    best: tuple[UUID, float] | None = None
    for candidate in candidates:
        if category_code and candidate.category_code and candidate.category_code != category_code:
            continue
        score = similarity(subject, description, candidate.subject, candidate.description)
        if score >= threshold and (best is None or score > best[1]):
            best = (candidate.case_id, score)
    return best
