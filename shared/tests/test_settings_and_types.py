"""Settings, ids, cursors and the validated field types of the contract."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, TypeAdapter, ValidationError

from crm_shared.errors import InvalidCursor
from crm_shared.ids import uuid7
from crm_shared.pagination import decode_cursor, encode_cursor, uuid_after
from crm_shared.settings import Environment, ServiceSettings
from crm_shared.types import (
    CountryCode,
    Email,
    LineText,
    Locale,
    LongText,
    PastUtcDatetime,
    Phone,
    Tag,
    UtcDatetime,
)


def test_production_refuses_the_default_service_token() -> None:
    with pytest.raises(ValidationError, match="service_token"):
        ServiceSettings(environment=Environment.production)
    settings = ServiceSettings(
        environment=Environment.production, service_token=SecretStr("a-real-secret")
    )
    assert settings.environment is Environment.production


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    class ExampleSettings(ServiceSettings):
        model_config = {**ServiceSettings.model_config, "env_prefix": "EXAMPLE_"}
        service_name = "example"

    monkeypatch.setenv("EXAMPLE_PORT", "9123")
    monkeypatch.setenv("EXAMPLE_DATABASE_URL", "postgresql://db/example")
    settings = ExampleSettings()
    assert settings.port == 9123
    assert settings.resolved_database_url() == "postgresql://db/example"
    monkeypatch.delenv("EXAMPLE_DATABASE_URL")
    assert ExampleSettings().resolved_database_url() == "sqlite:///var/example.db"


def test_uuid7_is_time_ordered_and_version_7() -> None:
    ids = [uuid7() for _ in range(10_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {7}
    assert {i.variant for i in ids} == {"specified in RFC 4122"}


def test_cursors_round_trip_and_refuse_foreign_ones() -> None:
    assert decode_cursor(encode_cursor(["b", 3]), 2) == ["b", 3]
    token = uuid7()
    assert uuid_after(encode_cursor([str(token)])) == token
    assert uuid_after(None) is None
    for bad in ("", "%%%", encode_cursor([1, 2]), encode_cursor(["not-a-uuid"])):
        with pytest.raises(InvalidCursor):
            uuid_after(bad)


@pytest.mark.parametrize(
    ("kind", "given", "stored"),
    [
        (Email, " Ada@Example.COM ", "ada@example.com"),
        (Phone, "+49 (30) 123-4567", "+49301234567"),
        (Phone, "0049 30 1234567", "+49301234567"),
        (CountryCode, "de", "DE"),
        (Locale, "pt_br", "pt-BR"),
        (Locale, "zh-hant-tw", "zh-Hant-TW"),
        (Tag, "  Gift   Buyer ", "gift buyer"),
    ],
)
def test_fields_are_normalised(kind: object, given: str, stored: str) -> None:
    assert TypeAdapter(kind).validate_python(given) == stored


@pytest.mark.parametrize(
    ("kind", "given"),
    [
        (Email, "no-at-sign"),
        (Email, "a@b"),
        (Email, "two@@example.com"),
        (Email, "x" * 65 + "@example.com"),
        (Phone, "12345"),
        (Phone, "call me"),
        (CountryCode, "XX"),
        (CountryCode, "DEU"),
        (Locale, "english"),
        (Tag, "-dash"),
        (Tag, "x" * 65),
        (Tag, "semi;colon"),
        # A lone surrogate (JSON "\ud800") is no text any database can store.
        (Email, "a\ud800@example.com"),
        (LineText, "Ada \udfff"),
        (LongText, "It broke.\n\ud800"),
        (LineText, "Ada\x00Lovelace"),
        # Before the first representable time once in UTC.
        (PastUtcDatetime, "0001-01-01T00:00:01+01:01"),
        (UtcDatetime, "0001-01-01T00:00:00+00:01"),
    ],
)
def test_invalid_fields_are_refused(kind: object, given: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(kind).validate_python(given)
