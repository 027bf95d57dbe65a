"""The Kubernetes manifests (deploy/k8s), checked as files: no cluster runs where the suite
runs, so these tests read what `kubectl apply -k deploy/k8s` would act on and hold it to
the stack's rules (probes, one Secret per service, one public entry, autoscaling, real
settings with production values). Each check returns the problems it finds; the last
tests break a copy of the manifests to show that every check can fail.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from sqlalchemy import text

from crm_analytics.settings import AnalyticsSettings
from crm_customer.settings import CustomerSettings
from crm_gateway.settings import GatewaySettings
from crm_orders.settings import OrdersSettings
from crm_recommend.settings import RecommendSettings
from crm_shared.db import create_engine
from crm_shared.settings import Environment, ServiceSettings
from crm_shared.testing import fresh_postgres_database, sqlite_url

ROOT = Path(__file__).parents[2]
K8S = ROOT / "deploy" / "k8s"
NAMESPACE = "crm"
CONFIG_MAP = "crm-config"
EXAMPLE_SECRETS = "secrets.example.yaml"
SETTINGS: dict[str, type[ServiceSettings]] = {
    "customer": CustomerSettings,
    "orders": OrdersSettings,
    "analytics": AnalyticsSettings,
    "recommend": RecommendSettings,
    "gateway": GatewaySettings,
}
AUTOSCALED = {"gateway", "recommend"}
PUBLIC = "gateway"
# Settings whose defaults only suit the embedded mode on one machine: SQLite under var/,
# localhost addresses, the development secret, files under the working directory.
PRODUCTION_DECIDED = ("environment", "database_url", "service_token", "host")
POD_OWNERS = ("Deployment", "Job", "CronJob")
CLUSTER_SCOPED = ("Namespace",)
SCRATCH = "/tmp"  # noqa: S108 - the path a pod's writable emptyDir must be mounted at
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - a pod listens on its own network namespace


def prefix(service: str) -> str:
    return str(SETTINGS[service].model_config.get("env_prefix", ""))


def default_port(service: str) -> int:
    port = SETTINGS[service].model_fields["port"].default
    assert isinstance(port, int)
    return port


def variables(service: str) -> set[str]:
    return {f"{prefix(service)}{name.upper()}" for name in SETTINGS[service].model_fields}


def secret_fields(service: str) -> set[str]:
    """Settings that must come from the service's Secret: credentials and the token."""
    fields = {"database_url"}
    for name, info in SETTINGS[service].model_fields.items():
        if "SecretStr" in str(info.annotation):
            fields.add(name)
    return fields


def production_decided(service: str) -> set[str]:
    """Settings every pod of the service must set: defaults that cannot work in a cluster."""
    decided = set(PRODUCTION_DECIDED)
    for name in SETTINGS[service].model_fields:
        if name.endswith(("_url", "_dir")):
            decided.add(name)
    return decided


# --- loading ---------------------------------------------------------------------------


@dataclass
class Pod:
    """A pod template and what owns it."""

    owner: str
    kind: str
    service: str
    component: str
    spec: dict[str, Any]
    metadata: dict[str, Any]

    def containers(self) -> list[dict[str, Any]]:
        containers: list[dict[str, Any]] = self.spec.get("containers", [])
        return containers + list(self.spec.get("initContainers", []))


@dataclass
class Manifests:
    directory: Path
    files: dict[str, list[dict[str, Any]]]
    kustomization: dict[str, Any]
    example_secrets: list[dict[str, Any]] = field(default_factory=list)

    def documents(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for name in self.kustomization.get("resources", []):
            for document in self.files.get(name, []):
                yield name, document

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [document for _, document in self.documents() if document.get("kind") == kind]

    def named(self, kind: str, name: str) -> dict[str, Any] | None:
        return next((d for d in self.of_kind(kind) if d["metadata"]["name"] == name), None)

    def config(self) -> dict[str, str]:
        config_map = self.named("ConfigMap", CONFIG_MAP)
        return dict(config_map.get("data") or {}) if config_map else {}

    def secret(self, name: str) -> dict[str, str]:
        for secret in self.example_secrets:
            if secret["metadata"]["name"] == name:
                return dict(secret.get("stringData") or secret.get("data") or {})
        return {}

    def pods(self) -> list[Pod]:
        pods = []
        for kind in POD_OWNERS:
            for owner in self.of_kind(kind):
                spec = owner["spec"]
                if kind == "CronJob":
                    spec = spec["jobTemplate"]["spec"]
                template = spec["template"]
                labels = template.get("metadata", {}).get("labels", {})
                pods.append(
                    Pod(
                        owner=owner["metadata"]["name"],
                        kind=kind,
                        service=labels.get("app.kubernetes.io/name", ""),
                        component=labels.get("app.kubernetes.io/component", ""),
                        spec=template["spec"],
                        metadata=template.get("metadata", {}),
                    )
                )
        return pods

    def deployments(self) -> dict[str, Pod]:
        return {pod.service: pod for pod in self.pods() if pod.kind == "Deployment"}


def load(directory: Path) -> Manifests:
    files = {
        path.name: [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for path in sorted(directory.glob("*.yaml"))
        if path.name != "kustomization.yaml"
    }
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    return Manifests(directory, files, kustomization, files.get(EXAMPLE_SECRETS, []))


def environment_of(manifests: Manifests, container: dict[str, Any]) -> dict[str, str]:
    """The variables a container starts with, Secrets taken from the example ones."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source and source["configMapRef"]["name"] == CONFIG_MAP:
            env.update(manifests.config())
        if "secretRef" in source:
            env.update(manifests.secret(source["secretRef"]["name"]))
    for variable in container.get("env", []):
        env[variable["name"]] = str(variable.get("value", "<from a reference>"))
    return env


def main_container(pod: Pod) -> dict[str, Any]:
    return pod.spec["containers"][0]


def resolve_port(container: dict[str, Any], port: int | str) -> int | None:
    if isinstance(port, int):
        return port
    for declared in container.get("ports", []):
        if declared.get("name") == port:
            return int(declared["containerPort"])
    return None


# --- checks: each returns the problems it finds ------------------------------------------


def probe_problems(manifests: Manifests) -> list[str]:
    problems = []
    deployments = manifests.deployments()
    for service in sorted(set(SETTINGS) - set(deployments)):
        problems.append(f"{service}: no Deployment")
    for service, pod in deployments.items():
        container = main_container(pod)
        expected = {
            "readinessProbe": "/ready",
            "livenessProbe": "/health",
            "startupProbe": "/health",
        }
        for probe, path in expected.items():
            get = container.get(probe, {}).get("httpGet")
            if not get:
                problems.append(f"{service}: no HTTP {probe}")
                continue
            if get.get("path") != path:
                problems.append(f"{service}: {probe} asks {get.get('path')}, not {path}")
            if resolve_port(container, get.get("port")) != default_port(service):
                problems.append(f"{service}: {probe} is not on port {default_port(service)}")
    return problems


def resource_problems(manifests: Manifests) -> list[str]:
    problems = []
    for pod in manifests.pods():
        for container in pod.containers():
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(bound, {}):
                        problems.append(f"{pod.owner}/{container['name']}: no {bound}.{resource}")
    return problems


def security_problems(manifests: Manifests) -> list[str]:
    """The restricted Pod Security profile, a read-only root with /tmp apart, and no
    service links (they would inject `<SERVICE>_PORT=tcp://...` among the settings)."""
    problems = []
    for pod in manifests.pods():
        context = pod.spec.get("securityContext", {})
        where = f"{pod.kind} {pod.owner}"
        if context.get("runAsNonRoot") is not True:
            problems.append(f"{where}: runAsNonRoot is not set")
        if not isinstance(context.get("runAsUser"), int) or context["runAsUser"] == 0:
            problems.append(f"{where}: no numeric non-root runAsUser (the image's is a name)")
        if context.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{where}: no RuntimeDefault seccomp profile")
        if pod.spec.get("enableServiceLinks") is not False:
            problems.append(f"{where}: service links are on")
        if pod.spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: mounts a service account token it does not use")
        if pod.spec.get("hostNetwork") or pod.spec.get("hostPID"):
            problems.append(f"{where}: uses the host's namespaces")
        volumes = {volume["name"]: volume for volume in pod.spec.get("volumes", [])}
        for container in pod.containers():
            own = container.get("securityContext", {})
            name = f"{where}/{container['name']}"
            if own.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{name}: privilege escalation is allowed")
            if own.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{name}: the root filesystem is writable")
            if own.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{name}: keeps Linux capabilities")
            if own.get("privileged") or own.get("runAsUser") == 0:
                problems.append(f"{name}: runs privileged or as root")
            mounts = {
                mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])
            }
            if "emptyDir" not in volumes.get(mounts.get(SCRATCH, ""), {}):
                problems.append(f"{name}: /tmp is not a writable emptyDir")
            for port in container.get("ports", []):
                if "hostPort" in port:
                    problems.append(f"{name}: binds a host port")
    return problems


def secret_problems(manifests: Manifests) -> list[str]:
    """No pod gets another service's database credentials: each references its own Secret
    only, and each Secret carries only its service's variables, its database and role."""
    problems = []
    for pod in manifests.pods():
        own = f"{pod.service}-secrets"
        for container in pod.containers():
            name = f"{pod.owner}/{container['name']}"
            references = [
                source["secretRef"]["name"]
                for source in container.get("envFrom", [])
                if "secretRef" in source
            ]
            references += [
                variable["valueFrom"]["secretKeyRef"]["name"]
                for variable in container.get("env", [])
                if "secretKeyRef" in variable.get("valueFrom", {})
            ]
            for source in container.get("envFrom", []):
                if "configMapRef" in source and source["configMapRef"]["name"] != CONFIG_MAP:
                    problems.append(f"{name}: reads ConfigMap {source['configMapRef']['name']}")
            if pod.service in SETTINGS and own not in references:
                problems.append(f"{name}: does not read its Secret {own}")
            problems += [f"{name}: reads Secret {ref}" for ref in references if ref != own]
        for volume in pod.spec.get("volumes", []):
            if "secret" in volume and volume["secret"].get("secretName") != own:
                problems.append(f"{pod.owner}: mounts Secret {volume['secret'].get('secretName')}")
    urls = {}
    for service in SETTINGS:
        values = manifests.secret(f"{service}-secrets")
        if not values:
            problems.append(f"{service}: no {service}-secrets in {EXAMPLE_SECRETS}")
            continue
        for key in values:
            if key not in variables(service):
                problems.append(f"{service}-secrets: {key} is not a setting of {service}")
        url = urlparse(values.get(f"{prefix(service)}DATABASE_URL", ""))
        urls[service] = url
        if (url.username, url.path.strip("/")) != (f"crm_{service}", f"crm_{service}"):
            problems.append(f"{service}-secrets: the database URL is not crm_{service}'s own")
    config = manifests.config()
    for service in SETTINGS:
        for name in secret_fields(service):
            if f"{prefix(service)}{name.upper()}" in config:
                problems.append(f"{CONFIG_MAP}: holds the secret {prefix(service)}{name.upper()}")
    return problems


def exposure_problems(manifests: Manifests) -> list[str]:
    """Only the gateway is reachable from outside: ClusterIP Services, one Ingress to it."""
    problems = []
    for service in manifests.of_kind("Service"):
        if service["spec"].get("type", "ClusterIP") != "ClusterIP":
            problems.append(f"Service {service['metadata']['name']}: {service['spec']['type']}")
    for ingress in manifests.of_kind("Ingress"):
        backends = [
            path["backend"]["service"]["name"]
            for rule in ingress["spec"].get("rules", [])
            for path in rule.get("http", {}).get("paths", [])
        ]
        default = ingress["spec"].get("defaultBackend", {}).get("service", {}).get("name")
        backends += [default] if default else []
        problems += [f"Ingress routes to {name}" for name in backends if name != PUBLIC]
        paths = [
            path["path"]
            for rule in ingress["spec"].get("rules", [])
            for path in rule.get("http", {}).get("paths", [])
        ]
        problems += [f"Ingress exposes {path}" for path in paths if path in ("/", "/metrics")]
    if not manifests.of_kind("Ingress"):
        problems.append("no Ingress for the gateway")
    policies = manifests.of_kind("NetworkPolicy")
    if not any(policy["spec"].get("podSelector") == {} for policy in policies):
        problems.append("no NetworkPolicy keeps the services to the namespace")
    for policy in policies:
        selected = policy["spec"].get("podSelector", {}).get("matchLabels", {})
        for rule in policy["spec"].get("ingress", []):
            peers = rule.get("from")
            open_to_all = not peers or any("ipBlock" in peer for peer in peers)
            if open_to_all and selected.get("app.kubernetes.io/name") != PUBLIC:
                problems.append(f"NetworkPolicy {policy['metadata']['name']}: open to all")
    return problems


def service_problems(manifests: Manifests) -> list[str]:
    """Each service: its image, module, port, Service and scrape annotations agree."""
    problems = []
    deployments = manifests.deployments()
    for service, pod in deployments.items():
        if service not in SETTINGS:
            problems.append(f"Deployment {pod.owner}: not a service of the stack")
            continue
        port = default_port(service)
        container = main_container(pod)
        if container.get("image") != f"crm-{service}":
            problems.append(f"{service}: image {container.get('image')}, not crm-{service}")
        if "command" in container or "args" in container:
            problems.append(f"{service}: overrides the image's `python -m crm_{service}`")
        if importlib.util.find_spec(f"crm_{service}.__main__") is None:
            problems.append(f"{service}: crm_{service} cannot be run with python -m")
        ports = [declared["containerPort"] for declared in container.get("ports", [])]
        if ports != [port]:
            problems.append(f"{service}: container ports {ports}, not [{port}]")
        annotations = pod.metadata.get("annotations", {})
        scrape = (
            annotations.get("prometheus.io/scrape"),
            annotations.get("prometheus.io/port"),
            annotations.get("prometheus.io/path"),
        )
        if scrape != ("true", str(port), "/metrics"):
            problems.append(f"{service}: scrape annotations {scrape}")
        backend = manifests.named("Service", service)
        if backend is None:
            problems.append(f"{service}: no Service")
            continue
        labels = pod.metadata.get("labels", {})
        selector = backend["spec"].get("selector", {})
        if not selector or any(labels.get(key) != value for key, value in selector.items()):
            problems.append(f"{service}: the Service does not select its pods")
        if [declared["port"] for declared in backend["spec"]["ports"]] != [port]:
            problems.append(f"{service}: the Service is not on port {port}")
        if pod.spec.get("containers") and len(pod.spec["containers"]) != 1:
            problems.append(f"{service}: more than one container")
    return problems


def setting_problems(manifests: Manifests) -> list[str]:
    """Every variable named is a real setting of the pod's own service, and every setting
    whose default only suits one machine is given a production value."""
    problems = []
    known = set().union(*(variables(service) for service in SETTINGS))
    for key in manifests.config():
        if key not in known:
            problems.append(f"{CONFIG_MAP}: {key} is no service's setting")
    for pod in manifests.pods():
        if pod.service not in SETTINGS:
            problems.append(f"{pod.kind} {pod.owner}: belongs to no service")
            continue
        for container in pod.containers():
            for variable in container.get("env", []):
                if variable["name"] not in variables(pod.service):
                    problems.append(f"{pod.owner}: {variable['name']} is not a setting of it")
        env = environment_of(manifests, main_container(pod))
        for name in sorted(production_decided(pod.service)):
            if f"{prefix(pod.service)}{name.upper()}" not in env:
                problems.append(f"{pod.owner}: {prefix(pod.service)}{name.upper()} is not set")
        if env.get(f"{prefix(pod.service)}ENVIRONMENT") != Environment.production.value:
            problems.append(f"{pod.owner}: not in production mode")
    return problems


def url_problems(manifests: Manifests) -> list[str]:
    """A service's URL of a sibling names the sibling's Service on the sibling's port."""
    problems = []
    ports = {
        service["metadata"]["name"]: {declared["port"] for declared in service["spec"]["ports"]}
        for service in manifests.of_kind("Service")
    }
    config = manifests.config()
    for service, settings in SETTINGS.items():
        for name in settings.model_fields:
            sibling = name.removesuffix("_url")
            key = f"{prefix(service)}{name.upper()}"
            if sibling not in SETTINGS or key not in config:
                continue
            url = urlparse(config[key])
            if (url.hostname, url.port) != (sibling, default_port(sibling)):
                problems.append(
                    f"{key}={config[key]} is not http://{sibling}:{default_port(sibling)}"
                )
            elif url.port not in ports.get(sibling, set()):
                problems.append(f"{key}: no Service {sibling} on port {url.port}")
    return problems


def autoscaling_problems(manifests: Manifests) -> list[str]:
    problems = []
    autoscalers = manifests.of_kind("HorizontalPodAutoscaler")
    targets = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in autoscalers}
    if targets != AUTOSCALED:
        problems.append(f"autoscaled: {sorted(targets)}, expected {sorted(AUTOSCALED)}")
    for hpa in autoscalers:
        name = hpa["metadata"]["name"]
        if hpa["apiVersion"] != "autoscaling/v2":
            problems.append(f"HPA {name}: {hpa['apiVersion']}")
        if hpa["spec"]["scaleTargetRef"]["kind"] != "Deployment":
            problems.append(f"HPA {name}: does not scale a Deployment")
        if hpa["spec"].get("minReplicas", 1) < 2:
            problems.append(f"HPA {name}: fewer than two replicas")
        resources = [
            m["resource"]["name"] for m in hpa["spec"].get("metrics", []) if "resource" in m
        ]
        if "cpu" not in resources:
            problems.append(f"HPA {name}: does not scale on CPU")
    deployments = {d["metadata"]["name"]: d for d in manifests.of_kind("Deployment")}
    for target in targets:
        if "replicas" in deployments.get(target, {}).get("spec", {}):
            problems.append(f"{target}: sets replicas that its HPA owns (each apply resets them)")
    budgets = {pdb["metadata"]["name"]: pdb for pdb in manifests.of_kind("PodDisruptionBudget")}
    pods = manifests.deployments()
    for service in sorted(AUTOSCALED):
        budget = budgets.get(service)
        if budget is None or service not in pods:
            problems.append(f"{service}: no PodDisruptionBudget")
            continue
        labels = pods[service].metadata.get("labels", {})
        selector = budget["spec"]["selector"]["matchLabels"]
        if any(labels.get(key) != value for key, value in selector.items()):
            problems.append(f"{service}: the PodDisruptionBudget does not select its pods")
        floor = min(
            (
                hpa["spec"].get("minReplicas", 1)
                for hpa in autoscalers
                if hpa["spec"]["scaleTargetRef"]["name"] == service
            ),
            default=1,
        )
        if budget["spec"].get("minAvailable", 0) >= floor:
            problems.append(f"{service}: the PodDisruptionBudget blocks every node drain")
    return problems


def migration_problems(manifests: Manifests) -> list[str]:
    problems = []
    jobs = {pod.service: pod for pod in manifests.pods() if pod.component == "migrations"}
    for service in SETTINGS:
        pod = jobs.get(service)
        if pod is None or pod.kind != "Job":
            problems.append(f"{service}: no migration Job")
            continue
        container = main_container(pod)
        module = f"crm_{service}.migrations"
        if container.get("command") != ["python", "-m", module, "upgrade"]:
            problems.append(f"{service}: the migration Job runs {container.get('command')}")
        if importlib.util.find_spec(f"{module}.__main__") is None:
            problems.append(f"{service}: {module} cannot be run with python -m")
        if container.get("image") != f"crm-{service}":
            problems.append(f"{service}: the migration Job runs image {container.get('image')}")
    return problems


def run_problems(manifests: Manifests) -> list[str]:
    """Scheduled runs leave the serving replicas: where a CronJob runs them, the serving
    Deployment's own schedule is off; the CronJob's script uses names that exist."""
    problems = []
    schedules = {"analytics": "run_interval_seconds", "recommend": "training_interval_seconds"}
    cronjobs = {pod.service: pod for pod in manifests.pods() if pod.kind == "CronJob"}
    for service, schedule in schedules.items():
        if schedule not in SETTINGS[service].model_fields:
            continue
        pod = cronjobs.get(service)
        if pod is None:
            problems.append(f"{service}: no CronJob for its scheduled runs")
            continue
        serving = manifests.deployments().get(service)
        variable = f"{prefix(service)}{schedule.upper()}"
        if serving and environment_of(manifests, main_container(serving)).get(variable) != "0":
            problems.append(f"{service}: the serving replicas keep {variable} on")
        command = main_container(pod).get("command", [])
        if command[:2] != ["python", "-c"] or len(command) != 3:
            problems.append(f"{service}: the CronJob does not run a script in its image")
            continue
        problems += [f"{pod.owner}: {problem}" for problem in script_problems(command[2])]
    return problems


def script_problems(source: str) -> list[str]:
    """The imports of a script resolve, and it runs only as the main module (a spawned
    worker process imports the main module again)."""
    problems = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            module = importlib.import_module(node.module)
            problems += [
                f"{node.module} has no {alias.name}"
                for alias in node.names
                if not hasattr(module, alias.name)
            ]
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            problems.append("runs code on import: guard it with `if __name__ == '__main__'`")
    return problems


def model_volume_problems(manifests: Manifests) -> list[str]:
    """Recommend's pods share its model directory on a ReadWriteMany volume."""
    problems = []
    claims = {pvc["metadata"]["name"]: pvc for pvc in manifests.of_kind("PersistentVolumeClaim")}
    for pod in manifests.pods():
        if pod.service != "recommend" or pod.component == "migrations":
            continue
        container = main_container(pod)
        directory = environment_of(manifests, container).get("RECOMMEND_MODEL_DIR")
        mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])}
        volumes = {volume["name"]: volume for volume in pod.spec.get("volumes", [])}
        volume = volumes.get(mounts.get(directory or "", ""), {})
        claim = volume.get("persistentVolumeClaim", {}).get("claimName")
        if claim not in claims:
            problems.append(f"{pod.owner}: RECOMMEND_MODEL_DIR is not on a volume claim")
        elif "ReadWriteMany" not in claims[claim]["spec"]["accessModes"]:
            problems.append(f"{pod.owner}: the model volume is not ReadWriteMany")
    return problems


def layout_problems(manifests: Manifests) -> list[str]:
    """The kustomization lists every manifest but the example Secrets; all in one namespace."""
    problems = []
    listed = list(manifests.kustomization.get("resources", []))
    if EXAMPLE_SECRETS in listed:
        problems.append(f"kustomization.yaml applies {EXAMPLE_SECRETS}")
    expected = sorted(set(manifests.files) - {EXAMPLE_SECRETS})
    if sorted(listed) != expected:
        problems.append(f"kustomization.yaml lists {sorted(listed)}, the files are {expected}")
    if len(set(listed)) != len(listed):
        problems.append("kustomization.yaml lists a file twice")
    for _, document in manifests.documents():
        kind, metadata = document.get("kind"), document.get("metadata", {})
        if kind not in CLUSTER_SCOPED and metadata.get("namespace") != NAMESPACE:
            problems.append(f"{kind} {metadata.get('name')}: not in namespace {NAMESPACE}")
        if kind == "Secret":
            problems.append(f"Secret {metadata.get('name')} is applied with the stack")
    images = {image["name"] for image in manifests.kustomization.get("images", [])}
    used = {c.get("image") for pod in manifests.pods() for c in pod.containers()}
    if used - images:
        problems.append(f"images without a registry entry in the kustomization: {used - images}")
    return problems


def scrape_problems(manifests: Manifests) -> list[str]:
    config_map = manifests.named("ConfigMap", "prometheus-scrape")
    if config_map is None:
        return ["no prometheus-scrape ConfigMap"]
    problems = []
    for key, scrape in config_map["data"].items():
        jobs = yaml.safe_load(scrape).get("scrape_configs", [])
        for job in jobs:
            discovery = job.get("kubernetes_sd_configs", [])
            roles = {
                (d.get("role"), tuple(d.get("namespaces", {}).get("names", []))) for d in discovery
            }
            if roles != {("pod", (NAMESPACE,))}:
                problems.append(f"{key}: job {job.get('job_name')} discovers {roles}")
            keeps = [
                rule
                for rule in job.get("relabel_configs", [])
                if rule.get("action") == "keep"
                and rule.get("source_labels")
                == ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
            ]
            if not keeps:
                problems.append(f"{key}: job {job.get('job_name')} ignores prometheus.io/scrape")
        if not jobs:
            problems.append(f"{key}: no scrape job")
    return problems


CHECKS: dict[str, Callable[[Manifests], list[str]]] = {
    "probes": probe_problems,
    "resources": resource_problems,
    "security": security_problems,
    "secrets": secret_problems,
    "exposure": exposure_problems,
    "services": service_problems,
    "settings": setting_problems,
    "urls": url_problems,
    "autoscaling": autoscaling_problems,
    "migrations": migration_problems,
    "runs": run_problems,
    "model volume": model_volume_problems,
    "layout": layout_problems,
    "scrape": scrape_problems,
}


@pytest.fixture(scope="module")
def manifests() -> Manifests:
    return load(K8S)


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_manifests_hold(manifests: Manifests, check: str) -> None:
    assert CHECKS[check](manifests) == []


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_every_pod_starts_with_valid_production_settings(
    manifests: Manifests, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settings class accepts what each pod of the service is given (the example
    Secrets standing in for the real ones) and refuses nothing in production mode."""
    pods = [pod for pod in manifests.pods() if pod.service == service]
    assert pods
    for pod in pods:
        env = environment_of(manifests, main_container(pod))
        with monkeypatch.context() as patch:
            for key in variables(service):
                patch.delenv(key, raising=False)
            for key, value in env.items():
                patch.setenv(key, value)
            settings = SETTINGS[service]()
        assert settings.environment is Environment.production
        assert settings.port == default_port(service)
        assert settings.resolved_database_url().startswith("postgresql://")
        assert settings.host == ALL_INTERFACES


# --- the checks can fail -----------------------------------------------------------------

Documents = list[dict[str, Any]]


def _deployment(documents: Documents, name: str) -> dict[str, Any]:
    return next(d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == name)


def _container(documents: Documents, name: str) -> dict[str, Any]:
    container: dict[str, Any] = _deployment(documents, name)["spec"]["template"]["spec"][
        "containers"
    ][0]
    return container


def _drop_readiness(documents: Documents) -> None:
    del _container(documents, "orders")["readinessProbe"]


def _liveness_on_ready(documents: Documents) -> None:
    _container(documents, "customer")["livenessProbe"]["httpGet"]["path"] = "/ready"


def _foreign_secret(documents: Documents) -> None:
    _container(documents, "gateway")["envFrom"].append({"secretRef": {"name": "customer-secrets"}})


def _foreign_database_key(documents: Documents) -> None:
    _container(documents, "analytics")["env"] = [
        {
            "name": "ANALYTICS_DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "orders-secrets", "key": "ORDERS_DATABASE_URL"}},
        }
    ]


def _public_service(documents: Documents) -> None:
    service = next(d for d in documents if d["kind"] == "Service")
    service["spec"]["type"] = "LoadBalancer"


def _unknown_setting(documents: Documents) -> None:
    config = next(d for d in documents if d["kind"] == "ConfigMap")
    config["data"]["ORDERS_CUSTOMER_ADDRESS"] = "http://customer:8001"


def _no_cpu_limit(documents: Documents) -> None:
    del _container(documents, "recommend")["resources"]["limits"]["cpu"]


def _root_user(documents: Documents) -> None:
    del _deployment(documents, "analytics")["spec"]["template"]["spec"]["securityContext"][
        "runAsNonRoot"
    ]


def _wrong_port(documents: Documents) -> None:
    _container(documents, "customer")["ports"][0]["containerPort"] = 8000


def _no_gateway_autoscaler(documents: Documents) -> None:
    documents[:] = [d for d in documents if d["kind"] != "HorizontalPodAutoscaler"]


def _serving_trains(documents: Documents) -> None:
    config = next(d for d in documents if d["kind"] == "ConfigMap")
    config["data"]["RECOMMEND_TRAINING_INTERVAL_SECONDS"] = "86400"


def _localhost_sibling(documents: Documents) -> None:
    config = next(d for d in documents if d["kind"] == "ConfigMap")
    del config["data"]["ANALYTICS_ORDERS_URL"]


def _misrouted_sibling(documents: Documents) -> None:
    config = next(d for d in documents if d["kind"] == "ConfigMap")
    config["data"]["GATEWAY_ORDERS_URL"] = "http://customer:8001"


def _ingress_to_orders(documents: Documents) -> None:
    ingress = next(d for d in documents if d["kind"] == "Ingress")
    ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "orders"


def _models_read_write_once(documents: Documents) -> None:
    claim = next(d for d in documents if d["kind"] == "PersistentVolumeClaim")
    claim["spec"]["accessModes"] = ["ReadWriteOnce"]


def _migrates_another_service(documents: Documents) -> None:
    job = next(d for d in documents if d["metadata"]["name"] == "orders-migrations")
    job["spec"]["template"]["spec"]["containers"][0]["command"][2] = "crm_customer.migrations"


def _scrapes_every_namespace(documents: Documents) -> None:
    config = next(d for d in documents if d["kind"] == "ConfigMap")
    scrape = yaml.safe_load(config["data"]["crm.yaml"])
    del scrape["scrape_configs"][0]["kubernetes_sd_configs"][0]["namespaces"]
    config["data"]["crm.yaml"] = yaml.safe_dump(scrape)


def _services_open_to_all(documents: Documents) -> None:
    policy = next(d for d in documents if d["metadata"]["name"] == "crm-internal")
    policy["spec"]["ingress"] = [{}]


# (file, what breaks, the check that must catch it)
BREAKAGES: list[tuple[str, Callable[[Documents], None], str]] = [
    ("orders.yaml", _drop_readiness, "probes"),
    ("customer.yaml", _liveness_on_ready, "probes"),
    ("gateway.yaml", _foreign_secret, "secrets"),
    ("analytics.yaml", _foreign_database_key, "secrets"),
    ("customer.yaml", _public_service, "exposure"),
    ("config.yaml", _unknown_setting, "settings"),
    ("recommend.yaml", _no_cpu_limit, "resources"),
    ("analytics.yaml", _root_user, "security"),
    ("customer.yaml", _wrong_port, "services"),
    ("gateway.yaml", _no_gateway_autoscaler, "autoscaling"),
    ("config.yaml", _serving_trains, "runs"),
    ("config.yaml", _localhost_sibling, "settings"),
    ("config.yaml", _misrouted_sibling, "urls"),
    ("gateway.yaml", _ingress_to_orders, "exposure"),
    ("network-policy.yaml", _services_open_to_all, "exposure"),
    ("recommend.yaml", _models_read_write_once, "model volume"),
    ("migrations.yaml", _migrates_another_service, "migrations"),
    ("prometheus-scrape.yaml", _scrapes_every_namespace, "scrape"),
]


@pytest.mark.parametrize(
    ("file", "breakage", "check"),
    BREAKAGES,
    ids=[breakage.__name__.strip("_") for _, breakage, _ in BREAKAGES],
)
def test_a_broken_copy_is_caught(
    tmp_path: Path, file: str, breakage: Callable[[Documents], None], check: str
) -> None:
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    documents = [doc for doc in yaml.safe_load_all((copy / file).read_text()) if doc]
    breakage(documents)
    (copy / file).write_text(yaml.safe_dump_all(documents, sort_keys=False))
    assert CHECKS[check](load(copy)) != []
    assert CHECKS[check](load(K8S)) == []


def test_a_file_left_out_of_the_kustomization_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    (copy / "extra.yaml").write_text("kind: ConfigMap\nmetadata: {name: extra}\n")
    assert layout_problems(load(copy)) != []


def test_a_script_that_runs_on_import_is_caught() -> None:
    script = "import sys\nfrom crm_shared.settings import Environment\nsys.exit(0)\n"
    assert script_problems(script) != []
    assert script_problems("from crm_shared.settings import NoSuchName\n") != []


def test_the_readme_describes_every_manifest(manifests: Manifests) -> None:
    readme = (K8S / "README.md").read_text()
    assert [name for name in manifests.files if f"`{name}`" not in readme] == []


def test_every_variable_set_is_documented(manifests: Manifests) -> None:
    """The configuration reference (generated from the settings classes) names every
    variable the manifests set."""
    reference = (ROOT / "docs" / "operations.md").read_text()
    named = set(manifests.config())
    named |= {key for secret in manifests.example_secrets for key in secret["stringData"]}
    named |= {
        variable["name"]
        for pod in manifests.pods()
        for container in pod.containers()
        for variable in container.get("env", [])
    }
    assert sorted(name for name in named if f"`{name}`" not in reference) == []


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_the_stack(manifests: Manifests) -> None:
    """`kubectl kustomize` (no cluster needed) builds every listed resource, with the
    images pointed at the registry and no Secret among them."""
    kubectl = shutil.which("kubectl")
    assert kubectl is not None
    built = subprocess.run(  # noqa: S603 - a fixed command on the repository's own files
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120, check=True
    )
    resources = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    expected = sorted((d["kind"], d["metadata"]["name"]) for _, d in manifests.documents())
    assert sorted((d["kind"], d["metadata"]["name"]) for d in resources) == expected
    registry = {
        image["name"]: f"{image['newName']}:{image['newTag']}"
        for image in manifests.kustomization["images"]
    }
    images = [container["image"] for doc in resources for container in _containers_of(doc)]
    assert images
    assert sorted(set(images)) == sorted(set(registry.values()))


def _containers_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    spec = document.get("spec", {})
    if document["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    containers: list[dict[str, Any]] = (
        spec.get("template", {}).get("spec", {}).get("containers", [])
    )
    return containers


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migration_job_brings_a_database_to_head(
    manifests: Manifests, backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The customer migration Job's command, run as the Job runs it, twice (a rerun of the
    Job, or replicas that migrated first, change nothing)."""
    job = next(pod for pod in manifests.pods() if pod.owner == "customer-migrations")
    command = main_container(job)["command"]
    assert command[0] == "python"
    if backend == "sqlite":
        _migrate_twice(command, sqlite_url(tmp_path, "customer"))
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    with fresh_postgres_database(admin_url, "crm_k8s_migrations") as url:
        _migrate_twice(command, url)


def _migrate_twice(command: list[str], database_url: str) -> None:
    env = {"CUSTOMER_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    for _ in range(2):
        subprocess.run(  # noqa: S603 - the Job's own command
            [sys.executable, *command[1:]], env=env, check=True, timeout=300, capture_output=True
        )
    assert asyncio.run(_revisions_and_customers(database_url)) == (1, 0)


async def _revisions_and_customers(database_url: str) -> tuple[int, int]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            revisions = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).all()
            customers = (
                await connection.execute(text("SELECT count(*) FROM customers"))
            ).scalar_one()
    finally:
        await engine.dispose()
    return len(revisions), int(customers)
