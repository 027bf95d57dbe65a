"""The rule language on its own: what parses, what is refused and where, what SQL it makes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from crm_analytics.segments.errors import InvalidRule
from crm_analytics.segments.repository import RULE_COLUMNS
from crm_analytics.segments.rules import All, Any_, Comparison, Not, compile_rule, parse_rule


def test_precedence_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    tree = parse_rule('not clv > 100 and country = "DE" or frequency >= 3')
    assert tree == Any_(
        (
            All(
                (
                    Not(Comparison("clv", ">", 100, 4)),
                    Comparison("country", "=", "DE", 18),
                )
            ),
            Comparison("frequency", ">=", 3, 36),
        )
    )


def test_lists_keywords_strings_and_dates() -> None:
    rule = (
        'rfm_segment IN [\'At Risk\', "Can\'t Lose Them"] AND (tags contains "vip" '
        'OR created_at < "2024-01-31") and consent_email = true and city != null'
    )
    tree = parse_rule(rule)
    assert isinstance(tree, All)
    first, second, third, fourth = tree.items
    assert first == Comparison("rfm_segment", "in", ("At Risk", "Can't Lose Them"), 0)
    assert isinstance(second, Any_)
    assert second.items[1] == Comparison(
        "created_at", "<", dt.datetime(2024, 1, 31, tzinfo=dt.UTC), rule.index("created_at")
    )
    assert third == Comparison("consent_email", "=", True, rule.index("consent_email"))
    assert fourth == Comparison("city", "!=", None, rule.index("city"))


def test_escaped_quotes_stay_inside_the_value() -> None:
    rule = r'city = "O\"Brien\\" and country not in ["DE", "AT"]'
    tree = parse_rule(rule)
    assert isinstance(tree, All)
    assert tree.items[0] == Comparison("city", "=", 'O"Brien\\', 0)
    assert tree.items[1] == Comparison("country", "not in", ("DE", "AT"), rule.index("country"))


@pytest.mark.parametrize(
    ("rule", "position", "fragment"),
    [
        ("", 0, "empty"),
        ("clv >", 5, "expected a value"),
        ("clv > 100 and", 13, "expected a field name"),
        ("revenue > 3", 0, "unknown field 'revenue'"),
        ('country > "DE"', 8, "does not apply to country"),
        ('clv > "a lot"', 6, "takes a number"),
        ('value_tier = "gold"', 13, "'gold' is not a value_tier"),
        ("rfm_segment in []", 16, "the list is empty"),
        ('country = "DE', 10, "string is not closed"),
        ("(clv > 1", 8, "expected `)`"),
        ('clv > 1 country = "DE"', 8, "expected `and`, `or`"),
        ("clv ~ 1", 4, "unexpected character"),
        ("country = DE", 10, "quote text values"),
        ('tags = "vip"', 5, "does not apply to tags"),
        ('created_at > "yesterday"', 13, "takes a date"),
        ("consent_sms = 1", 14, "takes true or false"),
        ("clv > null", 6, "cannot compare with null"),
        ('country in ["DE", null]', 18, "null cannot be in a list"),
    ],
)
def test_invalid_rules_say_what_is_wrong_and_where(rule: str, position: int, fragment: str) -> None:
    with pytest.raises(InvalidRule) as raised:
        parse_rule(rule)
    assert raised.value.position == position
    assert fragment in raised.value.message


def test_deep_or_long_rules_are_refused() -> None:
    with pytest.raises(InvalidRule, match="nested"):
        parse_rule("(" * 30 + "clv > 1" + ")" * 30)
    with pytest.raises(InvalidRule, match="comparisons"):
        parse_rule(" or ".join(["clv > 1"] * 60))


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_values_compile_to_bound_parameters_never_to_sql_text(dialect: object) -> None:
    hostile = "DE'; DROP TABLE customers; --"
    tree = parse_rule(f'country = "{hostile}" or tags contains "x\\" OR 1=1"')
    compiled = compile_rule(tree, RULE_COLUMNS).compile(dialect=dialect)  # type: ignore[arg-type]
    assert "DROP" not in str(compiled)
    assert "1=1" not in str(compiled)
    assert hostile in compiled.params.values()
    assert 'x" OR 1=1' in compiled.params.values()
