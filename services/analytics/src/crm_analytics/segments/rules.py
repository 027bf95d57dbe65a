"""The segment rule language: a tokenizer, a recursive-descent parser and a compiler to SQL.

    rule       := or
    or         := and ("or" and)*
    and        := unary ("and" unary)*
    unary      := "not" unary | "(" rule ")" | comparison
    comparison := FIELD ("=" | "!=" | "<" | "<=" | ">" | ">=") value
                | FIELD ["not"] "in" list
                | FIELD "contains" STRING
    value      := STRING | NUMBER | "true" | "false" | "null"
    list       := "[" [value ("," value)*] "]"

A rule never becomes text of a query: it parses to a tree whose values are checked
against their field's type, and the tree compiles to SQLAlchemy expressions with every
value a bound parameter. A comparison on a customer who lacks the attribute is false
(and its negation true): the compiled SQL never yields NULL.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select, true
from sqlalchemy.sql.expression import ColumnElement as Column

from crm_analytics.segments.errors import InvalidRule

MAX_COMPARISONS = 50
MAX_DEPTH = 20
MAX_LIST = 200

RFM_SEGMENTS = (
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New Customers",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
)
VALUE_TIERS = ("high", "medium", "low")
LIFECYCLE_STAGES = ("new", "active", "at_risk", "churned")
CHURN_RISKS = ("high", "medium", "low")


class FieldType(Enum):
    number = "number"
    integer = "integer"
    text = "text"
    choice = "choice"
    boolean = "boolean"
    timestamp = "timestamp"
    tags = "tags"


@dataclass(frozen=True)
class FieldSpec:
    type: FieldType
    choices: tuple[str, ...] = ()


FIELDS: dict[str, FieldSpec] = {
    "recency_days": FieldSpec(FieldType.integer),
    "frequency": FieldSpec(FieldType.integer),
    "monetary": FieldSpec(FieldType.number),
    "quantity": FieldSpec(FieldType.integer),
    "r_score": FieldSpec(FieldType.integer),
    "f_score": FieldSpec(FieldType.integer),
    "m_score": FieldSpec(FieldType.integer),
    "rfm_segment": FieldSpec(FieldType.choice, RFM_SEGMENTS),
    "value_score": FieldSpec(FieldType.number),
    "simple_value": FieldSpec(FieldType.number),
    "expected_purchases": FieldSpec(FieldType.number),
    "probability_alive": FieldSpec(FieldType.number),
    "expected_order_value": FieldSpec(FieldType.number),
    "clv": FieldSpec(FieldType.number),
    "dcf_clv": FieldSpec(FieldType.number),
    "value_tier": FieldSpec(FieldType.choice, VALUE_TIERS),
    "lifecycle_stage": FieldSpec(FieldType.choice, LIFECYCLE_STAGES),
    "cluster_id": FieldSpec(FieldType.integer),
    "cluster_label": FieldSpec(FieldType.text),
    "churn_probability": FieldSpec(FieldType.number),
    "churn_risk": FieldSpec(FieldType.choice, CHURN_RISKS),
    "forecast_spend": FieldSpec(FieldType.number),
    "referrals_direct": FieldSpec(FieldType.integer),
    "referrals_downstream": FieldSpec(FieldType.integer),
    "referral_revenue": FieldSpec(FieldType.number),
    "referral_influence": FieldSpec(FieldType.number),
    "first_purchase_at": FieldSpec(FieldType.timestamp),
    "last_purchase_at": FieldSpec(FieldType.timestamp),
    "country": FieldSpec(FieldType.text),
    "city": FieldSpec(FieldType.text),
    "locale": FieldSpec(FieldType.text),
    "created_at": FieldSpec(FieldType.timestamp),
    "consent_email": FieldSpec(FieldType.boolean),
    "consent_sms": FieldSpec(FieldType.boolean),
    "tags": FieldSpec(FieldType.tags),
}

_ORDERED = ("<", "<=", ">", ">=")
_OPERATORS: dict[FieldType, frozenset[str]] = {
    FieldType.number: frozenset({"=", "!=", *_ORDERED, "in", "not in"}),
    FieldType.integer: frozenset({"=", "!=", *_ORDERED, "in", "not in"}),
    FieldType.timestamp: frozenset({"=", "!=", *_ORDERED}),
    FieldType.text: frozenset({"=", "!=", "in", "not in"}),
    FieldType.choice: frozenset({"=", "!=", "in", "not in"}),
    FieldType.boolean: frozenset({"=", "!="}),
    FieldType.tags: frozenset({"contains"}),
}

Value = str | int | float | bool | dt.datetime | None


# --- the tree -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    field: str
    operator: str
    value: Value | tuple[Value, ...]
    position: int


@dataclass(frozen=True)
class All:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Any_:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Comparison | All | Any_ | Not


# --- tokens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # name, string, number, op, punct, end
    text: str
    value: Any
    position: int


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>!=|<=|>=|==|=|<|>)
  | (?P<punct>[()\[\],])
  | (?P<quote>["'])
    """,
    re.VERBOSE,
)
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}


def tokenize(rule: str) -> list[Token]:
    tokens: list[Token] = []
    index = 0
    while index < len(rule):
        match = _TOKEN.match(rule, index)
        if match is None:
            raise InvalidRule(f"unexpected character {rule[index]!r}", index)
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "quote":
            value, end = _string(rule, index)
            tokens.append(Token("string", rule[index:end], value, index))
            index = end
            continue
        if kind == "number":
            number: int | float = float(text) if any(c in text for c in ".eE") else int(text)
            tokens.append(Token("number", text, number, index))
        elif kind == "op":
            tokens.append(Token("op", "=" if text == "==" else text, None, index))
        elif kind in ("name", "punct"):
            tokens.append(Token(kind, text, None, index))
        index = match.end()
    tokens.append(Token("end", "", None, len(rule)))
    return tokens


def _string(rule: str, start: int) -> tuple[str, int]:
    quote = rule[start]
    chars: list[str] = []
    index = start + 1
    while index < len(rule):
        char = rule[index]
        if char == "\\":
            escaped = rule[index + 1 : index + 2]
            if escaped not in _ESCAPES:
                raise InvalidRule("unknown escape in string; use \\\\, \\\", \\' ", index)
            chars.append(_ESCAPES[escaped])
            index += 2
            continue
        if char == quote:
            return "".join(chars), index + 1
        chars.append(char)
        index += 1
    raise InvalidRule("string is not closed", start)


# --- parser -------------------------------------------------------------------------------


class _Parser:
    def __init__(self, rule: str) -> None:
        self.tokens = tokenize(rule)
        self.index = 0
        self.comparisons = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def _keyword(self, word: str) -> bool:
        token = self.token
        return token.kind == "name" and token.text.lower() == word

    def _advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def _expect(self, text: str, what: str) -> Token:
        if self.token.text != text:
            raise InvalidRule(
                f"expected {what}, found {_describe(self.token)}", self.token.position
            )
        return self._advance()

    def parse(self) -> Node:
        node = self._or(0)
        if self.token.kind != "end":
            raise InvalidRule(
                f"expected `and`, `or` or the end of the rule, found {_describe(self.token)}",
                self.token.position,
            )
        return node

    def _or(self, depth: int) -> Node:
        items = [self._and(depth)]
        while self._keyword("or"):
            self._advance()
            items.append(self._and(depth))
        return items[0] if len(items) == 1 else Any_(tuple(items))

    def _and(self, depth: int) -> Node:
        items = [self._unary(depth)]
        while self._keyword("and"):
            self._advance()
            items.append(self._unary(depth))
        return items[0] if len(items) == 1 else All(tuple(items))

    def _unary(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise InvalidRule(f"nested more than {MAX_DEPTH} levels deep", self.token.position)
        if self._keyword("not"):
            self._advance()
            return Not(self._unary(depth + 1))
        if self.token.text == "(" and self.token.kind == "punct":
            self._advance()
            node = self._or(depth + 1)
            self._expect(")", "`)`")
            return node
        return self._comparison()

    def _comparison(self) -> Comparison:
        start = self.token
        if start.kind != "name" or start.text.lower() in ("and", "or", "not", "in"):
            raise InvalidRule(f"expected a field name, found {_describe(start)}", start.position)
        spec = FIELDS.get(start.text)
        if spec is None:
            raise InvalidRule(
                f"unknown field {start.text!r}; fields: {', '.join(sorted(FIELDS))}",
                start.position,
            )
        self._advance()
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise InvalidRule(f"more than {MAX_COMPARISONS} comparisons", start.position)
        operator_token = self.token
        operator = self._operator()
        if operator not in _OPERATORS[spec.type]:
            allowed = ", ".join(sorted(_OPERATORS[spec.type]))
            raise InvalidRule(
                f"`{operator}` does not apply to {start.text} ({spec.type.value}); "
                f"use one of: {allowed}",
                operator_token.position,
            )
        if operator in ("in", "not in"):
            values = self._list()
            checked = tuple(_check(start.text, spec, token) for token in values)
            for token, item in zip(values, checked, strict=True):
                if item is None:
                    raise InvalidRule("null cannot be in a list; use `= null`", token.position)
            return Comparison(start.text, operator, checked, start.position)
        value_token = self._advance()
        if value_token.kind not in ("string", "number", "name"):
            raise InvalidRule(
                f"expected a value, found {_describe(value_token)}", value_token.position
            )
        value = _check(start.text, spec, value_token)
        if value is None and operator not in ("=", "!="):
            raise InvalidRule(f"`{operator}` cannot compare with null", value_token.position)
        return Comparison(start.text, operator, value, start.position)

    def _operator(self) -> str:
        token = self.token
        if token.kind == "op":
            self._advance()
            return token.text
        if self._keyword("in") or self._keyword("contains"):
            self._advance()
            return token.text.lower()
        if self._keyword("not"):
            self._advance()
            if self._keyword("in"):
                self._advance()
                return "not in"
        raise InvalidRule(
            f"expected an operator (=, !=, <, <=, >, >=, in, not in, contains), found "
            f"{_describe(token)}",
            token.position,
        )

    def _list(self) -> list[Token]:
        self._expect("[", "`[` starting a list")
        values: list[Token] = []
        if self.token.text == "]":
            raise InvalidRule("the list is empty", self.token.position)
        while True:
            token = self._advance()
            if token.kind not in ("string", "number", "name"):
                raise InvalidRule(f"expected a value, found {_describe(token)}", token.position)
            values.append(token)
            if len(values) > MAX_LIST:
                raise InvalidRule(f"a list holds at most {MAX_LIST} values", token.position)
            if self.token.text == ",":
                self._advance()
                continue
            self._expect("]", "`,` or `]`")
            return values


def _describe(token: Token) -> str:
    return "the end of the rule" if token.kind == "end" else f"`{token.text}`"


def _check(field: str, spec: FieldSpec, token: Token) -> Value:
    """The token's value as the field's type, or `InvalidRule` at the token."""
    if token.kind == "name":
        word = token.text.lower()
        if word == "null":
            return None
        if word in ("true", "false"):
            if spec.type is not FieldType.boolean:
                raise InvalidRule(f"{field} is not a boolean", token.position)
            return word == "true"
        raise InvalidRule(
            f"expected a value, found `{token.text}` (quote text values)", token.position
        )
    kind = spec.type
    if kind is FieldType.boolean:
        raise InvalidRule(f"{field} takes true or false", token.position)
    if kind in (FieldType.number, FieldType.integer):
        if token.kind != "number":
            raise InvalidRule(f"{field} takes a number", token.position)
        return token.value  # type: ignore[no-any-return]
    if token.kind != "string":
        raise InvalidRule(f"{field} takes a quoted text value", token.position)
    text: str = token.value
    if kind is FieldType.timestamp:
        return _timestamp(field, text, token.position)
    if kind is FieldType.choice and text not in spec.choices:
        raise InvalidRule(
            f"{text!r} is not a {field}; one of: {', '.join(spec.choices)}", token.position
        )
    return text


def _timestamp(field: str, text: str, position: int) -> dt.datetime:
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRule(
            f"{field} takes a date (2024-12-31) or a time with an offset", position
        ) from None
    if moment.tzinfo is None:
        raise InvalidRule(f"{field} needs a UTC offset on a time, e.g. `Z`", position)
    return moment.astimezone(dt.UTC)


def parse_rule(rule: str) -> Node:
    """The rule's tree; `InvalidRule` (422, with the position) when it is not valid."""
    if not rule.strip():
        raise InvalidRule("the rule is empty", 0)
    return _Parser(rule).parse()


# --- compiler -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """Where the compiler finds each field: columns of the scores and customers tables,
    and a tag lookup for `tags contains`."""

    fields: Mapping[str, Column[Any]]
    customer_id: Column[Any]
    tag_customer: Column[Any]
    tag: Column[Any]


def compile_rule(node: Node, columns: Columns) -> ColumnElement[bool]:
    if isinstance(node, All):
        return and_(*(compile_rule(item, columns) for item in node.items))
    if isinstance(node, Any_):
        return or_(*(compile_rule(item, columns) for item in node.items))
    if isinstance(node, Not):
        return not_(compile_rule(node.item, columns))
    return _comparison(node, columns)


def _comparison(node: Comparison, columns: Columns) -> ColumnElement[bool]:
    if node.operator == "contains":
        return exists(
            select(true()).where(
                columns.tag_customer == columns.customer_id, columns.tag == node.value
            )
        )
    column = columns.fields[node.field]
    operator = node.operator
    value = node.value
    if value is None:
        return column.is_(None) if operator == "=" else column.is_not(None)
    present = column.is_not(None)
    if operator in ("in", "not in"):
        values = value if isinstance(value, tuple) else (value,)
        if operator == "in":
            return and_(present, column.in_(values))
        return or_(column.is_(None), column.not_in(values))
    if operator == "!=":
        return or_(column.is_(None), column != value)
    compared = {
        "=": column == value,
        "<": column < value,
        "<=": column <= value,
        ">": column > value,
        ">=": column >= value,
    }[operator]
    return and_(present, compared)


def referenced_fields(node: Node) -> set[str]:
    if isinstance(node, All | Any_):
        return set().union(*(referenced_fields(item) for item in node.items))
    if isinstance(node, Not):
        return referenced_fields(node.item)
    return {node.field}
