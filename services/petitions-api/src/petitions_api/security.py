"""Who may call which route of petitions-api: the service's access policy.

Roles here (docs/security.md has the suite-wide meaning):

- ``operator`` — the 12345 hotline centre / 信访 registry (登记): registers cases, reads them
  and their petitioners, and takes the steps that belong to the registry in the state
  machine (``cases/lifecycle.py``): accept or decline (受理/不予受理), dispatch (派单), the
  call-back's rating (回访), closing (办结), reopening after a dissatisfied rating, recording
  a 复查/复核 request, and linking repeats (重复信访).
- ``handler`` — a unit that works cases (承办: a department, town or village): takes (签收),
  returns (退单) and replies (答复), and reads cases, timelines, petitioners, metrics and
  Open311 requests — all only within its org unit's subtree.
- ``supervisor`` — 督办: supervises, escalates (提级) and approves extensions (延期), and reads
  what the others read; with an org unit, only within its subtree.
- ``planner``, ``read_only`` — figures and reference data: the metrics and the cases behind
  them (ids and statuses, no personal data), org units, categories, Open311 discovery.
- ``system_client`` — another government system (a city 12345 platform): files hotline
  tickets (Open311 ``POST requests`` or ``POST /v1/cases`` with kind ``hotline_ticket``) and
  reads them through Open311; a petitioner it reads comes back masked.
- ``admin`` — everything, including API keys and the personal-data access log.

Org-unit scope is not in this table but in the service functions, from the caller's
``org_unit`` (:func:`scope_of`): a case is in scope when its handling unit or its place lies
in the subtree; out of scope it does not exist (404).
"""

from __future__ import annotations

from gov_common.security.access import ALL_ROLES, PUBLIC_ROUTES, AccessPolicy
from gov_common.security.principal import Principal, Role

OPERATOR, HANDLER, SUPERVISOR = Role.OPERATOR, Role.HANDLER, Role.SUPERVISOR
PLANNER, READ_ONLY, SYSTEM_CLIENT = Role.PLANNER, Role.READ_ONLY, Role.SYSTEM_CLIENT


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset({Role.ADMIN, *roles})  # admin may do everything


ADMIN = _roles()
REGISTER = _roles(OPERATOR, SYSTEM_CLIENT)  # POST /v1/cases (a system client: tickets only)
CASE_READ = _roles(OPERATOR, HANDLER, SUPERVISOR)
# A system client reads the petitioner masked; see PERSONAL_DATA_READERS.
PETITIONER_READ = _roles(OPERATOR, HANDLER, SUPERVISOR, SYSTEM_CLIENT)
REGISTRY = _roles(OPERATOR)  # the hotline centre / 信访 registry's steps
UNIT = _roles(HANDLER)  # the handling unit's steps
SUPERVISION = _roles(SUPERVISOR)
REPEATS = _roles(OPERATOR, SUPERVISOR)
FIGURES = _roles(OPERATOR, HANDLER, SUPERVISOR, PLANNER, READ_ONLY)  # no personal data
REFERENCE = ALL_ROLES
OPEN311_FILE = _roles(SYSTEM_CLIENT, OPERATOR)
OPEN311_READ = _roles(SYSTEM_CLIENT, OPERATOR, HANDLER, SUPERVISOR)

# Roles that see a petitioner unmasked (in scope); each such read is audited.
PERSONAL_DATA_READERS = frozenset({OPERATOR, HANDLER, SUPERVISOR, Role.ADMIN})

ACTIONS = {
    "accept": REGISTRY,
    "decline": REGISTRY,
    "dispatch": REGISTRY,
    "rate": REGISTRY,
    "close": REGISTRY,
    "reopen": REGISTRY,
    "request_review": REGISTRY,
    "take": UNIT,
    "return": UNIT,
    "reply": UNIT,
    "supervise": SUPERVISION,
    "escalate": SUPERVISION,
    "extend": SUPERVISION,
}
METRICS = (
    "first-time-grassroots-resolution",
    "response",
    "resolution",
    "satisfaction",
    "on-time",
    "repeat",
    "backlog",
)

POLICY = AccessPolicy(
    {
        # cases
        ("POST", "/v1/cases"): REGISTER,
        ("GET", "/v1/cases"): CASE_READ,
        ("GET", "/v1/cases/{case_id}"): CASE_READ,
        ("GET", "/v1/cases/{case_id}/timeline"): CASE_READ,
        ("GET", "/v1/cases/{case_id}/petitioner"): PETITIONER_READ,
        ("POST", "/v1/cases/{case_id}/repeat"): REPEATS,
        ("DELETE", "/v1/cases/{case_id}/repeat"): REPEATS,
        ("POST", "/v1/cases/{case_id}/repeat/confirm"): REPEATS,
        # the lifecycle, one route per action
        **{
            ("POST", f"/v1/cases/{{case_id}}/actions/{action}"): roles
            for action, roles in ACTIONS.items()
        },
        # the working-day calendar (deadlines rest on it; entered by an admin)
        ("GET", "/v1/calendar"): REFERENCE,
        ("GET", "/v1/calendar/{year}"): REFERENCE,
        ("GET", "/v1/calendar/{year}/versions"): REFERENCE,
        ("PUT", "/v1/calendar/{year}"): ADMIN,
        # reference data
        ("GET", "/v1/org-units"): REFERENCE,
        ("GET", "/v1/categories"): REFERENCE,
        ("GET", "/v1/hotline-tiers"): REFERENCE,
        ("GET", "/v1/reference-versions"): REFERENCE,
        # metrics (scoped to the caller's subtree)
        ("GET", "/v1/metrics"): FIGURES,
        ("GET", "/v1/metrics/summary"): FIGURES,
        **{("GET", f"/v1/metrics/{metric}"): FIGURES for metric in METRICS},
        **{("GET", f"/v1/metrics/{metric}/cases"): FIGURES for metric in METRICS},
        # Open311 GeoReport v2 (discovery and the service list are public, below)
        ("POST", "/open311/v2/requests.{fmt}"): OPEN311_FILE,
        ("GET", "/open311/v2/requests.{fmt}"): OPEN311_READ,
        ("GET", "/open311/v2/requests/{service_request_id}.{fmt}"): OPEN311_READ,
        # administration
        ("POST", "/v1/api-keys"): ADMIN,
        ("GET", "/v1/api-keys"): ADMIN,
        ("DELETE", "/v1/api-keys/{key_id}"): ADMIN,
        ("GET", "/v1/audit/personal-data-access"): ADMIN,
        ("GET", "/v1/audit/personal-data-keys"): ADMIN,
    },
    # Open311 clients read discovery and the service list without a key, as the spec has it
    # (they hold no case data); the catch-all answers any other path with an Open311 404.
    public=PUBLIC_ROUTES
    | {
        ("GET", "/open311/v2/discovery.{fmt}"),
        ("GET", "/open311/v2/services.{fmt}"),
        ("GET", "/open311/v2/services/{service_code}.{fmt}"),
    }
    | {(method, "/open311/v2/{rest:path}") for method in ("GET", "POST", "PUT", "PATCH", "DELETE")},
)


def scope_of(principal: Principal) -> str | None:
    """The org unit whose subtree the caller sees; None: the whole district."""
    if Role.ADMIN in principal.roles:
        return None
    return principal.org_unit


def may_read_personal_data(principal: Principal) -> bool:
    return principal.has_any(PERSONAL_DATA_READERS)


def registers_petitions(principal: Principal) -> bool:
    """A system client alone files hotline tickets only; 信访 cases are registered by people."""
    return principal.has_any(_roles(OPERATOR))
