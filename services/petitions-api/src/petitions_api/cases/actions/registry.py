"""The handler of every action, from the modules that hold them by group."""

from __future__ import annotations

from typing import Any

from petitions_api.cases.actions import acceptance, conclusion, handling
from petitions_api.cases.actions.base import Handler
from petitions_api.cases.lifecycle import Action

HANDLERS: dict[Action, Handler[Any]] = {
    handler.action: handler
    for handler in (*acceptance.HANDLERS, *handling.HANDLERS, *conclusion.HANDLERS)
}
if missing := set(Action) - HANDLERS.keys():  # an action without a handler fails at import
    raise RuntimeError(f"actions without a handler: {sorted(missing)}")
