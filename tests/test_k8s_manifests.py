"""deploy/k8s and deploy/observability: rendered, validated and checked offline.

Every overlay under deploy/k8s/overlays is rendered with a pinned kustomize (installed with
`go install` into .local/bin on first use, see `kustomize_binary`), and every object is validated
against the Kubernetes JSON schemas that the `kubernetes-validate` package ships (strict: unknown
fields fail), for the oldest Kubernetes the suite supports and the newest the package knows. The
Strimzi KafkaTopic and Prometheus Operator ServiceMonitor resources are not Kubernetes kinds: they
are validated against the small schemas below. Beyond the schemas, the checks hold what a cluster
would only show at run time: the security posture, probes, secrets that are referenced and
documented but never committed, settings the services really read, network policies, topics equal
to the event contracts, and PromQL that uses only the series gov_common exports.

Each check is a function returning a list of problems, so `test_a_broken_manifest_fails` can break
a copy of deploy/k8s in a few ways and show that the same checks catch each one.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import SecretStr

from gov_common.testing import run_coroutine

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
OBSERVABILITY = ROOT / "deploy" / "observability"
K8S_README = K8S / "README.md"
DASHBOARD = OBSERVABILITY / "grafana-dashboard.json"
RULES = OBSERVABILITY / "prometheus-rules.yaml"

# kustomize: a Go module from the Go module proxy, built once into .local/bin (gitignored).
KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
KUSTOMIZE_VERSION = "v5.8.1"
LOCAL_BIN = ROOT / ".local" / "bin"
INSTALL_TIMEOUT_S = 900

# Oldest Kubernetes the manifests promise to work on (deploy/k8s/README.md) and the newest
# kubernetes-validate knows.
OLDEST_KUBERNETES = "1.31"
KUBERNETES_VERSIONS = (OLDEST_KUBERNETES, kubernetes_validate.latest_version())

SERVICES = ("petitions-api", "targets-api", "notifier")
APP_NAMESPACES = {"dev": "gov-suite-dev", "prod": "gov-suite"}
HTTP_PORT = 8000
RUN_AS_USER = 10001
# The only pod that may talk to addresses outside the cluster, and on which ports.
EXTERNAL_EGRESS = {"notifier": {443, 25, 465, 587}}
# Read by the OpenTelemetry SDK itself, not by the services' settings classes.
OTEL_SDK_VARIABLES = {"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"}
OTEL_SDK_PREFIX = "OTEL_EXPORTER_OTLP_"

# The series gov_common exports (gov_common/metrics.py); dashboards and alerts use nothing else.
METRIC_SERIES = {
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "http_request_duration_seconds_sum",
    "http_request_duration_seconds_count",
    "outbox_backlog",
    "outbox_oldest_age_seconds",
    "consumer_lag",
    "consumer_dead_letters_total",
    "consumer_events_handled_total",
    "notifier_deliveries_total",
    "calendar_covered_until_timestamp_seconds",
}

Doc = dict[str, Any]


# =========================================================================== kustomize


class RenderError(Exception):
    pass


def _kustomize_version(binary: Path) -> str | None:
    if not binary.is_file():
        return None
    try:
        done = subprocess.run(
            [str(binary), "version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def kustomize_binary(announce: Callable[[str], None] = print) -> Path:
    """The pinned kustomize in .local/bin, installed with `go install` when missing.

    Idempotent and quick when present (one `kustomize version` call). A fresh clone (CI) has no
    .local/, so the first run builds it from the Go module proxy: about a minute.
    """
    binary = LOCAL_BIN / "kustomize"
    if _kustomize_version(binary) == KUSTOMIZE_VERSION:
        return binary
    go = shutil.which("go")
    if go is None:
        raise RenderError(
            f"kustomize {KUSTOMIZE_VERSION} is not in {LOCAL_BIN} and there is no `go` to build "
            f"it. Install Go (https://go.dev/doc/install, or `apt-get install golang`), or run: "
            f"GOBIN={LOCAL_BIN} go install {KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION}"
        )
    announce(
        f"\ninstalling kustomize {KUSTOMIZE_VERSION} into {LOCAL_BIN.relative_to(ROOT)} "
        f"(go install {KUSTOMIZE_MODULE}; first run only, about a minute)"
    )
    LOCAL_BIN.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(LOCAL_BIN), "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    try:
        done = subprocess.run(
            [go, "install", f"{KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RenderError(f"go install of kustomize took over {INSTALL_TIMEOUT_S}s") from exc
    found = _kustomize_version(binary)
    if done.returncode != 0 or found != KUSTOMIZE_VERSION:
        raise RenderError(
            f"`go install {KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION}` failed "
            f"(exit {done.returncode}, version {found!r}):\n{done.stderr[-3000:]}"
        )
    return binary


def render(kustomize: Path, directory: Path) -> list[Doc]:
    done = subprocess.run(
        [str(kustomize), "build", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RenderError(f"kustomize build {directory} failed:\n{done.stderr.strip()}")
    docs = [d for d in yaml.safe_load_all(done.stdout) if d is not None]
    for doc in docs:
        if not isinstance(doc, dict):
            raise RenderError(f"kustomize build {directory}: a document is not a mapping: {doc!r}")
    return docs


def overlays(k8s: Path = K8S) -> list[str]:
    return sorted(p.parent.name for p in (k8s / "overlays").glob("*/kustomization.yaml"))


# =========================================================================== small helpers


def ident(doc: Doc) -> str:
    meta = doc.get("metadata") or {}
    return f"{doc.get('kind')}/{meta.get('name')} ({meta.get('namespace', '-')})"


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d.get("kind") == kind]


def pod_spec(doc: Doc) -> Doc:
    spec: Doc = doc["spec"]["template"]["spec"]
    return spec


def pod_labels(doc: Doc) -> dict[str, str]:
    labels: dict[str, str] = doc["spec"]["template"].get("metadata", {}).get("labels") or {}
    return labels


def service_of(doc: Doc) -> str:
    name: str = (doc.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/name", "")
    return name


def containers(doc: Doc) -> list[Doc]:
    spec = pod_spec(doc)
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def workloads(docs: list[Doc]) -> list[Doc]:
    return [d for d in docs if d.get("kind") in {"Deployment", "Job", "StatefulSet", "DaemonSet"}]


def selects(selector: Doc | None, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions)."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def quantity(value: str | int | float) -> float:
    """A Kubernetes resource quantity as a number (cpu in cores, memory in bytes)."""
    text = str(value)
    suffixes = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6}
    suffixes |= {"G": 1e9}
    for suffix, factor in sorted(suffixes.items(), key=lambda kv: -len(kv[0])):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def env_sources(container: Doc) -> tuple[list[str], list[Doc]]:
    """(names of envFrom ConfigMaps, env entries)."""
    maps = [
        e["configMapRef"]["name"] for e in container.get("envFrom") or [] if "configMapRef" in e
    ]
    return maps, list(container.get("env") or [])


# =========================================================================== schemas


_K8S_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": _K8S_NAME,
        "namespace": _K8S_NAME,
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
    },
}
_DURATION = {"type": "string", "pattern": r"^([0-9]+(ms|s|m|h))+$"}

# The fields of the CRDs this repository uses (Strimzi 0.4x KafkaTopic v1beta2, Prometheus
# Operator ServiceMonitor v1); anything else is refused so that a typo cannot hide.
CRD_SCHEMAS: dict[tuple[str, str], Doc] = {
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "kafka.strimzi.io/v1beta2"},
            "kind": {"const": "KafkaTopic"},
            "metadata": _METADATA,
            "spec": {
                "type": "object",
                "required": ["partitions", "replicas", "config"],
                "additionalProperties": False,
                "properties": {
                    "topicName": {"type": "string", "pattern": r"^[a-zA-Z0-9._-]{1,249}$"},
                    "partitions": {"type": "integer", "minimum": 1},
                    "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
                    "config": {
                        "type": "object",
                        "required": ["retention.ms"],
                        "additionalProperties": {"type": ["string", "integer", "boolean"]},
                        "properties": {
                            "retention.ms": {"type": "integer", "minimum": -1},
                            "min.insync.replicas": {"type": "integer", "minimum": 1},
                            "cleanup.policy": {"enum": ["delete", "compact", "compact,delete"]},
                        },
                    },
                },
            },
        },
    },
    ("monitoring.coreos.com/v1", "ServiceMonitor"): {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": "ServiceMonitor"},
            "metadata": _METADATA,
            "spec": {
                "type": "object",
                "required": ["selector", "endpoints"],
                "additionalProperties": False,
                "properties": {
                    "selector": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"matchLabels": _STRING_MAP},
                        "required": ["matchLabels"],
                    },
                    "endpoints": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["port", "path"],
                            "additionalProperties": False,
                            "properties": {
                                "port": {"type": "string", "minLength": 1},
                                "path": {"type": "string", "pattern": "^/"},
                                "interval": _DURATION,
                                "scrapeTimeout": _DURATION,
                            },
                        },
                    },
                },
            },
        },
    },
}


# kubernetes_validate.validate reads and parses its (large) schema files on every call; a cache
# of the parsed files makes the breakage tests ten times faster. Same files, same validation.
_cached_schema_contents = functools.cache(kubernetes_validate.utils.schema_contents)


def schema_problems(docs: list[Doc]) -> list[str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kubernetes_validate.utils, "schema_contents", _cached_schema_contents)
        return _schema_problems(docs)


def _schema_problems(docs: list[Doc]) -> list[str]:
    problems: list[str] = []
    for doc in docs:
        key = (doc.get("apiVersion"), doc.get("kind"))
        crd = CRD_SCHEMAS.get(key)  # type: ignore[arg-type]
        if crd is not None:
            for error in Draft202012Validator(crd).iter_errors(doc):
                where = "/".join(map(str, error.absolute_path)) or "<root>"
                problems.append(f"{ident(doc)}: {where}: {error.message}")
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = "/".join(map(str, error.path)) or "<root>"
                problems.append(f"{ident(doc)}: Kubernetes {version}: {where}: {error.message}")
            except kubernetes_validate.SchemaNotFoundError:
                problems.append(
                    f"{ident(doc)}: {key[1]} {key[0]} is not a Kubernetes {version} kind and "
                    f"this test has no schema for it (add one to CRD_SCHEMAS)"
                )
    return problems


# =========================================================================== posture


def _probe_path_and_port(container: Doc, probe: str) -> tuple[str | None, int | None]:
    spec = container.get(probe) or {}
    get = spec.get("httpGet") or {}
    port = get.get("port")
    if isinstance(port, str):
        named = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
        port = named.get(port)
    return get.get("path"), port


def posture_problems(docs: list[Doc]) -> list[str]:
    """Security and operability of every workload, as the issue asks for them."""
    problems: list[str] = []
    for doc in workloads(docs):
        who = ident(doc)
        pod = pod_spec(doc)
        pod_sc = pod.get("securityContext") or {}
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{who}: automountServiceAccountToken must be false")
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.get(flag):
                problems.append(f"{who}: {flag} must not be set")
        tmp_volumes = {v["name"] for v in pod.get("volumes") or [] if "emptyDir" in v}
        for c in containers(doc):
            cwho = f"{who} container {c.get('name')}"
            sc = c.get("securityContext") or {}

            def effective(field: str, sc: Doc = sc, pod_sc: Doc = pod_sc) -> Any:
                return sc.get(field, pod_sc.get(field))

            if effective("runAsNonRoot") is not True:
                problems.append(f"{cwho}: runAsNonRoot must be true")
            if effective("runAsUser") != RUN_AS_USER:
                problems.append(f"{cwho}: runAsUser must be {RUN_AS_USER} (the images' user)")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{cwho}: allowPrivilegeEscalation must be false")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{cwho}: readOnlyRootFilesystem must be true")
            if sc.get("privileged"):
                problems.append(f"{cwho}: privileged must not be set")
            caps = sc.get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []) or caps.get("add"):
                problems.append(f"{cwho}: capabilities must drop ALL and add none")
            if (effective("seccompProfile") or {}).get("type") != "RuntimeDefault":
                problems.append(f"{cwho}: seccompProfile must be RuntimeDefault")
            resources = c.get("resources") or {}
            for kind_ in ("requests", "limits"):
                for res in ("cpu", "memory"):
                    if res not in (resources.get(kind_) or {}):
                        problems.append(f"{cwho}: resources.{kind_}.{res} is not set")
            if not any(
                m.get("mountPath") == "/tmp" and m.get("name") in tmp_volumes
                for m in c.get("volumeMounts") or []
            ):
                problems.append(
                    f"{cwho}: /tmp must be an emptyDir (the root filesystem is read-only)"
                )
            image = str(c.get("image", ""))
            tag = image.split("@", 1)[1] if "@" in image else image.rsplit("/", 1)[-1]
            if "@" not in image and (":" not in tag or tag.endswith(":latest")):
                problems.append(f"{cwho}: image {image!r} must be pinned to a tag or digest")
            if any("secretRef" in e for e in c.get("envFrom") or []):
                problems.append(f"{cwho}: envFrom secretRef hides which keys are needed")
        if doc["kind"] == "Deployment":
            problems += _deployment_problems(doc)
    return problems


def _deployment_problems(doc: Doc) -> list[str]:
    who = ident(doc)
    problems: list[str] = []
    pod = pod_spec(doc)
    expected = {
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
        "startupProbe": "/healthz",
    }
    for c in pod.get("containers") or []:
        cwho = f"{who} container {c.get('name')}"
        if not any(p.get("containerPort") == HTTP_PORT for p in c.get("ports") or []):
            problems.append(f"{cwho}: must expose containerPort {HTTP_PORT}")
        for probe, path in expected.items():
            if (path, HTTP_PORT) != _probe_path_and_port(c, probe):
                problems.append(f"{cwho}: {probe} must GET {path} on port {HTTP_PORT}")
        command = ((c.get("lifecycle") or {}).get("preStop") or {}).get("exec", {}).get("command")
        sleep = int(command[1]) if command and command[0] == "sleep" and len(command) == 2 else None
        if sleep is None:
            problems.append(f"{cwho}: needs a preStop `sleep N` so endpoints drop before SIGTERM")
        grace = int(pod.get("terminationGracePeriodSeconds", 30))
        if sleep is not None and grace < sleep + 20:
            problems.append(
                f"{who}: terminationGracePeriodSeconds {grace} leaves under 20s to drain after "
                f"the {sleep}s preStop sleep"
            )
    return problems


# =========================================================================== secrets


def documented_secret_keys(readme: Path = K8S_README) -> set[tuple[str, str]]:
    """(Secret, key) pairs of the README's table rows: | `secret` | `key` | ..."""
    row = re.compile(r"^\|\s*`([a-z0-9.-]+)`\s*\|\s*`([A-Za-z0-9._-]+)`\s*\|")
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    return {(m.group(1), m.group(2)) for line in text.splitlines() if (m := row.match(line))}


def secret_refs(docs: list[Doc]) -> set[tuple[str, str]]:
    refs: set[tuple[str, str]] = set()
    for doc in workloads(docs):
        for c in containers(doc):
            for entry in c.get("env") or []:
                ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    refs.add((ref["name"], ref["key"]))
    return refs


def secret_problems(docs: list[Doc], readme: Path = K8S_README) -> list[str]:
    problems: list[str] = []
    for doc in of_kind(docs, "Secret"):
        problems.append(
            f"{ident(doc)}: Secrets are created in the cluster, never committed "
            f"(document their keys in deploy/k8s/README.md instead)"
        )
    documented = documented_secret_keys(readme)
    for name, key in sorted(secret_refs(docs) - documented):
        problems.append(
            f"Secret {name!r} key {key!r} is referenced but not documented in {readme.name}"
        )
    return problems


def committed_secret_problems(k8s: Path = K8S) -> list[str]:
    """No Secret with values in any file under deploy/k8s, rendered or not, nor a generator."""
    problems: list[str] = []
    for path in sorted(k8s.rglob("*.y*ml")):
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        except yaml.YAMLError as exc:
            problems.append(f"{path.relative_to(k8s)}: not YAML: {exc}")
            continue
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            if doc.get("kind") == "Secret" and (doc.get("data") or doc.get("stringData")):
                problems.append(f"{path.relative_to(k8s)}: commits a Secret with values")
            if doc.get("secretGenerator"):
                problems.append(f"{path.relative_to(k8s)}: secretGenerator puts values in git")
    return problems


# =========================================================================== settings


def settings_class(service: str) -> Any:
    return importlib.import_module(service.replace("-", "_") + ".config").Settings


def setting_variables(settings_cls: Any) -> dict[str, str]:
    """Environment variable → field name, for every field of a settings class."""
    found: dict[str, str] = {}
    for name, field in settings_cls.model_fields.items():
        found[(field.alias or name).upper()] = name
    return found


# Values a test may put where a real Secret's key would be (not placeholders).
SAMPLE_SECRET_VALUES = {
    "database-url": "postgresql+asyncpg://svc:s3cret-for-the-test@db.example:5432/svc",
    "pii-keys": "k1:" + "a" * 43,  # 32 bytes, base64url
    "pii-index-key": "b" * 43,
    "webhook-secret": "whsec_" + "c" * 43 + "=",  # Standard Webhooks: whsec_ + base64 of 32 bytes
}


def _workload_env(doc: Doc, configmaps: dict[str, Doc]) -> tuple[dict[str, str], dict[str, Doc]]:
    """(plain variables from ConfigMaps and `value`, secretKeyRef entries) of the main container."""
    container = pod_spec(doc)["containers"][0]
    maps, env = env_sources(container)
    plain: dict[str, str] = {}
    for name in maps:
        plain.update((configmaps.get(name) or {}).get("data") or {})
    refs: dict[str, Doc] = {}
    for entry in env:
        if "value" in entry:
            plain[entry["name"]] = str(entry["value"])
        ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            refs[entry["name"]] = ref
            plain.pop(entry["name"], None)
    return plain, refs


def settings_problems(docs: list[Doc]) -> list[str]:
    """What the manifests set is what the services read; production starts with it."""
    problems: list[str] = []
    for doc in workloads(docs):
        namespace = doc["metadata"].get("namespace")
        configmaps = {
            c["metadata"]["name"]: c
            for c in of_kind(docs, "ConfigMap")
            if c["metadata"].get("namespace") == namespace
        }
        who = ident(doc)
        for c in containers(doc):
            for name in env_sources(c)[0]:
                if name not in configmaps:
                    problems.append(f"{who}: envFrom ConfigMap {name!r} is not in the render")
        service = service_of(doc)
        if service not in SERVICES:
            problems.append(f"{who}: label app.kubernetes.io/name {service!r} is no service")
            continue
        cls = settings_class(service)
        variables = setting_variables(cls)
        plain, refs = _workload_env(doc, configmaps)
        for var in sorted({*plain, *refs}):
            if var in variables or var in OTEL_SDK_VARIABLES or var.startswith(OTEL_SDK_PREFIX):
                continue
            problems.append(f"{who}: sets {var}, which {service}'s settings do not read")
        for var, field_name in variables.items():
            field = cls.model_fields[field_name]
            is_secret = field.annotation is SecretStr or "SecretStr" in str(field.annotation)
            if is_secret and var in plain:
                problems.append(f"{who}: {var} is a secret: take it from a Secret, not a ConfigMap")
            required_secret = is_secret and field.default is not None
            if required_secret and (var not in refs or refs[var].get("optional")):
                problems.append(
                    f"{who}: {var} must come from a (non-optional) secretKeyRef: production "
                    f"refuses the development default"
                )
            if var.endswith("_DATABASE_URL") and var not in refs:
                problems.append(f"{who}: {var} holds a password: take it from a Secret")
        problems += _settings_load(who, cls, variables, plain, refs)
    return problems


def _settings_load(
    who: str, cls: Any, variables: dict[str, str], plain: dict[str, str], refs: dict[str, Doc]
) -> list[str]:
    values = dict(plain)
    for var, ref in refs.items():
        if not ref.get("optional"):
            values[var] = SAMPLE_SECRET_VALUES.get(ref["key"], f"k8s-test-value-of-{ref['key']}")
    with pytest.MonkeyPatch.context() as mp:
        # Only what the manifest sets: nothing from the environment running the tests.
        for var in {*variables, *values}:
            mp.delenv(var, raising=False)
        for var, value in values.items():
            mp.setenv(var, value)
        try:
            cls()
        except Exception as exc:  # pydantic's ValidationError and the settings' own ValueError
            return [f"{who}: the service would not start with this configuration: {exc}"]
    return []


# =========================================================================== wiring


def wiring_problems(docs: list[Doc]) -> list[str]:
    """Services, HPAs, PDBs, ServiceMonitors and Jobs point at things that exist."""
    problems: list[str] = []
    deployments = of_kind(docs, "Deployment")
    services = of_kind(docs, "Service")
    by_service = {service_of(d): d for d in deployments}
    for name in SERVICES:
        if name not in by_service:
            problems.append(f"service {name} has no Deployment")
    jobs = {service_of(j): j for j in of_kind(docs, "Job")}
    for name, deployment in by_service.items():
        job = jobs.get(name)
        if job is None:
            problems.append(f"{ident(deployment)}: no migration Job")
            continue
        problems += _job_problems(job, deployment, name)
    for svc in services:
        ns = svc["metadata"].get("namespace")
        targets = [
            d
            for d in deployments
            if d["metadata"].get("namespace") == ns
            and selects({"matchLabels": svc["spec"].get("selector")}, pod_labels(d))
        ]
        if len(targets) != 1:
            problems.append(f"{ident(svc)}: selects {len(targets)} Deployments, not 1")
            continue
        port_names = {p.get("name") for c in containers(targets[0]) for p in c.get("ports") or []}
        for port in svc["spec"].get("ports") or []:
            if isinstance(port.get("targetPort"), str) and port["targetPort"] not in port_names:
                problems.append(f"{ident(svc)}: targetPort {port['targetPort']!r} is not a port")
    consumers = _consumed_partitions()
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        target = next(
            (
                d
                for d in deployments
                if d["metadata"]["name"] == ref["name"]
                and d["metadata"].get("namespace") == hpa["metadata"].get("namespace")
            ),
            None,
        )
        if ref.get("kind") != "Deployment" or target is None:
            problems.append(f"{ident(hpa)}: scales {ref}, which is not in the render")
            continue
        low, high = hpa["spec"].get("minReplicas", 1), hpa["spec"]["maxReplicas"]
        if low > high:
            problems.append(f"{ident(hpa)}: minReplicas {low} > maxReplicas {high}")
        partitions = consumers.get(service_of(target))
        if partitions is not None and high > partitions:
            problems.append(
                f"{ident(hpa)}: maxReplicas {high} exceeds the {partitions} partitions it "
                f"consumes: the extra consumers would idle"
            )
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        matched = [
            d
            for d in deployments
            if d["metadata"].get("namespace") == pdb["metadata"].get("namespace")
            and selects(pdb["spec"].get("selector"), pod_labels(d))
        ]
        if len(matched) != 1:
            problems.append(f"{ident(pdb)}: selects {len(matched)} Deployments, not 1")
            continue
        replicas = matched[0]["spec"].get("replicas", 1)
        if pdb["spec"].get("minAvailable", 0) >= replicas:
            problems.append(
                f"{ident(pdb)}: minAvailable {pdb['spec']['minAvailable']} >= {replicas} replicas "
                f"blocks every node drain"
            )
    for monitor in of_kind(docs, "ServiceMonitor"):
        ns = monitor["metadata"].get("namespace")
        matched = [
            s
            for s in services
            if s["metadata"].get("namespace") == ns
            and selects(monitor["spec"]["selector"], s["metadata"].get("labels") or {})
        ]
        if not matched:
            problems.append(f"{ident(monitor)}: selects no Service")
        for endpoint in monitor["spec"]["endpoints"]:
            names = {p.get("name") for s in matched for p in s["spec"].get("ports") or []}
            if endpoint.get("port") not in names or endpoint.get("path") != "/metrics":
                problems.append(f"{ident(monitor)}: endpoint {endpoint} is not a /metrics port")
    return problems


def _job_problems(job: Doc, deployment: Doc, name: str) -> list[str]:
    problems: list[str] = []
    expected = ["alembic", "-c", f"services/{name}/alembic.ini", "upgrade", "head"]
    main = pod_spec(job)["containers"][0]
    if main.get("command") != expected or not (ROOT / expected[2]).is_file():
        problems.append(f"{ident(job)}: command must be {shlex.join(expected)}")
    if main.get("image") != pod_spec(deployment)["containers"][0].get("image"):
        problems.append(f"{ident(job)}: must run the same image as {ident(deployment)}")
    spec = job["spec"]
    if not 0 < spec.get("backoffLimit", 6) <= 6 or "backoffLimit" not in spec:
        problems.append(f"{ident(job)}: set a small backoffLimit")
    if "ttlSecondsAfterFinished" not in spec:
        problems.append(f"{ident(job)}: set ttlSecondsAfterFinished")
    if pod_spec(job).get("restartPolicy") not in {"Never", "OnFailure"}:
        problems.append(f"{ident(job)}: restartPolicy must be Never or OnFailure")
    return problems


def _consumed_partitions() -> dict[str, int]:
    """Service → the most partitions among the topics it consumes (gov_common contracts)."""
    from gov_common.events import TOPICS

    found: dict[str, int] = {}
    for contract in TOPICS.values():
        for consumer in contract.consumers:
            found[consumer] = max(found.get(consumer, 0), contract.partitions)
    return found


# =========================================================================== network policies


def _policies_for(docs: list[Doc], pod: Doc, direction: str) -> list[Doc]:
    ns = pod["metadata"].get("namespace")
    return [
        p
        for p in of_kind(docs, "NetworkPolicy")
        if p["metadata"].get("namespace") == ns
        and direction in (p["spec"].get("policyTypes") or [])
        and selects(p["spec"].get("podSelector"), pod_labels(pod))
    ]


def _rule_ports(rule: Doc) -> set[int]:
    return {int(p["port"]) for p in rule.get("ports") or [] if "port" in p}


def _peer_namespaces(rule: Doc, key: str) -> set[str]:
    names: set[str] = set()
    for peer in rule.get(key) or []:
        labels = (peer.get("namespaceSelector") or {}).get("matchLabels") or {}
        if "kubernetes.io/metadata.name" in labels:
            names.add(labels["kubernetes.io/metadata.name"])
    return names


def network_problems(docs: list[Doc]) -> list[str]:
    problems: list[str] = []
    namespaces = {d["metadata"].get("namespace") for d in workloads(docs)}
    for ns in sorted(n for n in namespaces if n):
        deny = [
            p
            for p in of_kind(docs, "NetworkPolicy")
            if p["metadata"].get("namespace") == ns
            and p["spec"].get("podSelector") == {}
            and set(p["spec"].get("policyTypes") or []) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress")
            and not p["spec"].get("egress")
        ]
        if not deny:
            problems.append(f"namespace {ns}: no default deny NetworkPolicy (Ingress and Egress)")
    for policy in of_kind(docs, "NetworkPolicy"):
        for rule in policy["spec"].get("ingress") or []:
            peers = rule.get("from")
            if not peers or any(
                (p.get("ipBlock") or {}).get("cidr") in {"0.0.0.0/0", "::/0"} for p in peers
            ):
                problems.append(f"{ident(policy)}: an ingress rule admits every source")
            if not rule.get("ports"):
                problems.append(f"{ident(policy)}: an ingress rule opens every port")
        for rule in policy["spec"].get("egress") or []:
            if not rule.get("ports"):
                problems.append(f"{ident(policy)}: an egress rule opens every port")
            if not rule.get("to"):
                problems.append(f"{ident(policy)}: an egress rule allows every destination")
    for pod in workloads(docs):
        service, who = service_of(pod), ident(pod)
        egress = [
            r for p in _policies_for(docs, pod, "Egress") for r in p["spec"].get("egress") or []
        ]
        reach = {
            (ns, port)
            for r in egress
            for ns in _peer_namespaces(r, "to")
            for port in _rule_ports(r)
        }
        needed = {("kube-system", 53), ("postgres", 5432)}
        if pod["kind"] == "Deployment":
            needed |= {("kafka", 9092)}
        for ns, port in sorted(needed - reach):
            problems.append(f"{who}: no egress to namespace {ns} port {port}")
        external = {
            port
            for r in egress
            if any("ipBlock" in peer for peer in r.get("to") or [])
            for port in _rule_ports(r)
        }
        allowed = EXTERNAL_EGRESS.get(service, set()) if pod["kind"] == "Deployment" else set()
        if external - allowed:
            problems.append(f"{who}: egress outside the cluster on {sorted(external - allowed)}")
        if pod["kind"] == "Deployment":
            if allowed and not allowed <= external:
                problems.append(f"{who}: needs egress outside the cluster on {sorted(allowed)}")
            ingress = [
                r
                for p in _policies_for(docs, pod, "Ingress")
                for r in p["spec"].get("ingress") or []
            ]
            sources = {
                (ns, port)
                for r in ingress
                for ns in _peer_namespaces(r, "from")
                for port in _rule_ports(r)
            }
            for ns in ("monitoring", "ingress-nginx"):
                if (ns, HTTP_PORT) not in sources:
                    problems.append(f"{who}: no ingress from namespace {ns} on port {HTTP_PORT}")
    return problems


# =========================================================================== kafka topics


def expected_topics() -> dict[str, tuple[int, int]]:
    """Topic → (partitions, retention.ms), exactly as gov_common.messaging.kafka creates them.

    ensure_topics runs against a stand-in admin client that records what it would create, so
    the dead-letter rule (1 partition, 4x retention) comes from the code, not from this test.
    """
    from gov_common.events import TOPICS
    from gov_common.messaging import kafka

    created: list[Any] = []

    class RecordingAdmin:
        def __init__(self, **_: Any) -> None:
            pass

        async def start(self) -> None:
            pass

        async def close(self) -> None:
            pass

        async def list_topics(self) -> list[str]:
            return []

        async def create_topics(self, topics: list[Any]) -> Any:
            created.extend(topics)
            return type("Response", (), {"topic_errors": [(t.name, 0) for t in topics]})()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kafka, "AIOKafkaAdminClient", RecordingAdmin)
        run_coroutine(kafka.ensure_topics("unused:9092", list(TOPICS.values())))
    return {t.name: (t.num_partitions, int(t.topic_configs["retention.ms"])) for t in created}


def topic_problems(docs: list[Doc], expected: dict[str, tuple[int, int]]) -> list[str]:
    problems: list[str] = []
    found: dict[str, tuple[int, int]] = {}
    for topic in of_kind(docs, "KafkaTopic"):
        spec = topic["spec"]
        name = spec.get("topicName", topic["metadata"]["name"])
        found[name] = (spec["partitions"], int(spec["config"]["retention.ms"]))
        if not (topic["metadata"].get("labels") or {}).get("strimzi.io/cluster"):
            problems.append(f"{ident(topic)}: needs the strimzi.io/cluster label")
        if spec["config"].get("min.insync.replicas", 1) > spec["replicas"]:
            problems.append(f"{ident(topic)}: min.insync.replicas exceeds replicas")
    for name in sorted(set(expected) | set(found)):
        if expected.get(name) != found.get(name):
            problems.append(
                f"topic {name}: manifests have (partitions, retention.ms) {found.get(name)}, "
                f"gov_common.events.TOPICS says {expected.get(name)}"
            )
    return problems


# =========================================================================== all checks


def guarded(check: Callable[..., list[str]], *args: Any) -> list[str]:
    """A check's problems; a manifest too malformed for the check to read is a problem too
    (the schema check says what is missing)."""
    try:
        return check(*args)
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
        return [f"{check.__name__} cannot read the manifests: {exc!r}"]


def all_problems(docs: list[Doc], expected: dict[str, tuple[int, int]]) -> list[str]:
    return [
        *schema_problems(docs),
        *guarded(posture_problems, docs),
        *guarded(secret_problems, docs),
        *guarded(settings_problems, docs),
        *guarded(wiring_problems, docs),
        *guarded(network_problems, docs),
        *guarded(topic_problems, docs, expected),
    ]


# =========================================================================== fixtures


@pytest.fixture(scope="session")
def kustomize(request: pytest.FixtureRequest) -> Path:
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def announce(message: str) -> None:
        ctx = capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()
        with ctx:
            print(message, file=sys.stderr, flush=True)

    try:
        return kustomize_binary(announce)
    except RenderError as exc:
        pytest.fail(str(exc), pytrace=False)


_renders: dict[str, list[Doc]] = {}


@pytest.fixture(params=overlays(), scope="module")
def overlay(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def docs(kustomize: Path, overlay: str) -> list[Doc]:
    if overlay not in _renders:
        try:
            _renders[overlay] = render(kustomize, K8S / "overlays" / overlay)
        except RenderError as exc:
            pytest.fail(str(exc), pytrace=False)
    return copy.deepcopy(_renders[overlay])


@pytest.fixture(scope="session")
def topics() -> dict[str, tuple[int, int]]:
    return expected_topics()


def _report(problems: list[str]) -> str:
    return "\n  " + "\n  ".join(problems)


# =========================================================================== tests: manifests


def test_the_overlays_are_dev_and_prod() -> None:
    assert overlays() == ["dev", "prod"]


def test_every_object_matches_its_schema(docs: list[Doc]) -> None:
    problems = schema_problems(docs)
    assert not problems, _report(problems)


def test_security_posture_probes_and_shutdown(docs: list[Doc]) -> None:
    problems = posture_problems(docs)
    assert not problems, _report(problems)


def test_secrets_are_referenced_documented_and_never_committed(docs: list[Doc]) -> None:
    problems = secret_problems(docs) + committed_secret_problems()
    assert not problems, _report(problems)
    assert secret_refs(docs), "no secretKeyRef at all: the services need their database URLs"


def test_readme_documents_no_secret_key_that_nothing_uses(docs: list[Doc]) -> None:
    stale = documented_secret_keys() - secret_refs(docs)
    assert not stale, f"documented in deploy/k8s/README.md but referenced nowhere: {sorted(stale)}"


def test_configuration_is_what_the_services_read(docs: list[Doc]) -> None:
    problems = settings_problems(docs)
    assert not problems, _report(problems)


def test_objects_point_at_each_other(docs: list[Doc]) -> None:
    problems = wiring_problems(docs)
    assert not problems, _report(problems)


def test_network_policies_allow_only_what_is_needed(docs: list[Doc]) -> None:
    problems = network_problems(docs)
    assert not problems, _report(problems)


def test_kafka_topics_equal_the_event_contracts(
    docs: list[Doc], topics: dict[str, tuple[int, int]]
) -> None:
    from gov_common.events import TOPICS

    # The recorder saw every contract topic and its dead-letter topic.
    assert set(topics) == set(TOPICS) | {c.dead_letter for c in TOPICS.values()}
    problems = topic_problems(docs, topics)
    assert not problems, _report(problems)


def test_objects_are_namespaced_per_overlay(docs: list[Doc], overlay: str) -> None:
    app_ns = APP_NAMESPACES[overlay]
    for doc in docs:
        if doc["kind"] == "Namespace":
            assert doc["metadata"]["name"] == app_ns
            labels = doc["metadata"].get("labels") or {}
            assert labels.get("pod-security.kubernetes.io/enforce") == "restricted"
        elif doc["kind"] == "KafkaTopic":
            assert doc["metadata"].get("namespace") == "kafka", ident(doc)
        else:
            assert doc["metadata"].get("namespace") == app_ns, ident(doc)
    names = [(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")) for d in docs]
    assert len(names) == len(set(names)), "an object is rendered twice"


def test_dev_is_one_small_replica(kustomize: Path) -> None:
    docs = render(kustomize, K8S / "overlays" / "dev")
    for deployment in of_kind(docs, "Deployment"):
        assert deployment["spec"]["replicas"] == 1, ident(deployment)
        limits = pod_spec(deployment)["containers"][0]["resources"]["limits"]
        assert quantity(limits["memory"]) <= quantity("512Mi"), ident(deployment)
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["minReplicas"] == 1, ident(hpa)
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        assert "minAvailable" not in pdb["spec"], f"{ident(pdb)}: would block node drains"
    common = next(
        c
        for c in of_kind(docs, "ConfigMap")
        if c["metadata"]["name"].startswith("gov-suite-common")
    )
    assert common["data"]["GOV_ENVIRONMENT"] == "development"


def test_prod_is_three_replicas_kept_two_autoscaled_and_pinned(kustomize: Path) -> None:
    docs = render(kustomize, K8S / "overlays" / "prod")
    dev = {
        service_of(d): d for d in of_kind(render(kustomize, K8S / "overlays" / "dev"), "Deployment")
    }
    deployments = of_kind(docs, "Deployment")
    assert {service_of(d) for d in deployments} == set(SERVICES)
    for deployment in deployments:
        assert deployment["spec"]["replicas"] == 3, ident(deployment)
        prod_res = pod_spec(deployment)["containers"][0]["resources"]
        dev_res = pod_spec(dev[service_of(deployment)])["containers"][0]["resources"]
        for kind_ in ("requests", "limits"):
            for res in ("cpu", "memory"):
                assert quantity(prod_res[kind_][res]) > quantity(dev_res[kind_][res]), (
                    f"{ident(deployment)}: prod {kind_}.{res} should exceed dev's"
                )
    for workload in workloads(docs):
        for c in containers(workload):
            image = c["image"]
            assert re.search(
                r":\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?$|@sha256:[0-9a-f]{64}$", image
            ), f"{ident(workload)}: prod image {image!r} must be a released version or digest"
    assert {d["metadata"]["name"] for d in of_kind(docs, "PodDisruptionBudget")} == set(SERVICES)
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        assert pdb["spec"]["minAvailable"] == 2, ident(pdb)
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(docs, "HorizontalPodAutoscaler")
    }
    assert set(hpas) == set(SERVICES)
    for hpa in hpas.values():
        assert hpa["spec"]["minReplicas"] >= 3, ident(hpa)
    common = next(
        c
        for c in of_kind(docs, "ConfigMap")
        if c["metadata"]["name"].startswith("gov-suite-common")
    )
    assert common["data"]["GOV_ENVIRONMENT"] == "production"
    for topic in of_kind(docs, "KafkaTopic"):
        assert topic["spec"]["replicas"] >= 3, f"{ident(topic)}: production keeps 3 copies"
        assert topic["spec"]["config"]["min.insync.replicas"] >= 2, ident(topic)


def test_the_app_part_renders_without_strimzi_for_a_managed_kafka(kustomize: Path) -> None:
    """README: with a managed Kafka, apply overlays/<env>/app only; it must stand alone."""
    for overlay_name in overlays():
        docs = render(kustomize, K8S / "overlays" / overlay_name / "app")
        assert not of_kind(docs, "KafkaTopic")
        assert of_kind(docs, "Deployment")


# =========================================================================== tests: the checks bite


BREAKAGES = [
    pytest.param(
        "base/petitions-api/deployment.yaml",
        "readOnlyRootFilesystem: true",
        "readOnlyRootFilesystem: false",
        "readOnlyRootFilesystem must be true",
        id="writable-root-filesystem",
    ),
    pytest.param(
        "base/targets-api/migration-job.yaml",
        "allowPrivilegeEscalation: false",
        "allowPrivilegeEscalation: true",
        "allowPrivilegeEscalation must be false",
        id="job-privilege-escalation",
    ),
    pytest.param(
        "base/petitions-api/deployment.yaml",
        "  revisionHistoryLimit: 5\n",
        "  revisionHistoryLimit: 5\n  replica: 2\n",
        "Additional properties are not allowed ('replica' was unexpected)",
        id="unknown-field",
    ),
    pytest.param(
        "base/notifier/deployment.yaml",
        "containerPort: 8000",
        'containerPort: "8000"',
        "containerPort: '8000' is not of type 'integer'",
        id="wrong-type",
    ),
    pytest.param(
        "base/targets-api/deployment.yaml",
        "path: /readyz",
        "path: /healthz",
        "readinessProbe must GET /readyz",
        id="readiness-on-liveness-endpoint",
    ),
    pytest.param(
        "base/notifier/deployment.yaml",
        "key: webhook-secret",
        "key: webhook-token",
        "'webhook-token' is referenced but not documented",
        id="undocumented-secret-key",
    ),
    pytest.param(
        "base/petitions-api/kustomization.yaml",
        "PETITIONS_SWEEP_INTERVAL_S=60",
        "PETITIONS_SWEEP_INTERVALS=60",
        "sets PETITIONS_SWEEP_INTERVALS, which petitions-api's settings do not read",
        id="misspelt-setting",
    ),
    pytest.param(
        "base/notifier/kustomization.yaml",
        "NOTIFIER_MAX_ATTEMPTS=8",
        "NOTIFIER_MAX_ATTEMPTS=eight",
        "would not start with this configuration",
        id="invalid-setting-value",
    ),
    pytest.param(
        "base/network-policies.yaml",
        "  policyTypes:\n    - Ingress\n    - Egress\n---",
        "  policyTypes:\n    - Ingress\n---",
        "no default deny NetworkPolicy",
        id="default-deny-without-egress",
    ),
    pytest.param(
        "base/targets-api/networkpolicy.yaml",
        "          port: 5432",
        "          port: 5433",
        "no egress to namespace postgres port 5432",
        id="database-port-closed",
    ),
    pytest.param(
        "kafka-topics/topics.yaml",
        "partitions: 6",
        "partitions: 3",
        "gov_common.events.TOPICS says (6, 1209600000)",
        id="topic-drifts-from-contract",
    ),
    pytest.param(
        "kafka-topics/topics.yaml",
        "  replicas: 3",
        "  replica: 3",
        "'replicas' is a required property",
        id="kafkatopic-crd-schema",
    ),
    pytest.param(
        "base/petitions-api/migration-job.yaml",
        '"upgrade", "head"',
        '"downgrade", "base"',
        "command must be alembic -c services/petitions-api/alembic.ini upgrade head",
        id="migration-command",
    ),
    pytest.param(
        "base/kustomization.yaml",
        "  - notifier\n",
        "",
        "service notifier has no Deployment",
        id="service-left-out",
    ),
    pytest.param(
        "base/network-policies.yaml",
        "# Default deny",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked\nstringData:\n  k: v\n---\n"
        "# Default deny",
        "Secrets are created in the cluster, never committed",
        id="committed-secret",
    ),
]


@pytest.mark.parametrize(("path", "old", "new", "expected"), BREAKAGES)
def test_a_broken_manifest_fails(
    kustomize: Path,
    topics: dict[str, tuple[int, int]],
    tmp_path: Path,
    path: str,
    old: str,
    new: str,
    expected: str,
) -> None:
    """A copy of deploy/k8s with one mistake renders, and the same checks report it."""
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree)
    target = tree / path
    text = target.read_text(encoding="utf-8")
    assert old in text, f"{path} no longer contains {old!r}: update this breakage"
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    # Every breakage is in files both overlays share: rendering one of them is enough.
    problems = all_problems(render(kustomize, tree / "overlays" / "prod"), topics)
    assert any(expected in p for p in problems), (
        f"expected a problem containing {expected!r}, got:" + _report(problems or ["<none>"])
    )


def test_a_manifest_kustomize_cannot_render_fails(kustomize: Path, tmp_path: Path) -> None:
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree)
    kustomization = tree / "base" / "petitions-api" / "kustomization.yaml"
    text = kustomization.read_text(encoding="utf-8")
    kustomization.write_text(text.replace("  - pdb.yaml\n", "  - pdb.yaml\n  - gone.yaml\n"))
    with pytest.raises(RenderError, match=r"gone\.yaml"):
        render(kustomize, tree / "overlays" / "prod")


def test_the_unbroken_copy_has_no_problems(
    kustomize: Path, topics: dict[str, tuple[int, int]], tmp_path: Path
) -> None:
    """The breakage tests above mean something only if the untouched tree is clean."""
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree)
    for name in overlays(tree):
        problems = all_problems(render(kustomize, tree / "overlays" / name), topics)
        assert not problems, _report(problems)


def test_crd_schemas_are_valid_json_schemas() -> None:
    for schema in CRD_SCHEMAS.values():
        Draft202012Validator.check_schema(schema)


def test_selector_semantics() -> None:
    labels = {"app": "a", "tier": "api"}
    assert selects({}, labels)
    assert selects({"matchLabels": {"app": "a"}}, labels)
    assert not selects({"matchLabels": {"app": "b"}}, labels)
    assert selects(
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["api"]}]}, labels
    )
    assert not selects({"matchExpressions": [{"key": "x", "operator": "Exists"}]}, labels)
    assert not selects(None, labels)


def test_quantities() -> None:
    assert quantity("250m") == pytest.approx(0.25)
    assert quantity("2") == 2
    assert quantity("512Mi") == 512 * 2**20
    assert quantity("1Gi") > quantity("768Mi")


# =========================================================================== observability

_PROMQL_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_PROMQL_GROUPING = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", flags=re.IGNORECASE
)
_PROMQL_IDENT = re.compile(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*")
_PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "atan2", "inf", "nan", "start", "end",
}  # fmt: skip


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (a small lexer, enough for these files).

    Strings, label matchers, range and subquery brackets, and grouping clauses are removed;
    an identifier followed by `(` is a function or aggregation; the rest are metric names.
    """
    text = _PROMQL_STRING.sub('""', expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)
    text = re.sub(r"\[[^\[\]]*\]", " ", text)
    text = _PROMQL_GROUPING.sub(" ", text)
    names: set[str] = set()
    for match in _PROMQL_IDENT.finditer(text):
        word = match.group()
        if word.lower() in _PROMQL_WORDS or text[match.end() :].lstrip().startswith("("):
            continue
        names.add(word)
    return names


def promql_problems(expr: str, where: str) -> list[str]:
    problems: list[str] = []
    stripped = _PROMQL_STRING.sub('""', expr)
    for opening, closing in ("()", "{}", "[]"):
        depth = 0
        for ch in stripped:
            depth += (ch == opening) - (ch == closing)
            if depth < 0:
                break
        if depth != 0:
            problems.append(f"{where}: unbalanced {opening}{closing} in {expr!r}")
    names = promql_metric_names(expr)
    if not names:
        problems.append(f"{where}: selects no metric: {expr!r}")
    for name in sorted(names - METRIC_SERIES):
        problems.append(f"{where}: {name!r} is not a series gov_common exports")
    return problems


def dashboard_exprs(dashboard: Doc) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def walk(panels: list[Doc]) -> None:
        for panel in panels:
            for target in panel.get("targets") or []:
                found.append((f"panel {panel.get('title')!r}", str(target.get("expr", ""))))
            walk(panel.get("panels") or [])

    walk(dashboard.get("panels") or [])
    return found


def rule_problems(document: Any) -> list[str]:
    """The Prometheus rule-file structure (what `promtool check rules` reads) and its PromQL."""
    if not isinstance(document, dict) or set(document) != {"groups"}:
        return ["a rule file is a mapping with exactly one key, groups"]
    problems: list[str] = []
    duration = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
    group_names: set[str] = set()
    for index, group in enumerate(document["groups"] or []):
        name = group.get("name") if isinstance(group, dict) else None
        if not name or name in group_names:
            problems.append(f"group {index}: needs a unique name")
        group_names.add(str(name))
        unknown = set(group) - {"name", "interval", "limit", "rules", "query_offset", "labels"}
        if unknown:
            problems.append(f"group {name}: unknown keys {sorted(unknown)}")
        if not group.get("rules"):
            problems.append(f"group {name}: no rules")
        for rule in group.get("rules") or []:
            what = rule.get("alert") or rule.get("record")
            where = f"group {name} rule {what}"
            if ("alert" in rule) == ("record" in rule):
                problems.append(f"{where}: exactly one of alert and record")
            unknown = set(rule) - {
                "alert",
                "record",
                "expr",
                "for",
                "keep_firing_for",
                "labels",
                "annotations",
            }
            if unknown:
                problems.append(f"{where}: unknown keys {sorted(unknown)}")
            if not isinstance(rule.get("expr"), str):
                problems.append(f"{where}: expr must be a string")
                continue
            for key in ("for", "keep_firing_for"):
                if key in rule and not duration.match(str(rule[key])):
                    problems.append(f"{where}: {key} {rule[key]!r} is not a duration")
            for key in ("labels", "annotations"):
                values = rule.get(key) or {}
                if not all(isinstance(v, str) for v in values.values()):
                    problems.append(f"{where}: {key} values must be strings")
            if "alert" in rule:
                if (rule.get("labels") or {}).get("severity") not in {"warning", "critical"}:
                    problems.append(f"{where}: severity label must be warning or critical")
                if not {"summary", "description"} <= set(rule.get("annotations") or {}):
                    problems.append(f"{where}: annotations need summary and description")
            problems += promql_problems(rule["expr"], where)
    return problems


@pytest.fixture(scope="module")
def dashboard() -> Doc:
    loaded: Doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def rules() -> Any:
    return yaml.safe_load(RULES.read_text(encoding="utf-8"))


def test_metric_series_are_the_ones_gov_common_exports() -> None:
    """The names dashboards and alerts may use exist in gov_common.metrics (no drift)."""
    from prometheus_client.metrics import MetricWrapperBase

    from gov_common import metrics

    suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}
    exported: set[str] = set()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                exported |= {family.name + s for s in suffixes.get(family.type, [""])}
    assert not METRIC_SERIES - exported, f"not exported: {sorted(METRIC_SERIES - exported)}"


def test_dashboard_is_grafana_json_over_known_series(dashboard: Doc) -> None:
    assert dashboard.get("uid") and dashboard.get("title")
    assert isinstance(dashboard.get("schemaVersion"), int)
    exprs = dashboard_exprs(dashboard)
    assert exprs, "the dashboard has no queries"
    problems = [p for where, expr in exprs for p in promql_problems(expr, where)]
    assert not problems, _report(problems)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel.get("gridPos") or {}), panel.get("title")


def test_dashboard_shows_every_series(dashboard: Doc) -> None:
    used = {n for _, expr in dashboard_exprs(dashboard) for n in promql_metric_names(expr)}
    bases = {re.sub(r"_(bucket|sum|count)$", "", s) for s in METRIC_SERIES}
    shown = {re.sub(r"_(bucket|sum|count)$", "", s) for s in used}
    assert bases <= shown, f"not on the dashboard: {sorted(bases - shown)}"


def test_alert_rules_are_a_prometheus_rule_file(rules: Any) -> None:
    problems = rule_problems(rules)
    assert not problems, _report(problems)


def test_alerts_cover_outbox_age_dead_letters_lag_and_errors(rules: Any) -> None:
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
    used = [promql_metric_names(e) for e in exprs]
    assert any("outbox_oldest_age_seconds" in u for u in used)
    assert any("consumer_dead_letters_total" in u for u in used)
    assert any("consumer_lag" in u for u in used)
    assert any(
        "http_requests_total" in u and 'status=~"5.."' in e
        for u, e in zip(used, exprs, strict=True)
    )


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (service) (rate(http_requests_total{status=~"5.."}[5m]))',
            {"http_requests_total"},
        ),
        (
            "histogram_quantile(0.95, sum by (le) "
            "(rate(http_request_duration_seconds_bucket[$__rate_interval])))",
            {"http_request_duration_seconds_bucket"},
        ),
        (
            "delta(max by (service) (outbox_backlog)[15m:1m]) > 0"
            " and outbox_backlog offset 5m > 1e3",
            {"outbox_backlog"},
        ),
        ('consumer_lag{topic="a.b(c)"} / on (topic) group_left (x) consumer_lag', {"consumer_lag"}),
    ],
)
def test_promql_metric_names(expr: str, names: set[str]) -> None:
    assert promql_metric_names(expr) == names


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        pytest.param(lambda d: d.update(extra=1), "exactly one key", id="top-level-key"),
        pytest.param(lambda d: d["groups"][0].pop("name"), "unique name", id="group-name"),
        pytest.param(
            lambda d: d["groups"][0]["rules"][0].update(expr="rate(http_requests_totl[5m])"),
            "http_requests_totl",
            id="unknown-metric",
        ),
        pytest.param(
            lambda d: d["groups"][0]["rules"][0].update(expr="sum(rate(http_requests_total[5m])"),
            "unbalanced",
            id="unbalanced",
        ),
        pytest.param(
            lambda d: d["groups"][0]["rules"][0].update({"for": "10 minutes"}),
            "not a duration",
            id="bad-for",
        ),
        pytest.param(
            lambda d: d["groups"][0]["rules"][0].update(record="x"),
            "exactly one of alert and record",
            id="alert-and-record",
        ),
        pytest.param(
            lambda d: d["groups"][0]["rules"][0]["labels"].pop("severity"),
            "severity",
            id="no-severity",
        ),
    ],
)
def test_broken_rules_fail(rules: Any, breakage: Callable[[Any], Any], expected: str) -> None:
    broken = copy.deepcopy(rules)
    breakage(broken)
    assert any(expected in p for p in rule_problems(broken)), rule_problems(broken)


def test_observability_files_are_all_checked() -> None:
    """A new file in deploy/observability needs a check here."""
    known = {DASHBOARD.name, RULES.name, "README.md"}
    present = {p.name for p in OBSERVABILITY.iterdir() if p.is_file()}
    assert present <= known, f"unchecked files: {sorted(present - known)}"
    assert {DASHBOARD.name, RULES.name} <= present
