"""Deadlines of cases: working-day arithmetic, the open clocks, and the due-soon/overdue sweep."""
