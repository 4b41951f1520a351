"""ETag / If-Match for resources two people may edit at once (optimistic concurrency)."""

from __future__ import annotations

from gov_common.problems import ProblemError


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int, what: str) -> None:
    """Refuse a change made without, or against an old, version of the resource."""
    if if_match is None:
        raise ProblemError(
            428,
            f"send If-Match with the ETag of the {what} you read, so a concurrent change "
            "is not overwritten",
            problem_type="precondition-required",
        )
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in wanted and etag(version) not in wanted:
        raise ProblemError(
            412,
            f"the {what} changed since you read it (now ETag {etag(version)}); "
            "read it again and reapply your change",
            problem_type="precondition-failed",
        )
