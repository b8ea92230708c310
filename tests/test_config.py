"""The stack config contract: valid files load; every bad input fails naming its key, before any
resource is registered."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest
from pulumi_mocks import ROOT, stack_config

from components.config import ConfigError, load_config, pulumi_config_map, read_stack_file


def cloud_raw(**changes):
    """Pulumi.cloud.yaml as the engine passes it, with top-level keys replaced (None removes)."""
    raw = stack_config("cloud")
    for key, value in changes.items():
        full = key if ":" in key else f"event-tasks:{key}"
        if value is None:
            raw.pop(full, None)
        else:
            raw[full] = value if isinstance(value, str) else json.dumps(value)
    return raw


def parsed(key):
    return copy.deepcopy(json.loads(stack_config("cloud")[f"event-tasks:{key}"]))


def with_service(name, **fields):
    services = parsed("services")
    services[name].update(fields)
    return {k: v for k, v in services.items()}


def with_trigger(name, **fields):
    triggers = parsed("triggers")
    triggers[name].update(fields)
    for key, value in fields.items():
        if value is None:
            del triggers[name][key]
    return triggers


@pytest.mark.parametrize("path", sorted(ROOT.glob("Pulumi.*.yaml")), ids=lambda p: p.name)
def test_every_shipped_stack_file_is_valid(path):
    # GIVEN a stack file the user owns at the project root (its values are theirs: not asserted)
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    # WHEN it is validated THEN it loads as a config of that stack
    assert load_config(read_stack_file(path), stack, ROOT).stack == stack


def test_the_cloud_fixture_loads():
    # WHEN the cloud fixture is validated
    config = load_config(stack_config("cloud"), "cloud", ROOT)
    # THEN defaults are filled in and references resolve
    assert config.environment == "cloud"
    assert config.cloud.assignPublicIp is False
    assert config.container_name("customer") == "customer"
    assert config.triggers["approve-order"].timeoutSeconds == 900
    assert config.triggers["approve-order"].retry.maximumRetryAttempts == 10
    assert config.logRetentionDays == 14


def test_scalar_values_arrive_as_strings_from_the_engine():
    # GIVEN the engine passes scalars as strings
    raw = cloud_raw(logRetentionDays="30")
    # THEN they are parsed to their types
    assert load_config(raw, "cloud", ROOT).logRetentionDays == 30


BAD = [
    ("environment missing", cloud_raw(environment=None), r"event-tasks:environment: required"),
    (
        "environment unknown",
        cloud_raw(environment="prod"),
        r"event-tasks:environment: 'prod': Input should be 'local' or 'cloud'",
    ),
    (
        "namespace typo",
        {**cloud_raw(triggers=None), "event-task:triggers": json.dumps(parsed("triggers"))},
        r"event-task:triggers: unknown namespace 'event-task'; did you mean `event-tasks:triggers`\?",
    ),
    (
        "aws key typo",
        {**cloud_raw(**{"aws:region": None}), "aws:regoin": "ap-southeast-1"},
        r"aws:regoin: not a config key of the aws provider; did you mean `aws:region`\?",
    ),
    ("cloud block missing", cloud_raw(cloud=None), r"event-tasks:cloud: required when environment is cloud"),
    (
        "cloud block in local",
        {**cloud_raw(environment="local")},
        r"event-tasks:cloud: only allowed when environment is cloud",
    ),
    ("unknown top-level key", cloud_raw(triggerz="{}"), r"event-tasks:triggerz: unknown key; allowed:"),
    (
        "unknown nested key",
        cloud_raw(cloud={**parsed("cloud"), "subnet": ["subnet-0a1b2c3d"]}),
        r"event-tasks:cloud\.subnet: unknown key; allowed here: assignPublicIp, capacityProviders, clusterArn, "
        r"platformVersion, securityGroups,",
    ),
    (
        "bad cluster ARN",
        cloud_raw(cloud={**parsed("cloud"), "clusterArn": "shared"}),
        r"event-tasks:cloud\.clusterArn: 'shared' is not an ECS cluster ARN",
    ),
    (
        "cluster in another region",
        cloud_raw(cloud={**parsed("cloud"), "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/shared"}),
        r"event-tasks:cloud\.clusterArn: is in region us-east-1 but the stack's aws:region is ap-southeast-1",
    ),
    (
        "task definition without revision",
        cloud_raw(
            services=with_service(
                "order", taskDefinitionArn="arn:aws:ecs:ap-southeast-1:123456789012:task-definition/order"
            )
        ),
        r"event-tasks:services\.order\.taskDefinitionArn: .* is not a task definition ARN with a revision",
    ),
    (
        "task definition missing for a run service",
        cloud_raw(services={**parsed("services"), "customer": {}}),
        r"event-tasks:services\.customer\.taskDefinitionArn: required in cloud because trigger\(s\) "
        r"(.*, )?release-credit, release-failed-credit, reserve-credit run",
    ),
    (
        "bad subnet id",
        cloud_raw(cloud={**parsed("cloud"), "subnets": ["subnet-xyz"]}),
        r"event-tasks:cloud\.subnets: \['subnet-xyz'\] is not a subnet id",
    ),
    (
        "bad security group",
        cloud_raw(cloud={**parsed("cloud"), "securityGroups": ["default"]}),
        r"event-tasks:cloud\.securityGroups: \['default'\] is not a security group id",
    ),
    (
        "no security group",
        cloud_raw(cloud={**parsed("cloud"), "securityGroups": []}),
        r"event-tasks:cloud\.securityGroups: List should have at least 1 item",
    ),
    (
        "trigger names an unknown bus",
        cloud_raw(triggers=with_trigger("reserve-credit", bus="ordr")),
        r"event-tasks:triggers\.reserve-credit\.bus: 'ordr' is not a service; services are: customer, order",
    ),
    (
        "trigger names an unknown service",
        cloud_raw(triggers=with_trigger("reserve-credit", service="billing")),
        r"event-tasks:triggers\.reserve-credit\.service: 'billing' is not a service",
    ),
    (
        "empty detailTypes",
        cloud_raw(triggers=with_trigger("reserve-credit", detailTypes=[])),
        r"event-tasks:triggers\.reserve-credit\.detailTypes: List should have at least 1 item",
    ),
    (
        "empty command",
        cloud_raw(triggers=with_trigger("reserve-credit", command=[])),
        r"event-tasks:triggers\.reserve-credit\.command: List should have at least 1 item",
    ),
    (
        "blank command argument",
        cloud_raw(triggers=with_trigger("reserve-credit", command=["python", " "])),
        r"event-tasks:triggers\.reserve-credit\.command: has a blank argument",
    ),
    (
        "missing trigger field",
        cloud_raw(triggers=with_trigger("reserve-credit", command=None)),
        r"event-tasks:triggers\.reserve-credit\.command: required",
    ),
    (
        "negative cpu",
        cloud_raw(services=with_service("order", cpu=-256)),
        r"event-tasks:services\.order\.cpu: -256: Input should be greater than 0",
    ),
    (
        "cpu without memory",
        cloud_raw(services=with_service("customer", cpu=256)),
        r"event-tasks:services\.customer: cpu and memory override the Fargate task size together",
    ),
    (
        "invalid Fargate size",
        cloud_raw(services=with_service("order", cpu=256, memory=4096)),
        r"event-tasks:services\.order\.memory: 4096 MiB is not valid with cpu 256 on Fargate",
    ),
    (
        "invalid Fargate cpu",
        cloud_raw(services=with_service("order", cpu=300, memory=512)),
        r"event-tasks:services\.order\.cpu: 300 is not a Fargate cpu size",
    ),
    (
        "timeout zero",
        cloud_raw(triggers=with_trigger("reserve-credit", timeoutSeconds=0)),
        r"event-tasks:triggers\.reserve-credit\.timeoutSeconds: 0: Input should be greater than or equal to 1",
    ),
    (
        "retry out of range",
        cloud_raw(triggers=with_trigger("reserve-credit", retry={"maximumRetryAttempts": 500})),
        r"event-tasks:triggers\.reserve-credit\.retry\.maximumRetryAttempts: 500: Input should be less than",
    ),
    (
        "trigger name too long for a rule",
        cloud_raw(
            triggers={"reserve-credit-for-every-order-placed-by-customers-ok": parsed("triggers")["reserve-credit"]}
        ),
        r"event-tasks:triggers\.reserve-credit-for-every-order-placed-by-customers-ok: the EventBridge rule "
        r"name .* would be 71 characters \(limit 64\) in stack 'cloud'; use a trigger name of at most 46",
    ),
    (
        "trigger name with bad characters",
        cloud_raw(triggers={"Reserve_Credit": parsed("triggers")["reserve-credit"]}),
        r"event-tasks:triggers\.Reserve_Credit: 'Reserve_Credit' is not a valid trigger name",
    ),
    (
        "service name with bad characters",
        cloud_raw(services={**parsed("services"), "Order Service": {}}),
        r"event-tasks:services\.Order Service: 'Order Service' is not a valid service name",
    ),
    (
        "image in cloud",
        cloud_raw(services=with_service("order", image="service_images/order")),
        r"event-tasks:services\.order\.image: only allowed when environment is local",
    ),
    (
        "bad retention",
        cloud_raw(logRetentionDays="10"),
        r"event-tasks:logRetentionDays: 10 is not a CloudWatch retention",
    ),
    (
        "duplicate detail type",
        cloud_raw(triggers=with_trigger("reserve-credit", detailTypes=["OrderCreated", "OrderCreated"])),
        r"event-tasks:triggers\.reserve-credit\.detailTypes: lists a detail-type twice",
    ),
    ("services missing", cloud_raw(services=None), r"event-tasks:services: required"),
    (
        "not a number",
        cloud_raw(triggers=with_trigger("reserve-credit", timeoutSeconds="soon")),
        r"event-tasks:triggers\.reserve-credit\.timeoutSeconds: 'soon': Input should be a valid integer",
    ),
]


def test_a_stack_name_sqs_cannot_hold_is_refused():
    # GIVEN a stack named with a dot (Pulumi allows it; SQS queue names do not)
    # WHEN validated THEN it fails before anything could be half-created
    with pytest.raises(ConfigError, match=r"stack 'prod\.v2': every physical name starts with 'event-tasks-prod\.v2-'"):
        load_config(stack_config("cloud"), "prod.v2", ROOT)


@pytest.mark.parametrize(
    ("raw", "message"), [(raw, message) for _, raw, message in BAD], ids=[name for name, _, _ in BAD]
)
def test_bad_config_names_the_key(raw, message):
    # GIVEN a stack config with one mistake WHEN it is validated THEN the error names the key and fix
    with pytest.raises(ConfigError, match=message):
        load_config(raw, "cloud", ROOT)


def test_every_problem_is_reported_at_once():
    # GIVEN two unrelated mistakes
    raw = cloud_raw(triggers=with_trigger("reserve-credit", bus="ordr", service="billing"))
    # WHEN validated
    with pytest.raises(ConfigError) as error:
        load_config(raw, "cloud", ROOT)
    # THEN both are listed, each with its key
    assert [p.split(":")[1].split(" ")[0] for p in error.value.problems] == [
        "triggers.reserve-credit.bus",
        "triggers.reserve-credit.service",
    ]


@pytest.mark.parametrize(
    ("raw", "message"), [(raw, message) for _, raw, message in BAD[::4]], ids=[name for name, _, _ in BAD[::4]]
)
def test_bad_config_registers_nothing(deploy, mocks, raw, message):
    # GIVEN a bad config WHEN the program runs
    with pytest.raises(ConfigError, match=message):
        deploy("cloud", raw)
    # THEN not one resource was registered and no lookup was made
    assert mocks.resources == []
    assert mocks.calls == []


# The failure loop's keys (issue 8): a small cloud stack of its own, independent of the shipped files.

TASK_DEFINITION = "arn:aws:ecs:ap-southeast-1:123456789012:task-definition/{}:1"


def failure_raw(triggers=None, **top):
    """A minimal cloud stack: services a and b, and `triggers` (default: one, a's bus runs b)."""
    config = {
        "aws:region": "ap-southeast-1",
        "event-tasks:environment": "cloud",
        "event-tasks:cloud": {
            "clusterArn": "arn:aws:ecs:ap-southeast-1:123456789012:cluster/shared",
            "subnets": ["subnet-0a1b2c3d"],
            "securityGroups": ["sg-0c1d2e3f"],
        },
        "event-tasks:services": {s: {"taskDefinitionArn": TASK_DEFINITION.format(s)} for s in ("a", "b")},
        "event-tasks:triggers": triggers
        or {"run-b": {"bus": "a", "detailTypes": ["Happened"], "service": "b", "command": ["b"]}},
        **{f"event-tasks:{key}": value for key, value in top.items()},
    }
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def trigger(bus, service, detail_types, **fields):
    return {"bus": bus, "detailTypes": detail_types, "service": service, "command": ["run"], **fields}


def test_failure_defaults_retry_twice_and_name_the_event_after_the_trigger():
    # WHEN a trigger leaves the failure keys out
    config = load_config(failure_raw(), "t", ROOT)
    # THEN it retries twice, its failure event is <Trigger>Failed and no one is subscribed to alerts
    assert config.triggers["run-b"].taskRetries == 2
    assert config.failure_detail_type("run-b") == "RunBFailed"
    assert config.alerts.email == []


def test_failure_keys_and_alerts_are_read():
    # GIVEN no retries, an own failure detail-type and two alert addresses
    raw = failure_raw(
        {"run-b": trigger("a", "b", ["Happened"], taskRetries=0, failureDetailType="BBroke")},
        alerts={"email": ["ops@example.com", "oncall@example.org"]},
    )
    # WHEN validated
    config = load_config(raw, "t", ROOT)
    # THEN they are kept
    assert (config.triggers["run-b"].taskRetries, config.failure_detail_type("run-b")) == (0, "BBroke")
    assert config.alerts.email == ["ops@example.com", "oncall@example.org"]


FAILURE_BAD = [
    (
        "too many task retries",
        failure_raw({"run-b": trigger("a", "b", ["Happened"], taskRetries=11)}),
        r"event-tasks:triggers\.run-b\.taskRetries: 11: Input should be less than or equal to 10",
    ),
    (
        "negative task retries",
        failure_raw({"run-b": trigger("a", "b", ["Happened"], taskRetries=-1)}),
        r"event-tasks:triggers\.run-b\.taskRetries: -1: Input should be greater than or equal to 0",
    ),
    (
        "blank failure detail-type",
        failure_raw({"run-b": trigger("a", "b", ["Happened"], failureDetailType=" ")}),
        r"event-tasks:triggers\.run-b\.failureDetailType: ' ' is not a detail-type of 1-128 letters",
    ),
    (
        "long failure detail-type",
        failure_raw({"run-b": trigger("a", "b", ["Happened"], failureDetailType="F" * 129)}),
        r"event-tasks:triggers\.run-b\.failureDetailType: 'F+' is not a detail-type",
    ),
    (
        "bad alert address",
        failure_raw(alerts={"email": ["ops@example.com", "ops at example"]}),
        r"event-tasks:alerts\.email: \['ops at example'\] is not an email address",
    ),
    (
        "alert address twice",
        failure_raw(alerts={"email": ["ops@example.com", "ops@example.com"]}),
        r"event-tasks:alerts\.email: lists an address twice",
    ),
    (
        "unknown alerts key",
        failure_raw(alerts={"sms": ["+6500000000"]}),
        r"event-tasks:alerts\.sms: unknown key; allowed here: email",
    ),
    (
        "a failure event that starts its own trigger",
        failure_raw({"fix-a": trigger("a", "a", ["Happened", "FixAFailed"])}),
        r"event-tasks:triggers\.fix-a\.failureDetailType: the failure event 'FixAFailed' loops back into "
        r"'fix-a' \(fix-a -> fix-a\); route a failure event only to triggers",
    ),
    (
        "two triggers whose failures start each other",
        failure_raw(
            {
                "run-a": trigger("b", "a", ["Happened", "RunBFailed"]),
                "run-b": trigger("a", "b", ["Happened", "RunAFailed"]),
            }
        ),
        r"event-tasks:triggers\.run-a\.failureDetailType: the failure event 'RunAFailed' loops back into "
        r"'run-a' \(run-a -> run-b -> run-a\)",
    ),
]


@pytest.mark.parametrize(
    ("raw", "message"), [(raw, message) for _, raw, message in FAILURE_BAD], ids=[n for n, _, _ in FAILURE_BAD]
)
def test_bad_failure_config_names_the_key(raw, message):
    # GIVEN a stack config with one mistake in the failure keys WHEN validated THEN the error names the key
    with pytest.raises(ConfigError, match=message):
        load_config(raw, "t", ROOT)


def test_a_failure_chain_that_ends_is_allowed():
    # GIVEN a's failure runs a compensation on b's bus whose own failure is routed nowhere
    raw = failure_raw(
        {
            "run-b": trigger("a", "b", ["Happened"]),
            "undo-a": trigger("b", "a", ["RunBFailed"]),
        }
    )
    # WHEN validated THEN it loads
    assert load_config(raw, "t", ROOT).failure_detail_type("undo-a") == "UndoAFailed"


def test_a_trigger_name_too_long_for_its_alarm_or_detail_type_is_refused():
    # GIVEN a trigger whose failure detail-type would exceed 128 characters
    name = "x" * 130
    raw = failure_raw({name: trigger("a", "b", ["Happened"])})
    # WHEN validated THEN the name's limit is given
    with pytest.raises(ConfigError, match=rf"event-tasks:triggers\.{name}: the failure event detail-type"):
        load_config(raw, "t", ROOT)


def test_a_failure_detail_type_with_intrinsic_syntax_is_refused():
    # GIVEN a detail-type holding a quote and braces, which an ASL intrinsic string cannot hold unescaped
    raw = failure_raw({"run-b": trigger("a", "b", ["Happened"], failureDetailType="B'{}'Failed")})
    # WHEN validated THEN the key and the allowed characters are named
    with pytest.raises(ConfigError, match=r"event-tasks:triggers\.run-b\.failureDetailType: .* is not a detail-type"):
        load_config(raw, "t", ROOT)


def test_the_region_comes_from_the_providers_usual_sources():
    # GIVEN the cloud fixture without aws:region
    raw = cloud_raw(**{"aws:region": None})
    # WHEN only the environment names a region THEN it is used, AWS_REGION before AWS_DEFAULT_REGION
    both = {"AWS_REGION": "ap-southeast-1", "AWS_DEFAULT_REGION": "us-east-1"}
    assert load_config(raw, "cloud", ROOT, environ=both).region == "ap-southeast-1"
    only_default = {"AWS_DEFAULT_REGION": "ap-southeast-1"}
    assert load_config(raw, "cloud", ROOT, environ=only_default).region == "ap-southeast-1"
    # AND aws:region in config wins over the environment
    assert load_config(cloud_raw(), "cloud", ROOT, environ={"AWS_REGION": "us-east-1"}).region == "ap-southeast-1"
    # AND a bad environment value is reported under the variable's name
    with pytest.raises(ConfigError, match=r"AWS_REGION: 'mars' is not an AWS region"):
        load_config(raw, "cloud", ROOT, environ={"AWS_REGION": "mars"})


def test_no_region_anywhere_says_where_to_set_it():
    # GIVEN no aws:region and no region in the environment
    raw = cloud_raw(**{"aws:region": None})
    # THEN the message names both places
    with pytest.raises(
        ConfigError, match=r"aws:region: required; set it with .* or export AWS_REGION or AWS_DEFAULT_REGION"
    ):
        load_config(raw, "cloud", ROOT, environ={})


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("aws:profile", None),
        ("aws:defaultTags", None),
        ("pulumi:disable-default-providers", None),
        ("aws:assumeRole", r"aws:assumeRole: not a config key of the aws provider; did you mean `aws:assumeRoles`\?"),
        ("aws-native:region", r"unknown namespace 'aws-native'"),
    ],
)
def test_keys_outside_the_project_must_be_a_providers(key, message):
    # GIVEN the cloud fixture plus one key of another namespace
    raw = {**cloud_raw(), key: "x"}
    # THEN a real provider or engine key loads; anything else is refused by name
    if message is None:
        assert load_config(raw, "cloud", ROOT).stack == "cloud"
    else:
        with pytest.raises(ConfigError, match=message):
            load_config(raw, "cloud", ROOT)


def test_the_aws_keys_are_the_pinned_providers():
    # GIVEN the config keys the installed pulumi-aws SDK reads
    import importlib.util
    import re

    from components.config import AWS_PROVIDER_KEYS

    package = Path(importlib.util.find_spec("pulumi_aws").origin).parent
    source = (package / "config" / "vars.py").read_text()
    # THEN the list the namespace check uses is exactly those
    assert sorted(AWS_PROVIDER_KEYS) == sorted(set(re.findall(r"__config__\.get\w*\('(\w+)'\)", source)))


def test_the_program_reads_config_through_pulumi_config(monkeypatch):
    # GIVEN the engine's config bag holding the cloud fixture, as `pulumi up` passes it
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(cloud_raw(logRetentionDays="30")))
    monkeypatch.delenv("PULUMI_CONFIG_SECRET_KEYS", raising=False)
    # WHEN the program reads it
    raw = pulumi_config_map()
    # THEN objects are parsed by pulumi.Config, scalars typed, and the whole validates
    assert raw["event-tasks:cloud"] == parsed("cloud")
    assert raw["event-tasks:logRetentionDays"] == 30
    assert raw["aws:region"] == "ap-southeast-1"
    assert load_config(raw, "cloud", ROOT) == load_config(cloud_raw(logRetentionDays="30"), "cloud", ROOT)


def test_a_secret_key_stays_secret_and_is_refused(monkeypatch):
    # GIVEN the user set event-tasks:services with --secret
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(cloud_raw()))
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["event-tasks:services"]))
    # WHEN the program reads it THEN it is an Output (secret), never a plain value
    raw = pulumi_config_map()
    assert isinstance(raw["event-tasks:services"], pulumi.Output)
    # AND validation refuses it: its values would become plain-text names and ARNs
    with pytest.raises(ConfigError, match=r"event-tasks:services: is a secret, .*set it without --secret"):
        load_config(raw, "cloud", ROOT)


def test_running_the_program_without_pulumi_says_how_to_run_it():
    # WHEN __main__.py is started as a plain script
    done = subprocess.run(
        [sys.executable, "__main__.py"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    # THEN it fails with one line naming the two ways to run it
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert "`pulumi preview`" in line and "`make demo`" in line


def many_triggers(count, bus="order", stem="t"):
    triggers = parsed("triggers")
    for index in range(count):
        triggers[f"{stem}{index:03d}"] = {**triggers["reserve-credit"], "bus": bus, "detailTypes": ["OrderApproved"]}
    return triggers


def on_bus(triggers, bus):
    """How many triggers a rule starts from `bus` (a schedule has no rule)."""
    return sum(t.get("bus") == bus and "schedule" not in t for t in triggers.values())


def test_a_bus_whose_rules_role_policy_would_exceed_iam_limit_is_refused(deploy, mocks):
    # GIVEN 150 more triggers on the order bus: its rules role would have to name them all, and the
    # fixture's own (an orchestration among them)
    triggers = many_triggers(150)
    count = on_bus(triggers, "order")
    assert count > 150
    raw = cloud_raw(triggers=triggers)
    # WHEN / THEN the config is refused naming the key, the bus and the fix, before any lookup
    with pytest.raises(
        ConfigError,
        match=rf"event-tasks:triggers: the {count} triggers on bus 'order' need a rules role policy of \d+ characters, "
        r"over IAM's 10240 for a role's inline policies; let fewer triggers listen on 'order'",
    ):
        deploy("cloud", raw)
    assert mocks.resources == [] and mocks.calls == []


def test_a_bus_within_iam_limit_loads_with_its_triggers_spread_over_buses():
    # GIVEN 100 more triggers on the order bus and 100 on the customer bus (200 in the stack)
    triggers = {**many_triggers(100), **many_triggers(100, bus="customer", stem="c")}
    for name in triggers:
        if name.startswith("c") and name[1:].isdigit():
            triggers[name]["detailTypes"] = ["CustomerCreated"]
    # WHEN the config is validated THEN it loads: each bus's policy stays under the limit
    config = load_config(cloud_raw(triggers=triggers), "cloud", ROOT)
    assert sum(t.bus == "order" for t in config.triggers.values()) == on_bus(triggers, "order") > 100
