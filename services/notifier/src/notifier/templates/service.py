"""Rules about templates: only known event types, only known variables; a template a rule uses
keeps its event type and is not deleted. No HTTP here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.preconditions import check_if_match
from gov_common.problems import NotFoundError, ProblemError
from notifier.event_types import known_event_type
from notifier.rules.service import rules_using_template
from notifier.templates import rendering
from notifier.templates.models import Template
from notifier.templates.schemas import PreviewIn, PreviewRead, TemplateIn


def check_template(data: TemplateIn) -> None:
    event_type = known_event_type(data.event_type)
    params = []
    for variant_name, variant in data.variants.items():
        for part in ("subject", "body"):
            source = getattr(variant, part)
            if source is None:
                continue
            params += [
                {"name": f"variants.{variant_name}.{part}", "reason": problem}
                for problem in rendering.check_source(source, event_type)
            ]
    if params:
        raise ProblemError(
            422,
            "template refused (it would fail its deliveries): "
            + "; ".join(f"{p['name']}: {p['reason']}" for p in params),
            problem_type="invalid-template",
            title="Template refused",
            extra={"invalid_params": params},
        )


async def _refuse_taken_name(
    session: AsyncSession, name: str, *, but: uuid.UUID | None = None
) -> None:
    query = select(Template.id).where(Template.name == name)
    if but is not None:
        query = query.where(Template.id != but)
    if (await session.scalar(query)) is not None:
        raise ProblemError(
            409, f"a template named {name!r} exists; choose another name", problem_type="conflict"
        )


async def create_template(session: AsyncSession, data: TemplateIn) -> Template:
    check_template(data)
    await _refuse_taken_name(session, data.name)
    template = Template(id=uuid.uuid4(), version=1, **data.model_dump(mode="json"))
    session.add(template)
    await session.flush()
    await session.refresh(template)
    return template


async def get_template(session: AsyncSession, template_id: uuid.UUID) -> Template:
    template = await session.get(Template, template_id)
    if template is None:
        raise NotFoundError("template", template_id)
    return template


async def replace_template(
    session: AsyncSession, template_id: uuid.UUID, data: TemplateIn, *, if_match: str | None
) -> Template:
    template = await get_template(session, template_id)
    check_if_match(if_match, template.version, "template", required=True)
    check_template(data)
    await _refuse_taken_name(session, data.name, but=template_id)
    if data.event_type != template.event_type:
        using = await rules_using_template(session, template_id)
        if using:
            raise ProblemError(
                409,
                f"rule(s) {', '.join(using)} use this template for {template.event_type}; "
                "make a new template for another event type",
                problem_type="conflict",
            )
    for name, value in data.model_dump(mode="json").items():
        setattr(template, name, value)
    template.version += 1
    template.updated_at = datetime.now(UTC)
    await session.flush()
    return template


async def delete_template(
    session: AsyncSession, template_id: uuid.UUID, *, if_match: str | None
) -> None:
    template = await get_template(session, template_id)
    check_if_match(if_match, template.version, "template", required=True)
    using = await rules_using_template(session, template_id)
    if using:
        raise ProblemError(
            409,
            f"rule(s) {', '.join(using)} use this template; change them first",
            problem_type="conflict",
        )
    await session.delete(template)
    await session.flush()


def preview(template: Template, request: PreviewIn) -> PreviewRead:
    event_type = known_event_type(template.event_type)
    try:
        payload = rendering.sample_payload(event_type, request.data)
        event = rendering.sample_event(event_type, payload)
        channel = request.channel.value if request.channel else "default"
        rendered = rendering.render(
            template.variants,
            channel,
            rendering.context_for(
                event, payload, {"name": "示例收件人", "org_unit_id": "示例单位", "kind": "person"}
            ),
        )
    except rendering.TemplateRenderError as exc:
        raise ProblemError(422, str(exc), problem_type="preview-failed") from exc
    return PreviewRead(
        channel=channel,
        subject=rendered.subject,
        body=rendered.body,
        event=event.model_dump(mode="json"),
    )
