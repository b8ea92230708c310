"""Bad input: exit 2, ONE stderr line naming the field, nothing written, nothing emitted."""

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from event_tasks_common import BadInput, identifier, read_trigger_event, run, text
from event_tasks_common.trigger import MAX_DEPTH

from .saga_world import World

ORDER = "event-tasks.order"
CUSTOMER = "event-tasks.customer"

# The event each event-triggered use case expects: (detail-type, source, valid detail).
VALID = {
    "order.place": (
        "PlaceOrderRequested",
        "event-tasks.api",
        {"orderId": "o-2", "customerId": "c-1", "total": 5},
    ),
    "customer.reserve_credit": ("OrderCreated", ORDER, {"orderId": "o-1", "customerId": "c-1", "total": 60}),
    "order.approve": ("CreditReserved", CUSTOMER, {"orderId": "o-1", "customerId": "c-1", "amount": 60}),
    "order.reject": (
        "CreditLimitExceeded",
        CUSTOMER,
        {"orderId": "o-1", "customerId": "c-1", "amount": 60, "availableCredit": 40},
    ),
    "customer.release_credit": (
        "OrderCancelled",
        ORDER,
        {"orderId": "o-1", "customerId": "c-1", "total": 60},
    ),
}
AMOUNT_FIELD = {
    "order.place": "total",
    "customer.reserve_credit": "total",
    "order.approve": "amount",
    "order.reject": "amount",
    "customer.release_credit": "total",
}


def trigger_env(use_case: str, **overrides: str) -> dict[str, str]:
    detail_type, source, detail = VALID[use_case]
    env = {
        "eventDetail": json.dumps(detail),
        "eventId": "e-bad",
        "eventDetailType": detail_type,
        "eventSource": source,
    }
    env.update(overrides)
    return env


def with_detail(use_case: str, **changes: object) -> str:
    detail = dict(VALID[use_case][2])
    for name, value in changes.items():
        if value is ...:
            del detail[name]
        else:
            detail[name] = value
    return json.dumps(detail)


@pytest.fixture(scope="module")
def seeded(module_world: World) -> World:
    """c-1 (limit 100) and o-1 (60, PENDING), events drained: the state bad input must not touch.

    Shared by the whole module (fast): every test asserts it changed nothing.
    """
    world = module_world
    assert world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "100"]).code == 0
    assert world.run("order.place", ["--order-id", "o-1", "--customer-id", "c-1", "--total", "60"]).code == 0
    world.emitted("customer")
    world.emitted("order")
    return world


def assert_refused(world: World, use_case: str, field: str, *, argv=None, env=None) -> str:
    before = {service: world.items(service) for service in ("order", "customer")}
    result = world.run(use_case, argv, env=env)
    assert result.code == 2, result
    lines = result.err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"bad input: {field}:"), lines[0]
    # A hostile value is shown escaped: the line cannot hide, recolour or forge log text.
    assert lines[0].isprintable(), lines[0]
    assert result.out == ""
    assert {service: world.items(service) for service in ("order", "customer")} == before
    assert world.emitted("order") == []
    assert world.emitted("customer") == []
    return lines[0]


EVENT_USE_CASES = list(VALID)


@pytest.mark.parametrize("use_case", EVENT_USE_CASES)
def test_missing_event_detail(seeded: World, use_case: str) -> None:
    # GIVEN the trigger env without eventDetail
    env = trigger_env(use_case)
    del env["eventDetail"]
    # WHEN / THEN the use case refuses, naming eventDetail
    assert_refused(seeded, use_case, "eventDetail", env=env)


@pytest.mark.parametrize("use_case", EVENT_USE_CASES)
def test_event_detail_not_json(seeded: World, use_case: str) -> None:
    # GIVEN an eventDetail that is not JSON
    env = trigger_env(use_case, eventDetail="{orderId: o-1")
    # WHEN / THEN refused, naming eventDetail
    assert_refused(seeded, use_case, "eventDetail", env=env)


@pytest.mark.parametrize("use_case", EVENT_USE_CASES)
def test_event_detail_not_an_object(seeded: World, use_case: str) -> None:
    # GIVEN an eventDetail that is JSON but a list
    env = trigger_env(use_case, eventDetail="[1, 2]")
    # WHEN / THEN refused, naming eventDetail
    assert_refused(seeded, use_case, "eventDetail", env=env)


@pytest.mark.parametrize("use_case", EVENT_USE_CASES)
@pytest.mark.parametrize("field", ["orderId", "customerId", "amount"])
def test_missing_field(seeded: World, use_case: str, field: str) -> None:
    # GIVEN a detail without one required field
    name = AMOUNT_FIELD[use_case] if field == "amount" else field
    env = trigger_env(use_case, eventDetail=with_detail(use_case, **{name: ...}))
    # WHEN / THEN refused, naming eventDetail.<field>
    assert_refused(seeded, use_case, f"eventDetail.{name}", env=env)


@pytest.mark.parametrize("use_case", EVENT_USE_CASES)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("orderId", 17),
        ("customerId", ""),
        ("customerId", "c 1"),
        ("amount", "60"),
        ("amount", 60.5),
        ("amount", True),
        ("amount", -60),
        ("amount", 0),
    ],
    ids=[
        "orderId-int",
        "customerId-empty",
        "customerId-space",
        "amount-string",
        "amount-float",
        "amount-bool",
        "amount-negative",
        "amount-zero",
    ],
)
def test_mistyped_field(seeded: World, use_case: str, field: str, value: object) -> None:
    # GIVEN a detail with one field of the wrong type or out of range
    name = AMOUNT_FIELD[use_case] if field == "amount" else field
    env = trigger_env(use_case, eventDetail=with_detail(use_case, **{name: value}))
    # WHEN / THEN refused, naming eventDetail.<field>
    assert_refused(seeded, use_case, f"eventDetail.{name}", env=env)


@pytest.mark.parametrize("use_case", EVENT_USE_CASES)
@pytest.mark.parametrize("variable", ["eventId", "eventDetailType", "eventSource"])
def test_missing_event_metadata(seeded: World, use_case: str, variable: str) -> None:
    # GIVEN the trigger env without one of eventId / eventDetailType / eventSource
    env = trigger_env(use_case)
    del env[variable]
    # WHEN / THEN refused, naming the variable
    assert_refused(seeded, use_case, variable, env=env)


@pytest.mark.parametrize("use_case", [u for u in EVENT_USE_CASES if u != "order.place"])
def test_event_from_the_wrong_source_or_of_the_wrong_type(seeded: World, use_case: str) -> None:
    # GIVEN an event of the right type from a foreign source, and one of another type
    # WHEN / THEN both are refused, naming eventSource / eventDetailType
    assert_refused(seeded, use_case, "eventSource", env=trigger_env(use_case, eventSource="event-tasks.evil"))
    assert_refused(seeded, use_case, "eventDetailType", env=trigger_env(use_case, eventDetailType="Other"))


def test_customer_validation_failed_without_reason(seeded: World) -> None:
    # GIVEN CustomerValidationFailed lacking its reason
    env = {
        "eventDetail": json.dumps({"orderId": "o-1", "customerId": "c-1"}),
        "eventId": "e-vf",
        "eventDetailType": "CustomerValidationFailed",
        "eventSource": CUSTOMER,
    }
    # WHEN / THEN order.reject refuses it naming eventDetail.reason
    assert_refused(seeded, "order.reject", "eventDetail.reason", env=env)


@pytest.mark.parametrize(
    ("use_case", "argv", "field"),
    [
        ("order.place", ["--order-id", "o-2", "--customer-id", "c-1", "--total", "-5"], "--total"),
        ("order.place", ["--order-id", "o-2", "--customer-id", "c-1", "--total", "0"], "--total"),
        ("order.place", ["--order-id", "o-2", "--customer-id", "c-1", "--total", "1.5"], "--total"),
        ("order.place", ["--order-id", "o-2", "--total", "5"], "--customer-id"),
        ("order.place", ["--order-id", "o 2", "--customer-id", "c-1", "--total", "5"], "--order-id"),
        ("customer.create", ["--customer-id", "c-2", "--credit-limit", "abc"], "--credit-limit"),
        ("customer.create", ["--customer-id", "c-2", "--credit-limit", "-1"], "--credit-limit"),
        ("customer.create", ["--customer-id", "c-2"], "arguments"),
        ("order.cancel", [], "arguments"),
        ("order.place", [], "arguments"),
        ("order.approve", ["--unexpected"], "arguments"),
    ],
    ids=[
        "place-negative",
        "place-zero",
        "place-decimal",
        "place-missing-customer",
        "place-bad-id",
        "create-not-number",
        "create-negative",
        "create-missing-limit",
        "cancel-missing-id",
        "place-nothing",
        "approve-extra-arg",
    ],
)
def test_bad_command_line(seeded: World, use_case: str, argv: list[str], field: str) -> None:
    # GIVEN a bad command line
    # WHEN / THEN refused with one line naming the argument, nothing written or emitted
    assert_refused(seeded, use_case, field, argv=argv)


def test_bad_input_is_reported_before_configuration_is_read(seeded: World) -> None:
    # GIVEN a misconfigured task (TABLE_NAME empty) AND a negative total
    argv = ["--order-id", "o-2", "--customer-id", "c-1", "--total", "-1"]
    # WHEN / THEN the input error wins: exit 2 naming --total (validation precedes any AWS access)
    assert_refused(seeded, "order.place", "--total", argv=argv, env={"TABLE_NAME": ""})


# -- hostile input -----------------------------------------------------------------------------

HOSTILE = {
    "nul": "\x00",
    "delete": "\x7f",
    "escape": "\x1b[31m",
    "c1-next-line": "\x85",
    "carriage-return": "\r",
    "rtl-override": "\u202e",
    "rtl-isolate": "\u2067",
    "zero-width-space": "\u200b",
    "zero-width-joiner": "\u200d",
    "byte-order-mark": "\ufeff",
    "line-separator": "\u2028",
    "tag-character": "\U000e0041",
}


@pytest.mark.parametrize("use_case", EVENT_USE_CASES)
@pytest.mark.parametrize("char", list(HOSTILE.values()), ids=list(HOSTILE))
def test_control_or_format_character_in_an_event_identifier(seeded: World, use_case: str, char: str) -> None:
    # GIVEN an event whose customerId carries a control or format character around a known id
    env = trigger_env(use_case, eventDetail=with_detail(use_case, customerId=f"c-{char}1"))
    # WHEN / THEN refused naming eventDetail.customerId, the character named and escaped
    line = assert_refused(seeded, use_case, "eventDetail.customerId", env=env)
    assert f"U+{ord(char[0]):04X}" in line


@pytest.mark.parametrize("char", list(HOSTILE.values()), ids=list(HOSTILE))
def test_control_or_format_character_in_an_event_text_field(seeded: World, char: str) -> None:
    # GIVEN a CustomerValidationFailed whose reason hides a control/format character
    env = {
        "eventDetail": json.dumps({"orderId": "o-1", "customerId": "c-1", "reason": f"CUSTOMER{char}_NOT_FOUND"}),
        "eventId": "e-vf",
        "eventDetailType": "CustomerValidationFailed",
        "eventSource": CUSTOMER,
    }
    # WHEN / THEN order.reject refuses it naming eventDetail.reason; the order stays PENDING
    assert_refused(seeded, "order.reject", "eventDetail.reason", env=env)


@pytest.mark.parametrize("variable", ["eventId", "eventDetailType", "eventSource"])
# No NUL here: no process environment can hold one (in eventDetail it arrives as JSON "\u0000").
@pytest.mark.parametrize(
    "char", ["\x7f", "\x1b", "\u202e", "\u200b", "\udcff"], ids=["del", "esc", "rtl", "zwsp", "byte-ff"]
)
def test_control_character_or_undecodable_byte_in_a_trigger_variable(seeded: World, char: str, variable: str) -> None:
    # GIVEN order.place (it accepts any source) triggered with a hostile eventId / type / source;
    # "\udcff" is how Python presents the byte 0xff of a variable that is not UTF-8
    valid = trigger_env("order.place")
    env = trigger_env("order.place", **{variable: valid[variable] + char})
    # WHEN / THEN refused naming the variable, nothing written or emitted
    assert_refused(seeded, "order.place", variable, env=env)


@pytest.mark.parametrize("use_case", EVENT_USE_CASES)
@pytest.mark.parametrize(
    ("detail", "field"),
    [
        ('{{"orderId": "\\ud800", "customerId": "c-1", "{amount}": 60}}', "eventDetail.orderId"),
        ('{{"orderId": "o-1", "customerId": "c-\\udfff1", "{amount}": 60}}', "eventDetail.customerId"),
        ('{{"orderId": "o-1", "customerId": "c-1", "{amount}": 60, "note": ["\\udc00"]}}', "eventDetail.note[0]"),
        ('{{"orderId": "o-1", "customerId": "c-1", "{amount}": 60, "\\ud800": 1}}', "eventDetail"),
    ],
    ids=["identifier", "inside-identifier", "unread-field", "key"],
)
def test_lone_surrogate_in_event_detail(seeded: World, use_case: str, detail: str, field: str) -> None:
    # GIVEN an eventDetail with a JSON \ud800-\udfff escape that has no pair (not Unicode)
    env = trigger_env(use_case, eventDetail=detail.format(amount=AMOUNT_FIELD[use_case]))
    # WHEN / THEN refused naming the field (before: exit 1 and a traceback)
    assert_refused(seeded, use_case, field, env=env)


@pytest.mark.parametrize("use_case", EVENT_USE_CASES)
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_deeply_nested_event_detail(seeded: World, use_case: str, depth: int) -> None:
    # GIVEN a valid detail with one more field nested `depth` levels deep (the whole detail is one deeper)
    detail = with_detail(use_case)[:-1] + ', "x": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    env = trigger_env(use_case, eventDetail=detail)
    # WHEN / THEN refused naming eventDetail (before: RecursionError and 21 lines of traceback)
    line = assert_refused(seeded, use_case, "eventDetail", env=env)
    assert f"nested deeper than {MAX_DEPTH}" in line


def test_nesting_is_counted_outside_strings_only_and_up_to_the_limit() -> None:
    # GIVEN a detail exactly MAX_DEPTH deep, with brackets and escaped quotes inside its strings
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    raw = '{"orderId": "o-1", "note": "[[[{{{\\"[[[", "x": ' + nested + "}"
    env = {"eventDetail": raw, "eventId": "e-1", "eventDetailType": "T", "eventSource": "s"}
    # WHEN it is read THEN it is accepted
    assert read_trigger_event({"T": None}, env).detail.identifier("orderId") == "o-1"
    # AND one level more is refused naming eventDetail
    deeper = {**env, "eventDetail": raw.replace(nested, "[" + nested + "]")}
    with pytest.raises(BadInput, match=rf"^eventDetail: nested deeper than {MAX_DEPTH} levels"):
        read_trigger_event({"T": None}, deeper)


@pytest.mark.parametrize("use_case", EVENT_USE_CASES)
@pytest.mark.parametrize(
    ("literal", "shown"),
    [
        ("9" * 5000, "an integer of 5000 digits"),
        ("1" + "0" * 24, "an integer of 25 digits"),
        ("1000000000000001", "1000000000000001"),
    ],
    ids=["5000-digits", "25-digits", "just-over"],
)
def test_integer_too_long_to_be_an_amount(seeded: World, use_case: str, literal: str, shown: str) -> None:
    # GIVEN an amount with more digits than any amount has (Python alone refuses > 4300 digits)
    name = AMOUNT_FIELD[use_case]
    detail = with_detail(use_case, **{name: 1}).replace(f'"{name}": 1', f'"{name}": {literal}')
    env = trigger_env(use_case, eventDetail=detail)
    # WHEN / THEN refused naming the amount field and its bound (before: "not valid JSON")
    line = assert_refused(seeded, use_case, f"eventDetail.{name}", env=env)
    assert line.endswith(f"(at most 10^15), got {shown}")


@pytest.mark.parametrize(
    ("use_case", "argv", "field"),
    [
        ("order.place", ["--order-id", "o-\x1b[2J2", "--customer-id", "c-1", "--total", "5"], "--order-id"),
        ("order.place", ["--order-id", "o-2", "--customer-id", "c-\u202e1", "--total", "5"], "--customer-id"),
        ("order.place", ["--order-id", "o-2", "--customer-id", "c-1", "--total=5\x00"], "--total"),
        ("order.place", ["--order-id", "o-2", "--customer-id", "c-1", "--total", "9" * 5000], "--total"),
        ("customer.create", ["--customer-id", "c-\udcff", "--credit-limit", "10"], "--customer-id"),
        ("order.cancel", ["--order-id", "o-1\u200b"], "--order-id"),
        ("order.approve", ["\x1b[2Jbad input: forged\nline"], "arguments"),
    ],
    ids=["escape", "rtl-override", "nul-after-equals", "5000-digits", "undecodable-byte", "zero-width", "positional"],
)
def test_hostile_command_line(seeded: World, use_case: str, argv: list[str], field: str) -> None:
    # GIVEN a command line with a control/format character, an undecodable byte or a huge number
    # WHEN / THEN refused naming the argument (the line is printable: asserted by assert_refused)
    assert_refused(seeded, use_case, field, argv=argv)


@pytest.mark.parametrize(
    "error",
    [BadInput("--x", "got '\x1b[31mred\nbad input: forged\u202e'"), RuntimeError("boom\r\x1b[2K\udcff")],
    ids=["bad-input", "unexpected"],
)
def test_the_error_report_escapes_what_it_quotes(capsys: pytest.CaptureFixture[str], error: Exception) -> None:
    # GIVEN a handler failing with a message that quotes control characters (argparse and
    # libraries quote what they were given)
    def handler(argv: list[str]) -> int:
        raise error

    # WHEN run reports it
    run(handler, [])
    # THEN every stderr line is printable, the last one carries the message escaped
    lines = capsys.readouterr().err.split("\n")[:-1]
    assert all(line.isprintable() for line in lines), lines
    assert lines[-1].endswith(str(error).encode("unicode_escape").decode("ascii").replace("\\'", "'"))


# -- the validators themselves, over any text ----------------------------------------------------

REFUSED_CATEGORIES = ("Cc", "Cf", "Cs", "Zl", "Zp")
CLEAN_TEXT = st.text(alphabet=st.characters(exclude_categories=REFUSED_CATEGORIES), min_size=1, max_size=500).filter(
    str.strip
)


@given(
    before=st.text(max_size=20),
    hostile=st.characters(categories=("Cc", "Cf", "Cs")),
    after=st.text(max_size=20),
)
def test_any_text_with_a_control_or_format_character_is_refused(before: str, hostile: str, after: str) -> None:
    # GIVEN any text that contains a Cc/Cf character or a lone surrogate
    value = before + hostile + after
    # WHEN / THEN text and identifier both refuse it, naming the field
    for validator in (text, identifier):
        with pytest.raises(BadInput, match=r"^detail\.field: "):
            validator(value, "detail.field")


@given(CLEAN_TEXT)
def test_any_clean_text_is_accepted(value: str) -> None:
    # GIVEN any non-blank text of at most 500 characters without a refused character
    assert not any(unicodedata.category(c) in REFUSED_CATEGORIES for c in value)
    # WHEN / THEN text returns it unchanged
    assert text(value, "detail.field") == value


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", fullmatch=True))
def test_any_well_formed_identifier_is_accepted(value: str) -> None:
    # GIVEN any identifier of the documented shape WHEN / THEN identifier returns it unchanged
    assert identifier(value, "detail.field") == value
