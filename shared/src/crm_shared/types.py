"""Validated field types of the wire contract: each one normalises and rejects in one place."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

import pycountry
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

# Lone surrogates (JSON `"\ud800"`) are no text: no database can store them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_EMAIL = re.compile(
    r"^[^@\s\"(),:;<>\[\\\]\ud800-\udfff]{1,64}"
    r"@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.)+[A-Za-z]{2,63}$"
)
_PHONE_NOISE = re.compile(r"[\s().\-/]")
_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_LOCALE = re.compile(r"^([a-z]{2,3})(?:-([a-z]{4}))?(?:-([a-z]{2}|[0-9]{3}))?$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9 _:.\-]{0,63}$")

COUNTRY_CODES = frozenset(country.alpha_2 for country in pycountry.countries)

# ISO 4217 codes of precious metals, bond units, SDRs and testing: no money to price in.
_NOT_MONEY = frozenset("XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XTS XUA XXX".split())
CURRENCY_CODES = frozenset(
    currency.alpha_3 for currency in pycountry.currencies if currency.alpha_3 not in _NOT_MONEY
)
# Decimals of the currencies whose minor unit is not the cent (ISO 4217); pycountry has
# no exponents.
_MINOR_UNIT_DIGITS = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}


# The control characters and the line breaks and tabs, in one pass over the text.
_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def _line_text(value: object) -> object:
    """One line of text: trimmed, NFC-normalised, no control characters or line breaks."""
    if not isinstance(value, str):
        return value  # the str type then reports the wrong type
    value = value.strip()
    if value.isascii():
        # Most skus, names and references: the unprintable ASCII characters are exactly
        # the controls, line breaks and tabs, and ASCII text is NFC already.
        if not value.isprintable():
            raise ValueError("must be one line without control characters")
        return value
    if _NOT_ONE_LINE.search(value):
        raise ValueError("must be one line without control characters")
    return unicodedata.normalize("NFC", value)


def _multiline_text(value: object) -> object:
    """Free text such as a ticket body: line breaks and tabs allowed, other controls not."""
    if not isinstance(value, str):
        return value
    value = value.strip()
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return unicodedata.normalize("NFC", value)


def normalize_email(value: str) -> str:
    value = value.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("is not a valid email address")
    return value


def normalize_phone(value: str) -> str:
    compact = _PHONE_NOISE.sub("", value.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _PHONE.match(compact):
        raise ValueError("is not a valid phone number (6 to 15 digits, optional leading +)")
    return compact


def normalize_country(value: str) -> str:
    code = value.strip().upper()
    if code not in COUNTRY_CODES:
        raise ValueError("is not an ISO 3166-1 alpha-2 country code")
    return code


def normalize_locale(value: str) -> str:
    match = _LOCALE.match(value.strip().replace("_", "-").lower())
    if not match:
        raise ValueError("is not a locale such as `en`, `de-DE` or `zh-Hant-TW`")
    language, script, region = match.groups()
    parts = [language]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    return "-".join(parts)


def normalize_tag(value: str) -> str:
    tag = " ".join(value.strip().lower().split())
    if not _TAG.match(tag):
        raise ValueError(
            "must be 1-64 characters: letters, digits, space, `_ : . -`, starting alphanumeric"
        )
    return tag


def normalize_currency(value: str) -> str:
    code = value.strip().upper()
    if code not in CURRENCY_CODES:
        raise ValueError("is not an ISO 4217 currency code")
    return code


def minor_unit_digits(currency: str) -> int:
    """How many decimals an amount in `currency` has: 2 for most, 0 for JPY, 3 for KWD."""
    return _MINOR_UNIT_DIGITS.get(currency, 2)


_CENT = Decimal("0.01")
_MINOR_UNITS = {code: Decimal(1).scaleb(-digits) for code, digits in _MINOR_UNIT_DIGITS.items()}


def quantize_money(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded (half up, as shops round) to the minor unit of `currency`."""
    return amount.quantize(_MINOR_UNITS.get(currency, _CENT), ROUND_HALF_UP)


def _in_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a timezone, e.g. `2024-05-01T10:00:00Z`")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first representable time
        raise ValueError("is out of range once in UTC") from None


def not_in_future(value: dt.datetime) -> dt.datetime:
    value = _in_utc(value)
    if value > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5):
        raise ValueError("must not be in the future")
    return value


def aware_utc(value: dt.datetime) -> dt.datetime:
    return _in_utc(value)


Email = Annotated[
    str,
    StringConstraints(max_length=254),
    AfterValidator(normalize_email),
    Field(examples=["ada@example.com"]),
]
Phone = Annotated[
    str,
    StringConstraints(max_length=32),
    AfterValidator(normalize_phone),
    Field(examples=["+4930123456"]),
]
CountryCode = Annotated[
    str,
    StringConstraints(min_length=2, max_length=2),
    AfterValidator(normalize_country),
    Field(examples=["DE"]),
]
CurrencyCode = Annotated[
    str,
    StringConstraints(min_length=3, max_length=3),
    AfterValidator(normalize_currency),
    Field(examples=["EUR"]),
]
Locale = Annotated[
    str,
    StringConstraints(max_length=20),
    AfterValidator(normalize_locale),
    Field(examples=["de-DE"]),
]
Tag = Annotated[
    str, StringConstraints(max_length=64), AfterValidator(normalize_tag), Field(examples=["vip"])
]
ShortText = Annotated[
    str, BeforeValidator(_line_text), StringConstraints(min_length=1, max_length=100)
]
LineText = Annotated[
    str, BeforeValidator(_line_text), StringConstraints(min_length=1, max_length=200)
]
ExternalRef = Annotated[
    str,
    BeforeValidator(_line_text),
    StringConstraints(min_length=1, max_length=100),
    Field(examples=["shop-1042"]),
]
# Compared exactly: shops (and the UCI Online Retail data) tell `85123A` from `85123a`.
Sku = Annotated[
    str,
    BeforeValidator(_line_text),
    StringConstraints(min_length=1, max_length=64),
    Field(examples=["KNIFE-CHEF-20"]),
]
LongText = Annotated[
    str, BeforeValidator(_multiline_text), StringConstraints(min_length=1, max_length=20_000)
]
# A non-negative amount of money: a JSON string or number in, a string out. Exact
# (Decimal), and below what the services' Numeric(18, 4) columns hold.
MAX_AMOUNT = Decimal("1e14")
Amount = Annotated[Decimal, Field(ge=0, lt=MAX_AMOUNT, allow_inf_nan=False, examples=["19.99"])]
PastUtcDatetime = Annotated[dt.datetime, AfterValidator(not_in_future)]
UtcDatetime = Annotated[dt.datetime, AfterValidator(aware_utc)]
