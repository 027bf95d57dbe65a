"""Wire schemas of the product catalogue: products, their prices, categories and the import."""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from crm_shared.schemas.customers import ImportErrorPolicy, ImportReport, ImportRowError
from crm_shared.types import (
    Amount,
    CurrencyCode,
    LineText,
    LongText,
    ShortText,
    Sku,
    quantize_money,
)

__all__ = [
    "CategoryPath",
    "ImportErrorPolicy",
    "ImportReport",
    "ImportRowError",
    "ProductCreate",
    "ProductRead",
    "ProductUpdate",
    "normalize_category_path",
]

MAX_CATEGORY_DEPTH = 10
MAX_ATTRIBUTES = 100
MAX_ATTRIBUTES_BYTES = 16 * 1024


def normalize_category_path(value: str) -> str:
    """`" Home / Kitchen  Tools/"` → `"home/kitchen tools"`: root first, one slash between.

    Segments are trimmed, inner whitespace collapsed, lower-cased and NFC-normalised, so
    the same category always has the same path and a prefix finds its whole subtree.
    Empty segments (a leading, trailing or doubled slash) are dropped.
    """
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValueError("must be one line without control characters")
    segments = [" ".join(part.split()).lower() for part in value.split("/")]
    segments = [unicodedata.normalize("NFC", part) for part in segments if part]
    if not segments:
        raise ValueError("must name at least one category, e.g. `home/kitchen`")
    if len(segments) > MAX_CATEGORY_DEPTH:
        raise ValueError(f"must be at most {MAX_CATEGORY_DEPTH} levels deep")
    if any(len(part) > 100 for part in segments):
        raise ValueError("a category name is at most 100 characters")
    path = "/".join(segments)
    if len(path) > 300:
        raise ValueError("must be at most 300 characters")
    return path


def _bounded_attributes(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > MAX_ATTRIBUTES:
        raise ValueError(f"at most {MAX_ATTRIBUTES} attributes")
    if any(not key or len(key) > 100 for key in value):
        raise ValueError("attribute names are 1 to 100 characters")
    try:
        size = len(orjson.dumps(value))
    except TypeError as exc:
        raise ValueError("must be a JSON object") from exc
    if size > MAX_ATTRIBUTES_BYTES:
        raise ValueError(f"must be at most {MAX_ATTRIBUTES_BYTES} bytes as JSON")
    return value


CategoryPath = Annotated[
    str,
    Field(max_length=1000, examples=["home/kitchen/knives"]),
    AfterValidator(normalize_category_path),
]
Attributes = Annotated[
    dict[str, Any],
    AfterValidator(_bounded_attributes),
    Field(examples=[{"blade_cm": 20, "material": "steel"}]),
]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProductCreate(_Input):
    sku: Sku = Field(description="The shop's stock keeping unit; unique, case-sensitive.")
    name: LineText
    description: LongText | None = None
    category_path: CategoryPath | None = Field(
        None,
        description="Slash-separated, root first; stored lower-case with trimmed segments.",
    )
    brand: ShortText | None = None
    price: Amount = Field(description="Rounded half up to the currency's minor unit.")
    currency: CurrencyCode
    active: bool = Field(True, description="Inactive products cannot be ordered.")
    in_stock: bool = True
    attributes: Attributes = Field(
        default_factory=dict, description="Free-form JSON object: at most 100 keys, 16 KiB."
    )

    @model_validator(mode="after")
    def _price_in_minor_units(self) -> ProductCreate:
        self.price = quantize_money(self.price, self.currency)
        return self


class ProductUpdate(_Input):
    """Fields to change; omitted fields stay, `null` clears description, category or brand.

    A new currency comes with a new price; a price alone is in the stored currency.
    """

    sku: Sku | None = None
    name: LineText | None = None
    description: LongText | None = None
    category_path: CategoryPath | None = None
    brand: ShortText | None = None
    price: Amount | None = None
    currency: CurrencyCode | None = None
    active: bool | None = None
    in_stock: bool | None = None
    attributes: Attributes | None = Field(None, description="Replaces the stored attributes.")

    @model_validator(mode="after")
    def _not_empty(self) -> ProductUpdate:
        if not self.model_fields_set:
            raise ValueError("name at least one field to change")
        required = ("sku", "name", "price", "currency", "active", "in_stock", "attributes")
        for name in required:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be cleared")
        if self.currency is not None and self.price is None:
            raise ValueError("a new currency needs a new price")
        return self


class ProductRead(BaseModel):
    id: uuid.UUID
    sku: str
    name: str
    description: str | None
    category_path: str | None
    brand: str | None
    price: Amount
    currency: str
    active: bool
    in_stock: bool
    attributes: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
