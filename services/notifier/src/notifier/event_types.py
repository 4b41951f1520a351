"""The event registry as the notifier's requests name it: rules and templates are each written
for one registered event type, and both refuse a name the registry does not know."""

from __future__ import annotations

from gov_common.events import EVENT_TYPES, EventType
from gov_common.problems import ProblemError


def known_event_type(name: str, *, field: str = "event_type") -> EventType:
    """The registered event type, or a 422 naming the types there are."""
    found = EVENT_TYPES.get(name)
    if found is None:
        raise ProblemError(
            422,
            f"{field} {name!r} is not a registered event type; known types: "
            + ", ".join(sorted(EVENT_TYPES)),
            problem_type="unknown-event-type",
            title="Unknown event type",
            extra={"invalid_params": [{"name": field, "reason": "not a registered event type"}]},
        )
    return found
