"""docker-compose.yml: valid against the Compose Specification and consistent with the repository.

The schema is vendored (deploy/compose/compose-spec.schema.json, see deploy/compose/README.md), so
this test needs neither network nor a Docker engine. Beyond the schema it checks what would only
show up on `docker compose up`: Dockerfiles and migrations that exist, one compose service per
service directory, hardened non-root containers, pinned images, database URLs that match the
Postgres init script, development-only secrets.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema import validators

from gov_common.settings import DEVELOPMENT_ONLY_SECRETS

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = ROOT / "deploy" / "compose" / "compose-spec.schema.json"
POSTGRES_INIT = ROOT / "deploy" / "compose" / "postgres-init.sql"
SERVICES_DIR = ROOT / "services"

# Published host ports of the services, by service directory.
EXPECTED_HOST_PORTS = {"petitions-api": 8101, "targets-api": 8102, "notifier": 8103}
CONTAINER_PORT = 8000


# --------------------------------------------------------------------------- loading helpers


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (PyYAML keeps the last one silently;
    Compose refuses the file)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node, deep=deep))


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: safe


def schema_errors(document: Any, schema: dict[str, Any]) -> list[str]:
    validator_cls = validators.validator_for(schema)
    validator = validator_cls(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


_DEFAULT_VAR = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate_defaults(value: str) -> str:
    """Compose interpolation as on a machine with none of the variables set."""
    return _DEFAULT_VAR.sub(lambda m: m.group(2) or "", value)


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {k: v for k, v in pairs}
    return {k: "" if v is None else str(v) for k, v in env.items()}


def depends_on_of(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return {name: (spec or {"condition": "service_started"}) for name, spec in deps.items()}


def build_of(service: dict[str, Any]) -> tuple[Path, Path] | None:
    """(context dir, Dockerfile) of a service that builds, else None."""
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    context = (ROOT / build.get("context", ".")).resolve()
    return context, (context / build.get("dockerfile", "Dockerfile")).resolve()


def published_ports(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(host port, container port) pairs of a service's published ports."""
    result: list[tuple[int, int]] = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published") is not None:
                host = interpolate_defaults(str(entry["published"]))
                result.append((int(host), int(entry["target"])))
            continue
        spec = interpolate_defaults(str(entry)).split("/")[0]
        parts = spec.rsplit(":", 2)
        if len(parts) >= 2 and parts[-2]:
            result.append((int(parts[-2]), int(parts[-1])))
    return result


def image_tag(reference: str) -> str | None:
    """The tag of an image reference; None when it has neither tag nor digest (i.e. `latest`)."""
    reference = interpolate_defaults(reference)
    if "@" in reference:
        return reference.split("@", 1)[1]
    last = reference.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical = pending + line
        pending = ""
        keyword, _, args = logical.partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def dockerfile_stages(path: Path) -> tuple[dict[str, str], list[list[tuple[str, str]]]]:
    """(global ARG defaults, instructions of each stage beginning with its FROM)."""
    global_args: dict[str, str] = {}
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in dockerfile_instructions(path):
        if keyword == "FROM":
            stages.append([(keyword, args)])
        elif stages:
            stages[-1].append((keyword, args))
        elif keyword == "ARG" and "=" in args:
            name, _, default = args.partition("=")
            global_args[name.strip()] = default.strip().strip('"')
    return global_args, stages


def expand_args(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), value)


def service_dirs() -> list[Path]:
    return sorted(
        p for p in SERVICES_DIR.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    )


def member_project(service_dir: Path) -> dict[str, Any]:
    return tomllib.loads((service_dir / "pyproject.toml").read_text(encoding="utf-8"))


def import_package(service_dir: Path) -> str:
    project = member_project(service_dir)
    packages = (
        project.get("tool", {})
        .get("hatch", {})
        .get("build", {})
        .get("targets", {})
        .get("wheel", {})
        .get("packages", [])
    )
    if packages:
        return Path(packages[0]).name
    return str(project["project"]["name"]).replace("-", "_")


def workspace_members() -> list[str]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    members: list[str] = []
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        members += [
            p.relative_to(ROOT).as_posix()
            for p in sorted(ROOT.glob(pattern))
            if (p / "pyproject.toml").is_file()
        ]
    return members


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = load_yaml(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), "docker-compose.yml must be a mapping"
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose.get("services") or {}
    assert found, "docker-compose.yml defines no services"
    return found


@pytest.fixture(scope="module")
def repo_built(services: dict[str, dict[str, Any]]) -> dict[str, Path]:
    """Compose services built from a services/<dir>/Dockerfile, mapped to that <dir>."""
    built: dict[str, Path] = {}
    for name, service in services.items():
        build = build_of(service)
        if build and build[1].parent.parent == SERVICES_DIR.resolve():
            built[name] = build[1].parent
    return built


# --------------------------------------------------------------------------- the schema


def test_vendored_schema_is_a_valid_json_schema(schema: dict[str, Any]) -> None:
    validators.validator_for(schema).check_schema(schema)
    assert schema.get("title") == "Compose Specification"


def test_compose_file_matches_the_compose_specification(
    compose: dict[str, Any], schema: dict[str, Any]
) -> None:
    errors = schema_errors(compose, schema)
    assert not errors, "docker-compose.yml breaks the Compose Specification:\n" + "\n".join(errors)


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(lambda d: d.update(bogus_top_level={}), id="unknown-top-level-key"),
        pytest.param(
            lambda d: d["services"]["postgres"].update(imag="x"), id="unknown-service-key"
        ),
        pytest.param(
            lambda d: d["services"]["postgres"].update(ports={"5432": 5432}), id="wrong-type"
        ),
        pytest.param(
            lambda d: d["services"]["postgres"].update(depends_on={"kafka": {"condition": "up"}}),
            id="bad-depends-on-condition",
        ),
    ],
)
def test_schema_catches_broken_files(
    compose: dict[str, Any], schema: dict[str, Any], breakage: Any
) -> None:
    """Guards against a vacuous schema (e.g. replaced by `{}`): broken copies must fail."""
    broken = copy.deepcopy(compose)
    breakage(broken)
    assert schema_errors(broken, schema)


def test_loader_rejects_duplicate_keys() -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key"):
        load_yaml("services:\n  a: {image: 'x:1'}\n  a: {image: 'y:1'}\n")
    # merge keys stay allowed, and explicit keys override merged ones
    assert load_yaml("x: &a {k: 1}\ny: {<<: *a, k: 2}\n")["y"] == {"k": 2}


def test_no_obsolete_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "`version` is obsolete in the Compose Specification"


# --------------------------------------------------------------------------- repository consistency


def test_every_build_uses_an_existing_dockerfile(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        build = build_of(service)
        if build is None:
            assert "image" in service, f"{name}: neither build nor image"
            continue
        context, dockerfile = build
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        assert dockerfile.is_file(), f"{name}: Dockerfile {dockerfile} does not exist"


def test_every_service_directory_has_a_compose_service(
    services: dict[str, dict[str, Any]], repo_built: dict[str, Path]
) -> None:
    for service_dir in service_dirs():
        name = service_dir.name
        assert name in services, (
            f"services/{name} has no service named {name!r} in the compose file"
        )
        assert repo_built.get(name) == service_dir.resolve(), (
            f"compose service {name!r} must build services/{name}/Dockerfile"
        )


def test_dependencies_exist_and_migrations_are_one_shot(
    services: dict[str, dict[str, Any]], repo_built: dict[str, Path]
) -> None:
    for name, service in services.items():
        for dependency, spec in depends_on_of(service).items():
            assert dependency in services, f"{name} depends on {dependency!r}, not in the file"
            assert dependency != name, f"{name} depends on itself"
            if spec.get("condition") == "service_completed_successfully":
                migration = services[dependency]
                assert migration.get("restart") == "no", (
                    f"{dependency}: one-shot needs restart: 'no'"
                )
                command = migration.get("command")
                command = command.split() if isinstance(command, str) else list(command or [])
                assert command[:1] == ["alembic"] and command[-2:] == ["upgrade", "head"], (
                    f"{dependency}: expected an `alembic ... upgrade head` command, got {command}"
                )


@pytest.mark.parametrize("service_dir", service_dirs(), ids=lambda p: p.name)
def test_service_waits_for_its_own_migration(
    service_dir: Path, services: dict[str, dict[str, Any]], repo_built: dict[str, Path]
) -> None:
    service = services[service_dir.name]
    deps = depends_on_of(service)
    migrations = [
        d for d, s in deps.items() if s.get("condition") == "service_completed_successfully"
    ]
    assert len(migrations) == 1, (
        f"{service_dir.name} must wait for exactly one migration: {migrations}"
    )
    migration = services[migrations[0]]
    assert repo_built.get(migrations[0]) == service_dir.resolve(), (
        f"{migrations[0]} must build the same image (services/{service_dir.name}/Dockerfile)"
    )
    assert migration.get("image") == service.get("image"), "migration and service: same image tag"
    command = list(migration["command"])
    config = ROOT / command[command.index("-c") + 1]
    assert config.is_file(), f"{migrations[0]}: {config} does not exist"
    assert config.parent.resolve() == service_dir.resolve(), (
        f"{migrations[0]} migrates another service"
    )
    assert deps.get("kafka", {}).get("condition") == "service_healthy", (
        f"{service_dir.name}: wait for kafka"
    )
    migration_deps = depends_on_of(migration)
    assert migration_deps.get("postgres", {}).get("condition") == "service_healthy"
    url_names = [k for k in environment_of(service) if k.endswith("_DATABASE_URL")]
    assert url_names, f"{service_dir.name}: no *_DATABASE_URL"
    for key in url_names:
        assert environment_of(migration).get(key) == environment_of(service)[key], (
            f"{migrations[0]} and {service_dir.name} must use the same {key}"
        )


@pytest.mark.parametrize("service_dir", service_dirs(), ids=lambda p: p.name)
def test_service_publishes_its_port(service_dir: Path, services: dict[str, dict[str, Any]]) -> None:
    expected = EXPECTED_HOST_PORTS.get(service_dir.name)
    if expected is None:
        pytest.fail(f"add services/{service_dir.name} to EXPECTED_HOST_PORTS with its host port")
    assert (expected, CONTAINER_PORT) in published_ports(services[service_dir.name])


def test_host_ports_do_not_collide(services: dict[str, dict[str, Any]]) -> None:
    seen: dict[int, str] = {}
    for name, service in services.items():
        for host, _ in published_ports(service):
            assert host not in seen, f"host port {host} published by both {seen[host]} and {name}"
            seen[host] = name


def test_database_urls_match_the_postgres_init_script(services: dict[str, dict[str, Any]]) -> None:
    sql = POSTGRES_INIT.read_text(encoding="utf-8")
    databases = set(re.findall(r"CREATE DATABASE (\w+)", sql, flags=re.IGNORECASE))
    roles = dict(
        re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD '([^']*)'", sql, flags=re.IGNORECASE)
    )
    assert databases, "postgres-init.sql creates no database"
    mounts = [str(v) for v in services["postgres"].get("volumes") or []]
    assert any(
        m.startswith("./deploy/compose/postgres-init.sql:/docker-entrypoint-initdb.d/")
        for m in mounts
    ), "postgres must mount deploy/compose/postgres-init.sql into /docker-entrypoint-initdb.d/"
    checked = 0
    for name, service in services.items():
        for key, value in environment_of(service).items():
            if not key.endswith("_DATABASE_URL"):
                continue
            url = urlsplit(value)
            assert url.scheme == "postgresql+asyncpg", f"{name}: {key} must use postgresql+asyncpg"
            assert url.hostname == "postgres" and (url.port or 5432) == 5432, f"{name}: {key} host"
            database = url.path.lstrip("/")
            assert database in databases, (
                f"{name}: {key} names {database!r}, not created by the init script"
            )
            assert roles.get(url.username or "") == url.password, (
                f"{name}: {key} user/password do not match a role of postgres-init.sql"
            )
            checked += 1
    assert checked, "no *_DATABASE_URL in docker-compose.yml"


def test_secrets_are_development_only(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        env = environment_of(service)
        for key, value in env.items():
            if "SECRET" in key or "PASSWORD" in key:
                # dev-only…, or a formatted development value the services refuse elsewhere.
                assert value.startswith("dev-only") or value in DEVELOPMENT_ONLY_SECRETS, (
                    f"{name}: {key} must be a `dev-only...` value"
                )
            if key.endswith("_DATABASE_URL"):
                assert (urlsplit(value).password or "").startswith("dev-only"), f"{name}: {key}"
        if "GOV_ENVIRONMENT" in env or name in {p.name for p in service_dirs()}:
            assert env.get("GOV_ENVIRONMENT") == "development", f"{name}: GOV_ENVIRONMENT"


def test_no_latest_image_tags(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if "image" not in service:
            continue
        tag = image_tag(str(service["image"]))
        assert tag and tag != "latest", f"{name}: image {service['image']!r} must pin a tag"


# --------------------------------------------------------------------------- the images


@pytest.mark.parametrize("service_dir", service_dirs(), ids=lambda p: p.name)
def test_repo_built_containers_are_hardened(
    service_dir: Path, services: dict[str, dict[str, Any]], repo_built: dict[str, Path]
) -> None:
    """The service (and its migration: same image) run read-only, with a tmpfs /tmp, as non-root."""
    names = [n for n, d in repo_built.items() if d == service_dir.resolve()]
    assert service_dir.name in names
    for name in names:
        service = services[name]
        assert service.get("read_only") is True, f"{name}: read_only: true"
        tmpfs = service.get("tmpfs") or []
        tmpfs = [tmpfs] if isinstance(tmpfs, str) else tmpfs
        assert any(str(t).split(":")[0] == "/tmp" for t in tmpfs), f"{name}: tmpfs /tmp"
        user = str(service.get("user", "")).split(":")[0]
        assert user not in {"root", "0"}, f"{name}: must not override the user to root"


def _env_instruction(args: str) -> dict[str, str]:
    """``ENV A=1 B="x y"`` (or the legacy ``ENV A 1``) as a mapping."""
    words = shlex.split(args)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


@pytest.mark.parametrize("service_dir", service_dirs(), ids=lambda p: p.name)
def test_an_image_started_without_configuration_runs_as_production(service_dir: Path) -> None:
    """Production refuses the public development secrets: an image run with no environment
    stops with a message naming them instead of serving on them."""
    _, stages = dockerfile_stages(service_dir / "Dockerfile")
    env: dict[str, str] = {}
    for keyword, args in stages[-1]:
        if keyword == "ENV":
            env.update(_env_instruction(args))
    assert env.get("GOV_ENVIRONMENT") == "production", (
        f"services/{service_dir.name}/Dockerfile: the final stage must set "
        "ENV GOV_ENVIRONMENT=production"
    )


def test_compose_says_development_for_every_repo_built_container(
    services: dict[str, dict[str, Any]], repo_built: dict[str, Path]
) -> None:
    """The images default to production; the development stack must say development."""
    assert repo_built
    for name in repo_built:
        assert environment_of(services[name]).get("GOV_ENVIRONMENT") == "development", name


@pytest.mark.parametrize("service_dir", service_dirs(), ids=lambda p: p.name)
def test_dockerfile_runs_as_non_root(service_dir: Path) -> None:
    _, stages = dockerfile_stages(service_dir / "Dockerfile")
    users = [args for keyword, args in stages[-1] if keyword == "USER"]
    assert users, (
        f"services/{service_dir.name}/Dockerfile: the final stage sets no USER (runs as root)"
    )
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), (
        f"USER {users[-1]!r}: use a numeric uid (lets Kubernetes verify runAsNonRoot)"
    )
    assert int(uid) != 0, f"services/{service_dir.name}/Dockerfile runs as root"


@pytest.mark.parametrize("service_dir", service_dirs(), ids=lambda p: p.name)
def test_dockerfile_pins_its_images(service_dir: Path) -> None:
    global_args, stages = dockerfile_stages(service_dir / "Dockerfile")
    stage_names: set[str] = set()
    external: list[str] = []
    for stage in stages:
        words = stage[0][1].split()
        words = [w for w in words if not w.startswith("--platform")]
        external.append(expand_args(words[0], global_args))
        if len(words) >= 3 and words[1].upper() == "AS":
            stage_names.add(words[2])
        for keyword, args in stage:
            match = re.search(r"--from=(\S+)", args) if keyword in {"COPY", "RUN"} else None
            if match and match.group(1) not in stage_names and not match.group(1).isdigit():
                external.append(expand_args(match.group(1), global_args))
    for reference in external:
        if reference in stage_names:
            continue
        tag = image_tag(reference)
        assert tag and tag != "latest" and "$" not in reference, (
            f"services/{service_dir.name}/Dockerfile: {reference!r} must pin a tag"
        )


@pytest.mark.parametrize("service_dir", service_dirs(), ids=lambda p: p.name)
def test_dockerfile_builds_serves_and_migrates_this_service(service_dir: Path) -> None:
    dockerfile = service_dir / "Dockerfile"
    text = dockerfile.read_text(encoding="utf-8")
    _, stages = dockerfile_stages(dockerfile)
    dist = member_project(service_dir)["project"]["name"]
    syncs = [a for k, a in dockerfile_instructions(dockerfile) if k == "RUN" and "uv sync" in a]
    assert syncs, f"{dockerfile}: no `uv sync`"
    for sync in syncs:
        for flag in ("--frozen", "--no-dev", f"--package {dist}", "--mount=type=cache"):
            assert flag in sync, f"{dockerfile}: `uv sync` without {flag}"
    for member in workspace_members():
        assert f"source={member}/pyproject.toml" in text or f"COPY {member} " in text, (
            f"{dockerfile}: uv needs every workspace member's pyproject.toml: "
            f"bind-mount {member}/pyproject.toml"
        )
    final = stages[-1]
    cmd = [json.loads(a) for k, a in final if k == "CMD"]
    assert cmd, f"{dockerfile}: no CMD in the final stage"
    assert cmd[-1][:3] == ["uvicorn", "--factory", f"{import_package(service_dir)}.main:create_app"]
    assert ("EXPOSE", str(CONTAINER_PORT)) in final
    copied = " ".join(a for k, a in final if k == "COPY")
    rel = f"services/{service_dir.name}"
    assert f"{rel}/alembic.ini" in copied and f"{rel}/migrations" in copied, (
        f"{dockerfile}: the image must carry alembic.ini and migrations/ to run its migrations"
    )
    env = " ".join(a for k, a in final if k == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env, (
        f"{dockerfile}: read-only image needs PYTHONDONTWRITEBYTECODE"
    )
    assert not any(k == "HEALTHCHECK" for k, _ in final), f"{dockerfile}: no HEALTHCHECK wanted"
