"""What `crm run` gives each process: its own database under var/, the stack's token and
port, and where every sibling listens (moved ports included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_cli.stack import SERVICES, service_environment

TOKEN = "stack-token"
BOOTSTRAP = "b" * 40


@pytest.fixture
def moved(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    ports = {"customer": 9101, "orders": 9102, "analytics": 9103, "recommend": 9104}
    for name, port in {**ports, "gateway": 9100}.items():
        monkeypatch.setenv(f"{name.upper()}_PORT", str(port))
    return ports


def _environment(name: str, var: Path) -> dict[str, str]:
    service = next(service for service in SERVICES if service.name == name)
    return service_environment(service, SERVICES, var, TOKEN, BOOTSTRAP)


def test_every_service_runs_and_the_gateway_starts_last() -> None:
    assert [service.name for service in SERVICES] == [
        "customer",
        "orders",
        "analytics",
        "recommend",
        "gateway",
    ]


def test_the_gateway_knows_every_upstream_and_requires_them(
    moved: dict[str, int], tmp_path: Path
) -> None:
    environment = _environment("gateway", tmp_path)
    for name, port in moved.items():
        assert environment[f"GATEWAY_{name.upper()}_URL"] == f"http://127.0.0.1:{port}"
    assert environment["GATEWAY_REQUIRED_UPSTREAMS"] == "customer,orders,analytics,recommend"
    assert environment["GATEWAY_BOOTSTRAP_ADMIN_KEY"] == BOOTSTRAP
    assert environment["GATEWAY_PORT"] == "9100"
    assert environment["GATEWAY_DATABASE_URL"] == f"sqlite:///{tmp_path / 'gateway.db'}"


@pytest.mark.parametrize("name", ["customer", "orders", "analytics", "recommend"])
def test_services_find_their_siblings_where_they_were_moved(
    name: str, moved: dict[str, int], tmp_path: Path
) -> None:
    environment = _environment(name, tmp_path)
    prefix = f"{name.upper()}_"
    assert environment[f"{prefix}PORT"] == str(moved[name])
    assert environment[f"{prefix}SERVICE_TOKEN"] == TOKEN
    assert environment[f"{prefix}DATABASE_URL"] == f"sqlite:///{tmp_path / name}.db"
    for other, port in moved.items():
        if other != name:
            assert environment[f"{prefix}{other.upper()}_URL"] == f"http://127.0.0.1:{port}"
    assert f"{prefix}GATEWAY_URL" not in environment


def test_models_live_under_var_and_the_operator_has_the_last_word(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert _environment("recommend", tmp_path)["RECOMMEND_MODEL_DIR"] == str(
        tmp_path / "recommend-models"
    )
    monkeypatch.setenv("ORDERS_DATABASE_URL", "postgresql://orders@db/orders")
    monkeypatch.setenv("ORDERS_SERVICE_TOKEN", "not-the-stacks")
    environment = _environment("orders", tmp_path)
    assert environment["ORDERS_DATABASE_URL"] == "postgresql://orders@db/orders"
    assert environment["ORDERS_SERVICE_TOKEN"] == TOKEN, "the stack's token always"
