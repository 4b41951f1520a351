"""Who may call which route of the notifier (the service's access policy, issue #6).

The notifier holds configuration — recipients, rules, templates — and the record of what it
sent. Roles here:

- ``admin`` manages the configuration (create, replace, delete recipients, rules, templates),
  reads everything including recipients' addresses unmasked (each read is audited), retries
  failed deliveries by hand, and manages API keys and reads the personal-data access log.
- ``supervisor`` (督办) follows up: reads rules, templates and deliveries, previews templates,
  and reads recipients of its own org unit and below with phone and email masked — the
  addresses of staff are personal data.
- ``system_client`` (another government system) asks what happened to a notification: reads
  deliveries only.
- ``read_only`` reads the non-personal configuration: rules and templates.
- ``operator``, ``handler`` and ``planner`` have nothing to do here: the notifier tells them
  things, they do not configure it.

Every route of the app is listed; a route missing here is refused to everyone, and the matrix
test proves none is missing.
"""

from __future__ import annotations

from gov_common.security.access import AccessPolicy
from gov_common.security.principal import Role

ADMIN = frozenset({Role.ADMIN})
# Recipients carry staff's phone and email: no read_only, no machine clients.
RECIPIENT_READERS = frozenset({Role.ADMIN, Role.SUPERVISOR})
CONFIG_READERS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.READ_ONLY})
PREVIEWERS = frozenset({Role.ADMIN, Role.SUPERVISOR})
DELIVERY_READERS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.SYSTEM_CLIENT})

RULES: dict[tuple[str, str], frozenset[Role]] = {
    # recipients (收件人): configuration holding personal data
    ("POST", "/v1/recipients"): ADMIN,
    ("GET", "/v1/recipients"): RECIPIENT_READERS,
    ("GET", "/v1/recipients/{recipient_id}"): RECIPIENT_READERS,
    ("PUT", "/v1/recipients/{recipient_id}"): ADMIN,
    ("DELETE", "/v1/recipients/{recipient_id}"): ADMIN,
    ("POST", "/v1/recipients/{recipient_id}/webhook-secret/rotate"): ADMIN,
    # templates (消息模板)
    ("POST", "/v1/templates"): ADMIN,
    ("GET", "/v1/templates"): CONFIG_READERS,
    ("GET", "/v1/templates/{template_id}"): CONFIG_READERS,
    ("PUT", "/v1/templates/{template_id}"): ADMIN,
    ("DELETE", "/v1/templates/{template_id}"): ADMIN,
    ("POST", "/v1/templates/{template_id}/preview"): PREVIEWERS,
    # rules (订阅规则)
    ("POST", "/v1/rules"): ADMIN,
    ("GET", "/v1/rules"): CONFIG_READERS,
    ("GET", "/v1/rules/{rule_id}"): CONFIG_READERS,
    ("PUT", "/v1/rules/{rule_id}"): ADMIN,
    ("DELETE", "/v1/rules/{rule_id}"): ADMIN,
    # deliveries (投递记录)
    ("GET", "/v1/deliveries"): DELIVERY_READERS,
    ("GET", "/v1/deliveries/{delivery_id}"): DELIVERY_READERS,
    ("POST", "/v1/deliveries/{delivery_id}/retry"): ADMIN,
    # administration
    ("POST", "/v1/api-keys"): ADMIN,
    ("GET", "/v1/api-keys"): ADMIN,
    ("DELETE", "/v1/api-keys/{key_id}"): ADMIN,
    ("GET", "/v1/audit/personal-data-access"): ADMIN,
    ("GET", "/v1/audit/personal-data-keys"): ADMIN,
}

POLICY = AccessPolicy(rules=RULES)
