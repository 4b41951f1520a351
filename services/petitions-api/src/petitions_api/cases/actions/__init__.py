"""The lifecycle's steps: ``perform`` takes one; the handlers live by group."""

from petitions_api.cases.actions.perform import perform

__all__ = ["perform"]
