"""Admin CLI of targets-api: import and export a plan's catalogue as YAML.

    python -m targets_api.cli import FILE [--plan CODE]   create or update the plan from FILE
    python -m targets_api.cli export FILE --plan CODE     write the plan's catalogue to FILE
    python -m targets_api.cli seed                        import the bundled data files (idempotent)
    python -m targets_api.cli rebuild-live [--accept-retention-gap]
                                    clear the live figures and replay the case events (runbook)

The database is TARGETS_DATABASE_URL. Invalid files are refused with the line of each problem,
and nothing is written.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from gov_common.clock import today_in_china
from gov_common.db import create_engine, create_session_factory, unit_of_work
from gov_common.problems import ProblemError
from targets_api.catalogue import service
from targets_api.catalogue.yaml_io import CatalogueError, dump_catalogue, load_catalogue
from targets_api.config import Settings, get_settings
from targets_api.indicators import service as indicators
from targets_api.live import rebuild

err = Console(stderr=True)


def bundled_catalogues() -> list[Path]:
    """The data files shipped with the service (seeds of a deployment)."""
    folder = resources.files("targets_api") / "data"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml"))


async def import_file(path: Path, plan_code: str | None, settings: Settings) -> int:
    try:
        catalogue = load_catalogue(path)
    except CatalogueError as exc:
        for error in exc.errors:
            err.print(f"[red]{path}:{error.line}[/red]: {error.where}: {error.message}")
        return 1
    if plan_code is not None and plan_code != catalogue.plan.code:
        err.print(
            f"[red]{path}[/red]: the file is plan {catalogue.plan.code!r}, not {plan_code!r}; "
            "change --plan or plan.code in the file"
        )
        return 1
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        sessions = create_session_factory(engine)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=False,
        ) as bar:
            task = bar.add_task(f"importing {catalogue.plan.code}", total=len(catalogue.indicators))
            async with unit_of_work(sessions) as session:
                result = await service.import_catalogue(
                    session,
                    catalogue,
                    settings=settings,
                    today=today_in_china(),
                    on_indicator=lambda _: bar.advance(task),
                )
    except ProblemError as exc:
        err.print(f"[red]{path}[/red]: {exc.detail} (nothing was imported)")
        return 1
    finally:
        await engine.dispose()
    err.print(
        f"plan {result.plan.code}: {result.created} indicator(s) created, {result.updated} updated"
    )
    return 0


async def export_text(plan_code: str, settings: Settings) -> tuple[str, int] | None:
    """The plan's catalogue as YAML and its number of indicators; None if there is no plan."""
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        sessions = create_session_factory(engine)
        async with sessions() as session:
            plan = await indicators.get_plan(session, plan_code)
            catalogue = await service.export_catalogue(session, plan)
    except ProblemError as exc:
        err.print(f"[red]{exc.detail}[/red]")
        return None
    finally:
        await engine.dispose()
    return dump_catalogue(catalogue), len(catalogue.indicators)


def export_file(path: Path, plan_code: str, settings: Settings) -> int:
    exported = asyncio.run(export_text(plan_code, settings))
    if exported is None:
        return 1
    text, count = exported
    if str(path) == "-":
        sys.stdout.write(text)
    else:
        path.write_text(text, encoding="utf-8")
        err.print(f"wrote {count} indicator(s) of {plan_code} to {path}")
    return 0


async def seed(settings: Settings) -> int:
    status = 0
    for path in bundled_catalogues():
        status |= await import_file(path, None, settings)
    return status


async def rebuild_live(settings: Settings, *, accept_retention_gap: bool) -> int:
    """Clear the live figures and rewind the consumer group (targets_api.live.rebuild)."""
    bootstrap, group = settings.kafka_bootstrap_servers, settings.consumer_group
    topic = rebuild.case_events_topic(settings.kafka_topic_prefix)
    try:
        await rebuild.check_group_idle(bootstrap, group)
        start = await rebuild.replay_start(bootstrap, topic)
    except rebuild.RebuildRefusedError as exc:
        err.print(f"[red]refused[/red]: {exc}")
        return 1
    if start.retention_gap and not accept_retention_gap:
        gaps = ", ".join(
            f"partition {tp.partition} from {o}" for tp, o in start.retention_gap.items()
        )
        err.print(
            f"[red]refused[/red]: retention already deleted the first records of {topic} "
            f"({gaps}); cases known only from those would drop out of the figures. "
            "Run again with --accept-retention-gap if that is acceptable."
        )
        return 1
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with unit_of_work(create_session_factory(engine)) as session:
            removed = await rebuild.forget_live_figures(session, group)
    finally:
        await engine.dispose()
    # Cleared but not yet rewound if this fails: running the rebuild again finishes it.
    await rebuild.rewind_group(bootstrap, group, start)
    err.print(
        f"cleared {removed}; group {group!r} rewound to the earliest offsets of {topic}: "
        "start targets-api and watch gov_consumer_lag fall to 0"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m targets_api.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    imp = commands.add_parser("import", help="create or update a plan from a YAML catalogue")
    imp.add_argument("file", type=Path)
    imp.add_argument("--plan", help="expected plan code (must match plan.code in the file)")
    exp = commands.add_parser("export", help="write a plan's catalogue as YAML ('-' = stdout)")
    exp.add_argument("file", type=Path)
    exp.add_argument("--plan", required=True, help="plan code or id")
    commands.add_parser("seed", help="import every bundled data file (safe to run again)")
    live = commands.add_parser(
        "rebuild-live", help="clear the live figures and replay the case events from the start"
    )
    live.add_argument(
        "--accept-retention-gap",
        action="store_true",
        help="rebuild even though retention deleted the topic's first records",
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command == "import":
        return asyncio.run(import_file(args.file, args.plan, settings))
    if args.command == "export":
        return export_file(args.file, args.plan, settings)
    if args.command == "rebuild-live":
        return asyncio.run(rebuild_live(settings, accept_retention_gap=args.accept_retention_gap))
    return asyncio.run(seed(settings))


if __name__ == "__main__":
    raise SystemExit(main())
