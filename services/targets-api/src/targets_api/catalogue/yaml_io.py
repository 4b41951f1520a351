"""A plan's catalogue as YAML: reading it with line numbers, validating it, writing it.

A file holds one plan::

    plan: {code: yintai-2023, name_zh: ..., year: 2023, ...}
    indicators:
      - code: OPEN-01
        name_zh: ...
        kind: at_least
        ...

Validation errors name the file's line, so a planner can fix the file in an editor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from targets_api.indicators.schemas import IndicatorIn, PlanCreate


class CatalogueFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: PlanCreate
    indicators: list[IndicatorIn] = Field(default_factory=list)


@dataclass(frozen=True)
class LineError:
    line: int  # 1-based
    where: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.where}: {self.message}"


class CatalogueError(ValueError):
    def __init__(self, source: str, errors: list[LineError]) -> None:
        self.source = source
        self.errors = errors
        super().__init__("\n".join(f"{source}:{e}" for e in errors))


class _Lines:
    """The line of every mapping key and sequence item, by its path in the document."""

    def __init__(self) -> None:
        self.by_path: dict[tuple[Any, ...], int] = {}

    def record(self, node: yaml.Node, path: tuple[Any, ...]) -> None:
        self.by_path[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self.by_path[(*path, key.value)] = key.start_mark.line + 1
                self.record(value, (*path, key.value))
                self.by_path[(*path, key.value)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.record(item, (*path, index))

    def line_of(self, path: tuple[Any, ...]) -> int:
        while path and path not in self.by_path:
            path = path[:-1]
        return self.by_path.get(path, 1)


class _Loader(yaml.SafeLoader):
    """Safe YAML where dates stay strings (pydantic parses them) and duplicate keys fail."""


def _no_timestamps(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _no_timestamps)
# Keep numbers exact: 0.1 must not become 0.1000000000000000055…
_Loader.add_constructor(
    "tag:yaml.org,2002:float", lambda loader, node: str(loader.construct_scalar(node))
)


def _duplicate_keys(node: yaml.Node, errors: list[LineError], path: str = "") -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if key.value in seen:
                errors.append(
                    LineError(key.start_mark.line + 1, f"{path}{key.value}", "duplicate key")
                )
            seen.add(key.value)
            _duplicate_keys(value, errors, f"{path}{key.value}.")
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _duplicate_keys(item, errors, f"{path}{index}.")


def parse_catalogue(text: str, source: str = "<catalogue>") -> CatalogueFile:
    """Parse and validate a catalogue; raise :class:`CatalogueError` listing every problem."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise CatalogueError(source, [LineError(line, "yaml", str(exc.problem))]) from exc
    if node is None:
        raise CatalogueError(source, [LineError(1, "file", "the file is empty")])
    errors: list[LineError] = []
    _duplicate_keys(node, errors)
    if errors:
        raise CatalogueError(source, errors)
    lines = _Lines()
    lines.record(node, ())
    data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    if not isinstance(data, dict):
        raise CatalogueError(source, [LineError(1, "file", "expected a mapping with plan:")])
    try:
        catalogue = CatalogueFile.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            path = tuple(error["loc"])
            where = ".".join(str(p) for p in path) or "file"
            errors.append(LineError(lines.line_of(path), where, error["msg"]))
        raise CatalogueError(source, errors) from exc
    seen: dict[str, int] = {}
    for index, indicator in enumerate(catalogue.indicators):
        line = lines.line_of(("indicators", index, "code"))
        if indicator.code in seen:
            errors.append(
                LineError(
                    line,
                    f"indicators.{index}.code",
                    f"duplicate code {indicator.code} (first on line {seen[indicator.code]})",
                )
            )
        seen.setdefault(indicator.code, line)
    if errors:
        raise CatalogueError(source, errors)
    return catalogue


def load_catalogue(path: Path) -> CatalogueFile:
    return parse_catalogue(path.read_text(encoding="utf-8"), str(path))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        normalized = value.normalize()
        return int(normalized) if normalized == normalized.to_integral() else float(normalized)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v not in (None, [], False)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def dump_catalogue(catalogue: CatalogueFile) -> str:
    document = {
        "plan": _plain(catalogue.plan.model_dump(mode="python")),
        "indicators": [_plain(i.model_dump(mode="python")) for i in catalogue.indicators],
    }
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
