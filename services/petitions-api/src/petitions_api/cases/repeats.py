"""Is a new case the same petitioner's same matter as an earlier one? Pure functions.

Identity: equal blind indexes of the normalised phone number or ID number (the query is in
``service._find_repeat``; see ``personal_data``). Matter: the same category (when both have
one) and similar text. Similarity is rapidfuzz's character-level ratio, which works on
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


def similarity(subject_a: str, text_a: str, subject_b: str, text_b: str) -> float:
    """0–100: the better of subject-to-subject and the whole matter's text."""
    subjects = fuzz.ratio(_normalise_text(subject_a), _normalise_text(subject_b))
    whole = fuzz.partial_ratio(
        _normalise_text(subject_a + text_a)[:2000], _normalise_text(subject_b + text_b)[:2000]
    )
    return float(max(subjects, whole))


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
