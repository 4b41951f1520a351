"""Who may call which route of petitions-api: the service's access policy.

Roles here (docs/security.md has the suite-wide meaning):

- ``operator`` — the 12345 hotline centre / 信访部门 (登记): registers cases, reads them
  and their petitioners, and takes the steps that belong to the registry in the state
  machines (``cases/lifecycle.py``, party ``registry``): a ticket's accept or decline and
  dispatch (派单); a 信访 case's forwarding or assignment (转送/交办) or decline, and the
  decision on a unit's request to return it; the call-back's rating (回访), closing (办结),
  reopening after a dissatisfied rating, recording a 复查/复核 request, and linking repeats.
- ``handler`` — a unit that works cases (承办: a department, town or village; party
  ``unit``): takes (签收), returns (退单) and replies (答复); for a 信访 case it decides
  acceptance (受理/不予受理, with the written notice), asks to return it and asks for an
  extension. It reads cases, timelines, petitioners, metrics and Open311 requests — all only
  within its org unit's subtree, and it acts only on cases its subtree handles.
- ``supervisor`` — 督办: supervises, escalates (提级) and approves a 12345 ticket's extension
  (延期), and reads what the others read; with an org unit, only within its subtree.
- ``unit_head`` — the head of an org unit (本机关、单位负责人): approves or refuses its unit's
  request to extend a 信访 case (《信访工作条例》第三十四条) — only for cases its own unit
  handles — and reads cases and figures in its subtree.
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
from petitions_api.cases.lifecycle import TRANSITIONS, Action, Party

OPERATOR, HANDLER, SUPERVISOR = Role.OPERATOR, Role.HANDLER, Role.SUPERVISOR
UNIT_HEAD = Role.UNIT_HEAD
PLANNER, READ_ONLY, SYSTEM_CLIENT = Role.PLANNER, Role.READ_ONLY, Role.SYSTEM_CLIENT


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset({Role.ADMIN, *roles})  # admin may do everything


ADMIN = _roles()
REGISTER = _roles(OPERATOR, SYSTEM_CLIENT)  # POST /v1/cases (a system client: tickets only)
CASE_READ = _roles(OPERATOR, HANDLER, SUPERVISOR, UNIT_HEAD)
# A system client reads the petitioner masked; see PERSONAL_DATA_READERS.
PETITIONER_READ = _roles(OPERATOR, HANDLER, SUPERVISOR, SYSTEM_CLIENT)
REGISTRY = _roles(OPERATOR)  # the hotline centre / 信访 registry's steps
UNIT = _roles(HANDLER)  # the handling unit's steps
SUPERVISION = _roles(SUPERVISOR)
REPEATS = _roles(OPERATOR, SUPERVISOR)
FIGURES = _roles(OPERATOR, HANDLER, SUPERVISOR, UNIT_HEAD, PLANNER, READ_ONLY)  # no personal data
REFERENCE = ALL_ROLES
OPEN311_FILE = _roles(SYSTEM_CLIENT, OPERATOR)
OPEN311_READ = _roles(SYSTEM_CLIENT, OPERATOR, HANDLER, SUPERVISOR)

# Roles that see a petitioner unmasked (in scope); each such read is audited.
PERSONAL_DATA_READERS = frozenset({OPERATOR, HANDLER, SUPERVISOR, Role.ADMIN})

# Who is each party of the state machines (``cases/lifecycle.py``).
PARTY_ROLES = {
    Party.REGISTRY: REGISTRY,
    Party.UNIT: UNIT,
    Party.UNIT_HEAD: _roles(UNIT_HEAD),
    Party.SUPERVISION: SUPERVISION,
}
# A route per action, open to every role some track gives the step to; which of them may take
# it on a given case (its track, state, unit) is decided by ``cases.authority``.
ACTIONS: dict[str, frozenset[Role]] = {
    action.value: frozenset().union(
        *(
            PARTY_ROLES[step.by]
            for table in TRANSITIONS.values()
            for (_, each), step in table.items()
            if each is action
        )
    )
    for action in Action
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
