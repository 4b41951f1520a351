"""ETag and ``If-Match``: one rule for every service (RFC 9110 §8.8.3, §13.1.1).

A resource two people may change carries a version; its ETag is the strong tag ``"<version>"``.
A change sends the ETag it read in ``If-Match``:

- replacing or deleting a resource (PUT, DELETE) *requires* it: without one the answer is 428
  ``precondition-required``, so nobody overwrites a change they never saw;
- a lifecycle action (``POST …/actions/{action}``) takes it optionally: the lifecycle already
  refuses a step the current state does not allow (409), and a caller that wants more sends it;
- ``If-Match`` compares strongly: a weak tag (``W/"3"``) never matches (RFC 9110 §13.1.1), so
  it is a 412 like a stale one; ``*`` matches any version of a resource that exists;
- a header that is not a list of quoted tags is a 400 naming the form expected.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Header

from gov_common.problems import ProblemError

IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='the ETag of the resource as read (e.g. "3"); 412 if it changed since',
    ),
]

# entity-tag = [ weak ] opaque-tag; opaque-tag = DQUOTE *etagc DQUOTE (RFC 9110 §8.8.3)
_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')


def etag(version: int) -> str:
    """The strong ETag of a resource at ``version``."""
    return f'"{version}"'


def parse_if_match(value: str) -> tuple[bool, list[str]]:
    """``(any, strong tags)`` of an ``If-Match`` value: ``any`` for ``*``; weak tags are
    dropped, since they never match; a malformed value is a 400 problem."""
    if value.strip() == "*":
        return True, []
    tags: list[str] = []
    position = 0
    while position < len(value):
        found = _TAG.match(value, position)
        if found is None or found.end() == position:
            raise ProblemError(
                400,
                f"If-Match {value!r} is not a list of ETags; send the ETag as read, quotes "
                'included (If-Match: "3"), or * for any version',
                problem_type="invalid-if-match",
            )
        if found.group(1) is None:
            tags.append(f'"{found.group(2)}"')
        position = found.end()
    if not tags and not value.strip():
        raise ProblemError(400, "If-Match is empty", problem_type="invalid-if-match")
    return False, tags


def check_if_match(if_match: str | None, current: int | str, what: str, *, required: bool) -> None:
    """Refuse a change made against another version of the resource than ``current`` (its
    version, or its ETag when the resource's tag is not a plain version), and, when
    ``required``, one made without saying which version it read."""
    now = etag(current) if isinstance(current, int) else current
    if if_match is None:
        if required:
            raise ProblemError(
                428,
                f"send If-Match with the ETag of the {what} you read (now {now}), so a "
                "concurrent change is not overwritten",
                problem_type="precondition-required",
            )
        return
    any_version, tags = parse_if_match(if_match)
    if any_version or now in tags:
        return
    weak = "W/" in if_match and not tags
    raise ProblemError(
        412,
        f"the {what} changed since you read it (now ETag {now}); read it again and "
        "reapply your change"
        + ("; a weak ETag (W/…) never matches If-Match (RFC 9110 §13.1.1)" if weak else ""),
        problem_type="precondition-failed",
    )
