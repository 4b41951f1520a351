"""Who may call which route of targets-api: the service's access policy.

Roles here (docs/security.md has the suite-wide meaning):

- ``planner`` — the planning office (发改/政府办) owns the work report: creates and copies plans,
  adds indicators (the catalogue; bulk imports go through the admin CLI), and approves or
  returns progress reports (审核).
- ``handler`` — a department (承办单位) whose ``org_unit`` is the department code used in the
  indicators' lead / co-organiser fields. It reports progress, and only on indicators its
  department leads or co-organises: that scope is checked in ``progress.service`` from the
  caller's org unit, which is also what the report records as the reporting department.
- ``admin`` — everything, including the service's API keys.
- ``operator``, ``supervisor``, ``system_client``, ``read_only`` — read: plans, indicators,
  reports, the dashboard, exports and live figures. Targets hold no personal data, so every
  role may read all of it.

The CLI (``python -m targets_api.cli``) talks to the database directly; it is an ops tool
and takes no token.
"""

from __future__ import annotations

from gov_common.security.access import ALL_ROLES, AccessPolicy
from gov_common.security.principal import Role

READ = ALL_ROLES
PLAN = frozenset({Role.PLANNER, Role.ADMIN})  # the plan, its indicators, report review
REPORT = frozenset({Role.HANDLER, Role.ADMIN})  # progress, scoped to the caller's department
ADMIN = frozenset({Role.ADMIN})

POLICY = AccessPolicy(
    {
        # plans and the catalogue
        ("POST", "/v1/plans"): PLAN,
        ("GET", "/v1/plans"): READ,
        ("GET", "/v1/plans/{plan_ref}"): READ,
        ("POST", "/v1/plans/{plan_ref}/copies"): PLAN,
        ("POST", "/v1/plans/{plan_ref}/indicators"): PLAN,
        ("GET", "/v1/plans/{plan_ref}/dashboard"): READ,
        ("GET", "/v1/plans/{plan_ref}/export"): READ,
        # indicators
        ("GET", "/v1/indicators"): READ,
        ("GET", "/v1/indicators/{indicator_id}"): READ,
        # progress reports and their review
        ("POST", "/v1/indicators/{indicator_id}/reports"): REPORT,
        ("GET", "/v1/indicators/{indicator_id}/reports"): READ,
        ("POST", "/v1/reports/{report_id}/approval"): PLAN,
        ("POST", "/v1/reports/{report_id}/return"): PLAN,
        # live figures from petitions case events
        ("GET", "/v1/live/case-events"): READ,
        ("GET", "/v1/live/first-time-grassroots-rate"): READ,
        # the service's API keys (other government systems)
        ("POST", "/v1/api-keys"): ADMIN,
        ("GET", "/v1/api-keys"): ADMIN,
        ("DELETE", "/v1/api-keys/{key_id}"): ADMIN,
    }
)
