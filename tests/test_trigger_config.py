"""Config of the trigger options of issue 13 (schedules, archive, quotas): refused with the key path
before anything is registered. Self-contained: the stack config is built here, not read from the
shipped stack files."""

import json

import pytest
from pulumi_mocks import ROOT

from components.config import RULES_PER_BUS, ConfigError, load_config

ACCOUNT_ARN = "arn:aws:ecs:ap-southeast-1:123456789012"
SAGA = {
    "reserve-credit": {
        "bus": "order",
        "detailTypes": ["OrderCreated"],
        "service": "customer",
        "command": ["python", "-m", "customer.reserve_credit"],
    },
    "expire": {
        "schedule": "rate(1 day)",
        "service": "customer",
        "command": ["python", "-m", "customer.expire_reservations"],
    },
}


def raw(triggers=None, **top):
    """A valid cloud stack config as the engine passes it, with `triggers` and top-level keys replaced."""
    config = {
        "aws:region": "ap-southeast-1",
        "event-tasks:environment": "cloud",
        "event-tasks:cloud": {
            "clusterArn": f"{ACCOUNT_ARN}:cluster/shared",
            "subnets": ["subnet-0a1b2c3d"],
            "securityGroups": ["sg-0c1d2e3f"],
        },
        "event-tasks:services": {
            "order": {"taskDefinitionArn": f"{ACCOUNT_ARN}:task-definition/order:3"},
            "customer": {"taskDefinitionArn": f"{ACCOUNT_ARN}:task-definition/customer:5"},
        },
        "event-tasks:triggers": SAGA if triggers is None else triggers,
        **{f"event-tasks:{k}": v for k, v in top.items()},
    }
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def trigger(name="expire", **fields):
    changed = {**SAGA[name], **fields}
    return {**SAGA, name: {k: v for k, v in changed.items() if v is not None}}


def test_a_scheduled_trigger_loads_with_the_archive_default():
    # WHEN a config with one event trigger and one scheduled trigger is validated
    config = load_config(raw(), "cloud", ROOT)
    # THEN the schedule is kept, it has no bus or detail-types, and each bus archives for 7 days
    expire = config.triggers["expire"]
    assert (expire.schedule, expire.bus, expire.detailTypes) == ("rate(1 day)", None, None)
    assert config.archiveDays == 7


@pytest.mark.parametrize(
    "expression",
    ["rate(1 minute)", "rate(15 minutes)", "rate(2 hours)", "cron(0 3 * * ? *)", "cron(0/15 8-18 ? * MON-FRI *)"],
)
def test_valid_schedule_expressions_load(expression):
    assert load_config(raw(trigger(schedule=expression)), "cloud", ROOT).triggers["expire"].schedule == expression


BAD = [
    (
        "schedule and events",
        raw(trigger(bus="order", detailTypes=["OrderCreated"])),
        r"event-tasks:triggers\.expire\.schedule: a trigger runs on a schedule or on events, not both; "
        r"remove bus and detailTypes",
    ),
    (
        "neither schedule nor events",
        raw(trigger(schedule=None)),
        r"event-tasks:triggers\.expire\.bus: required \(or give schedule instead\)",
    ),
    (
        "events without detail types",
        raw(trigger("reserve-credit", detailTypes=None)),
        r"event-tasks:triggers\.reserve-credit\.detailTypes: required \(or give schedule instead\)",
    ),
    (
        "rate with a plural unit for one",
        raw(trigger(schedule="rate(1 days)")),
        r"event-tasks:triggers\.expire\.schedule: 'rate\(1 days\)' must use the singular unit; write rate\(1 day\)",
    ),
    (
        "rate of zero",
        raw(trigger(schedule="rate(0 minutes)")),
        r"event-tasks:triggers\.expire\.schedule: 'rate\(0 minutes\)' has a rate below 1",
    ),
    (
        "rate in seconds",
        raw(trigger(schedule="rate(30 seconds)")),
        r"event-tasks:triggers\.expire\.schedule: 'rate\(30 seconds\)' is not a rate expression",
    ),
    (
        "cron with five fields",
        raw(trigger(schedule="cron(0 3 * * ?)")),
        r"event-tasks:triggers\.expire\.schedule: 'cron\(0 3 \* \* \?\)' is not a cron expression; .* six fields",
    ),
    (
        "cron without a question mark",
        raw(trigger(schedule="cron(0 3 * * * *)")),
        r"event-tasks:triggers\.expire\.schedule: .* must have '\?' in exactly one of day-of-month and day-of-week",
    ),
    (
        "cron hour out of range",
        raw(trigger(schedule="cron(0 24 * * ? *)")),
        r"event-tasks:triggers\.expire\.schedule: .* has an invalid hours field '24' \(values 0-23\)",
    ),
    (
        "one-time schedule",
        raw(trigger(schedule="at(2026-12-01T00:00:00)")),
        r"event-tasks:triggers\.expire\.schedule: .* is a one-time schedule; a trigger recurs",
    ),
    (
        "not an expression",
        raw(trigger(schedule="nightly")),
        r"event-tasks:triggers\.expire\.schedule: 'nightly' is not a schedule expression",
    ),
    (
        "negative archive retention",
        raw(archiveDays=-1),
        r"event-tasks:archiveDays: -1: Input should be greater than or equal to 0",
    ),
    (
        "more rules on one bus than EventBridge allows",
        raw({f"t-{n}": {**SAGA["reserve-credit"]} for n in range(RULES_PER_BUS)}),
        r"event-tasks:triggers: 300 triggers on the order bus exceed EventBridge's 300 rules per bus",
    ),
]


@pytest.mark.parametrize(("config", "message"), [(c, m) for _, c, m in BAD], ids=[n for n, _, _ in BAD])
def test_bad_trigger_config_names_the_key(config, message):
    with pytest.raises(ConfigError, match=message):
        load_config(config, "cloud", ROOT)


def test_the_rules_quota_leaves_room_for_the_archive_rule_only_when_there_is_an_archive():
    # GIVEN 300 triggers on one bus
    many = {f"t-{n}": {**SAGA["reserve-credit"]} for n in range(RULES_PER_BUS)}
    # THEN without an archive the rules quota admits them (only the bus's rules role, which cannot
    # name 300 state machines within IAM's policy size, refuses them)
    with pytest.raises(ConfigError, match=r"triggers on bus 'order' need a rules role policy") as refused:
        load_config(raw(many, archiveDays=0), "cloud", ROOT)
    assert "rules per bus" not in str(refused.value)
    # AND with one (its managed rule is on the bus too) the rules quota refuses them as well
    with pytest.raises(ConfigError, match=r"exceed EventBridge's 300 rules per bus"):
        load_config(raw(many), "cloud", ROOT)


@pytest.mark.parametrize(("config", "message"), [(c, m) for _, c, m in BAD[::3]], ids=[n for n, _, _ in BAD[::3]])
def test_bad_trigger_config_registers_nothing(deploy, mocks, config, message):
    # GIVEN a bad config WHEN the program runs THEN it fails before any registration or lookup
    with pytest.raises(ConfigError, match=message):
        deploy("cloud", config)
    assert mocks.resources == []
    assert mocks.calls == []


# --- content filters ------------------------------------------------------------------------------

BIG = {"total": [{"numeric": [">", 1000]}]}


def test_a_content_filter_is_merged_into_the_rule_pattern(deploy):
    # GIVEN reserve-credit only for big orders from some regions
    detail_filter = {
        **BIG,
        "region": ["eu", {"prefix": "ap-"}],
        "$or": [{"vip": [True]}, {"score": [{"exists": True}]}],
    }
    deployed = deploy("cloud", raw(trigger("reserve-credit", filter=detail_filter)))
    # THEN the rule matches the bus owner's source, the detail-type AND the fragment over detail
    rule = deployed.named("reserve-credit-trigger-rule")
    assert rule.json("eventPattern") == {
        "source": ["event-tasks.order"],
        "detail-type": ["OrderCreated"],
        "detail": detail_filter,
    }


def test_the_validator_measures_the_pattern_as_the_rule_serialises_it():
    from components.config import event_pattern_size
    from components.task_trigger_rule import event_pattern

    for detail_filter in (None, BIG, {"a": ["x" * 50], "b": {"c": [1, 2]}}):
        assert event_pattern_size("event-tasks.order", ["OrderCreated"], detail_filter) == len(
            json.dumps(event_pattern(["OrderCreated"], "event-tasks.order", detail_filter))
        )


FILTER_BAD = [
    (
        "unknown operator",
        {"total": [{"greater": 1000}]},
        r"event-tasks:triggers\.reserve-credit\.filter: total\[0\]: unknown operator 'greater'; use one of prefix",
    ),
    (
        "malformed numeric",
        {"total": [{"numeric": [">", "1000"]}]},
        r"filter: total\[0\]\.numeric: expected \[op, number\]",
    ),
    ("empty list", {"region": []}, r"filter: region: an empty list matches nothing"),
    ("bare value", {"region": "eu"}, r"filter: region: 'eu' must be a list of values or operators, e.g. \['eu'\]"),
    ("nested unknown operator", {"a": {"b": [{"regex": "x"}]}}, r"filter: a\.b\[0\]: unknown operator 'regex'"),
    ("exists not a boolean", {"a": [{"exists": "yes"}]}, r"filter: a\[0\]\.exists: expected true or false"),
    ("$or with one option", {"$or": [BIG]}, r"filter: \$or: expected a list of at least two objects"),
    ("empty filter", {}, r"event-tasks:triggers\.reserve-credit\.filter: is empty"),
    (
        "pattern over the size limit",
        {"region": [f"region-{n:04d}-with-a-long-name" for n in range(80)]},
        r"event-tasks:triggers\.reserve-credit\.filter: makes the rule's event pattern \d+ characters, over "
        r"EventBridge's 2048; shorten the filter",
    ),
]


@pytest.mark.parametrize(("fragment", "message"), [(f, m) for _, f, m in FILTER_BAD], ids=[n for n, _, _ in FILTER_BAD])
def test_a_bad_filter_names_the_key_and_the_place_in_it(fragment, message):
    with pytest.raises(ConfigError, match=message):
        load_config(raw(trigger("reserve-credit", filter=fragment)), "cloud", ROOT)


def test_a_filter_on_a_scheduled_trigger_is_refused():
    with pytest.raises(ConfigError, match=r"event-tasks:triggers\.expire\.filter: filters events, and this trigger "):
        load_config(raw(trigger(filter=BIG)), "cloud", ROOT)


def test_the_archive_name_limit_applies_only_when_there_is_an_archive():
    # GIVEN a service whose archive name `event-tasks-cloud-<service>` would pass 48 characters
    long = "s" * 31
    services = {**json.loads(raw()["event-tasks:services"]), long: {}}
    # THEN with an archive it is refused naming the limit, without one it loads
    message = rf"event-tasks:services\.{long}: the EventBridge archive name .* \(limit 48\)"
    with pytest.raises(ConfigError, match=message):
        load_config(raw(services=services), "cloud", ROOT)
    assert long in load_config(raw(services=services, archiveDays=0), "cloud", ROOT).services
