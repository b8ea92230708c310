"""The stack config contract: one validated model for everything a user writes in `Pulumi.<stack>.yaml`.

`load_config` turns the raw config map Pulumi hands the program (namespaced keys, structured values as
JSON strings) into a `StackConfig`, or raises `ConfigError` listing every problem with its key path.
It runs before any resource is registered, so a bad config never half-creates a stack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from components import naming
from components.bus_rules_role import INLINE_POLICY_LIMIT, policy_size
from components.emits import EMITS_FILE, read_emits
from components.failure_path import MAX_TASK_RETRIES

NAMESPACE = naming.PROJECT
TOP_LEVEL_KEYS = (
    "environment",
    "cloud",
    "local",
    "services",
    "triggers",
    "logRetentionDays",
    "kmsKeyArn",
    "alerts",
)

# Lower-case, digits and hyphens: valid in every physical name we derive (rules, queues, tables,
# repositories, IAM roles) and in Pulumi logical names.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$|^[a-z]$")
REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
CLUSTER_ARN = re.compile(
    r"^arn:aws[a-z-]*:ecs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):cluster/(?P<name>[A-Za-z0-9_-]{1,255})$"
)
TASK_DEFINITION_ARN = re.compile(
    r"^arn:aws[a-z-]*:ecs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"task-definition/(?P<family>[A-Za-z0-9_-]{1,255}):(?P<revision>[1-9]\d*)$"
)
# A key ARN, not an alias: a key policy names the key, and an alias can be repointed under the stack.
KMS_KEY_ARN = re.compile(
    r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):key/"
    r"(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$"
)
ACCOUNT_ID = re.compile(r"^\d{12}$")
SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8}([0-9a-f]{9})?$")
SECURITY_GROUP_ID = re.compile(r"^sg-[0-9a-f]{8}([0-9a-f]{9})?$")
INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
CONTAINER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# What SNS accepts as an email endpoint, roughly: one @, a dotted domain, no spaces.
# The failure detail-type is also written into an ASL intrinsic string ('{}\\ are reserved there).
FAILURE_DETAIL_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,127}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Graviton families (a1, t4g, m7gd, c6gn, ...): the local stack builds linux/amd64 images and boots
# the x86_64 ECS AMI, so an arm64 instance would never start and tasks would wait forever.
ARM64_INSTANCE_TYPE = re.compile(r"^(a1|[a-z]+\d+[a-z]*g[a-z]*)\.")
# Names the local stack derives from `<project>-<stack>-<service>`: ECR repositories (lower-case,
# single separators) and ECS task families (no dots) both accept exactly this.
# SQS queue names (the dead-letter queues) are the narrowest charset every physical name shares.
STACK_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
LOCAL_RESOURCE_NAME = re.compile(r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$")

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

# Fargate task sizes (cpu units -> allowed memory MiB), from the ECS task-definition reference.
FARGATE_SIZES: dict[int, range | tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096),
    16384: range(32768, 122881, 8192),
}
# ECS container overrides are capped at 8192 characters; Step Functions limits a state's TimeoutSeconds.
MAX_TIMEOUT_SECONDS = 31_536_000


class ConfigError(Exception):
    """The stack config is invalid; `problems` holds one `key: message` line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid stack config (nothing was created):\n" + "\n".join(f"  - {p}" for p in problems))


class _Model(BaseModel):
    # Unknown keys are refused so a typo never silently falls back to a default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicy(_Model):
    """How long EventBridge keeps retrying delivery to the state machine before dead-lettering."""

    maximumEventAgeSeconds: int = Field(3600, ge=60, le=86400)
    """Give up on an event older than this (EventBridge allows 60-86400 s)."""
    maximumRetryAttempts: int = Field(10, ge=0, le=185)
    """Retries before the event goes to the dead-letter queue (EventBridge allows 0-185)."""


class CloudSettings(_Model):
    """Existing shared infrastructure the `cloud` stack runs tasks on (created outside this program)."""

    clusterArn: str
    """ARN of the existing ECS cluster."""
    subnets: list[str] = Field(min_length=1, max_length=16)
    """Subnet ids for the tasks' awsvpc network interfaces (ECS allows up to 16)."""
    securityGroups: list[str] = Field(min_length=1, max_length=5)
    """Security group ids for the tasks (ECS allows up to 5)."""
    assignPublicIp: bool = False
    """Give tasks a public IP (needed in public subnets without a NAT to pull images)."""

    @field_validator("clusterArn")
    @classmethod
    def _cluster_arn(cls, value: str) -> str:
        if not CLUSTER_ARN.match(value):
            raise ValueError(
                f"{value!r} is not an ECS cluster ARN; expected arn:aws:ecs:<region>:<account>:cluster/<name>"
            )
        return value

    @field_validator("subnets")
    @classmethod
    def _subnets(cls, values: list[str]) -> list[str]:
        return _ids(values, SUBNET_ID, "subnet id (subnet-0123abcd)")

    @field_validator("securityGroups")
    @classmethod
    def _security_groups(cls, values: list[str]) -> list[str]:
        return _ids(values, SECURITY_GROUP_ID, "security group id (sg-0123abcd)")


class LocalSettings(_Model):
    """EC2 capacity of the `local` stack's own ECS cluster."""

    instanceType: str = "t3.micro"
    """EC2 instance type of the container instances."""
    minInstances: int = Field(0, ge=0, le=100)
    """Auto scaling group minimum; 0 lets the cluster scale to zero when idle."""
    maxInstances: int = Field(2, ge=1, le=100)
    """Auto scaling group maximum."""

    @field_validator("instanceType")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        if not INSTANCE_TYPE.match(value):
            raise ValueError(f"{value!r} is not an EC2 instance type (like t3.micro)")
        if ARM64_INSTANCE_TYPE.match(value):
            raise ValueError(
                f"{value!r} is an arm64 (Graviton) type; the local stack builds "
                "linux/amd64 images on the x86_64 ECS AMI; use an x86_64 type like t3.micro"
            )
        return value


class Producer(_Model):
    """Another AWS account allowed to put some detail-types on a service's bus."""

    account: str
    """12-digit account id (quoted in YAML: it may start with 0)."""
    detailTypes: list[str] = Field(min_length=1)
    """The detail-types it may put (with the bus owner's source, the only one the bus admits)."""

    @field_validator("account", mode="before")
    @classmethod
    def _account(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} must be a quoted string of 12 digits (an account id may start with 0)")
        if not ACCOUNT_ID.match(value):
            raise ValueError(f"{value!r} is not an AWS account id (12 digits)")
        return value

    @field_validator("detailTypes")
    @classmethod
    def _detail_types(cls, values: list[str]) -> list[str]:
        return _detail_types(values)


class ServiceSettings(_Model):
    """One micro-service: it gets a bus, and its task can be run by triggers."""

    taskDefinitionArn: str | None = None
    """cloud only: the existing task definition, with its revision."""
    image: str | None = None
    """local only: directory under the project holding the service's Dockerfile
    (default `service_images/<service>`)."""
    containerName: str | None = None
    """Container to override in the task (default: the service name)."""
    cpu: int | None = Field(None, gt=0)
    """cloud: task-level cpu override (with memory, a valid Fargate size);
    local: the task definition's cpu (default 128)."""
    memory: int | None = Field(None, gt=0)
    """cloud: task-level memory override in MiB; local: the task definition's memory (default 512)."""
    producers: list[Producer] = []
    """Other accounts that may put events on this service's bus (none by default)."""

    @field_validator("taskDefinitionArn")
    @classmethod
    def _task_definition_arn(cls, value: str | None) -> str | None:
        if value is not None and not TASK_DEFINITION_ARN.match(value):
            raise ValueError(
                f"{value!r} is not a task definition ARN with a revision; expected "
                "arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>"
            )
        return value

    @field_validator("containerName")
    @classmethod
    def _container_name(cls, value: str | None) -> str | None:
        if value is not None and not CONTAINER_NAME.match(value):
            raise ValueError(f"{value!r} is not a container name (letters, digits, _ and -)")
        return value

    @field_validator("producers")
    @classmethod
    def _producers(cls, values: list[Producer]) -> list[Producer]:
        accounts = [p.account for p in values]
        twice = sorted({a for a in accounts if accounts.count(a) > 1})
        if twice:
            raise ValueError(f"names account {', '.join(twice)} twice; list all its detailTypes in one entry")
        return values


class TriggerSettings(_Model):
    """An event on one service's bus that runs another service's task."""

    bus: str
    """The service whose bus carries the event."""
    detailTypes: list[str] = Field(min_length=1)
    """detail-type values that start the task."""
    service: str
    """The service whose task runs."""
    command: list[str] = Field(min_length=1)
    """Container command override, e.g. [python, -m, customer.reserve_credit]."""
    timeoutSeconds: int = Field(900, ge=1, le=MAX_TIMEOUT_SECONDS)
    """Fail the execution (and stop the task) after this many seconds."""
    retry: RetryPolicy = RetryPolicy()
    """EventBridge delivery retries before the event is dead-lettered."""
    taskRetries: int = Field(2, ge=0, le=MAX_TASK_RETRIES)
    """Runs of the task after a failed one (never after exit code 2, bad input), with backoff."""
    failureDetailType: str | None = None
    """detail-type of the event published when the task gives up (default `<Trigger>Failed`)."""

    @field_validator("detailTypes")
    @classmethod
    def _detail_types(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value.strip() or len(value) > 128:
                raise ValueError(f"{value!r} is not a detail-type (1-128 characters, not blank)")
        if len(set(values)) != len(values):
            raise ValueError(f"lists a detail-type twice: {values}")
        return values

    @field_validator("command")
    @classmethod
    def _command(cls, values: list[str]) -> list[str]:
        if any(not v.strip() for v in values):
            raise ValueError(f"has a blank argument: {values}")
        return values

    @field_validator("failureDetailType")
    @classmethod
    def _failure_detail_type(cls, value: str | None) -> str | None:
        if value is not None and not FAILURE_DETAIL_TYPE.match(value):
            raise ValueError(
                f"{value!r} is not a detail-type of 1-128 letters, digits, spaces and . _ : - "
                "starting with a letter or digit; or leave it out for <Trigger>Failed"
            )
        return value


class AlertSettings(_Model):
    """Who hears about failures: the stack's alerts topic and its subscriptions."""

    email: list[str] = []
    """Addresses subscribed to the alerts topic (each confirms by mail before it receives alarms)."""

    @field_validator("email")
    @classmethod
    def _email(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if not EMAIL.match(v)]
        if bad:
            raise ValueError(f"{bad} {'is not an email address' if len(bad) == 1 else 'are not email addresses'}")
        if len(set(values)) != len(values):
            raise ValueError(f"lists an address twice: {values}")
        return values


class StackConfig(_Model):
    """Everything one stack deploys, validated."""

    stack: str
    """Pulumi stack name; scopes physical names."""
    region: str
    """aws:region of the stack."""
    environment: Literal["local", "cloud"]
    """local: build everything from source; cloud: run on existing shared infrastructure."""
    cloud: CloudSettings | None = None
    """Required when environment is cloud, refused otherwise."""
    local: LocalSettings | None = None
    """Optional when environment is local (defaults apply), refused otherwise."""
    services: dict[str, ServiceSettings] = Field(min_length=1)
    """Service name -> settings; every service gets a bus."""
    triggers: dict[str, TriggerSettings] = {}
    """Trigger name -> which event runs which task."""
    logRetentionDays: int = 14
    """Retention of the log groups this stack creates."""
    kmsKeyArn: str | None = None
    """Customer-managed KMS key for the tables and dead-letter queues; None: AWS-managed encryption."""

    @field_validator("kmsKeyArn")
    @classmethod
    def _kms_key_arn(cls, value: str | None) -> str | None:
        if value is not None and not KMS_KEY_ARN.match(value):
            raise ValueError(
                f"{value!r} is not a KMS key ARN; expected arn:aws:kms:<region>:<account>:key/<key id> "
                "(a key ARN, not an alias)"
            )
        return value

    alerts: AlertSettings = AlertSettings()
    """Subscriptions of the stack's alerts topic (alarms always exist; the topic may have none)."""

    def failure_detail_type(self, trigger: str) -> str:
        """detail-type of `trigger`'s failure event: its override, or `<Trigger in PascalCase>Failed`."""
        return self.triggers[trigger].failureDetailType or naming.failure_detail_type(trigger)

    def container_name(self, service: str) -> str:
        return self.services[service].containerName or service

    def image_path(self, service: str) -> str:
        return self.services[service].image or f"service_images/{service}"


def load_config(raw: Mapping[str, Any], stack: str, project_root: Path | str = ".") -> StackConfig:
    """Validate the raw Pulumi config map (keys like `event-tasks:services`) for `stack`.

    Structured values may be JSON strings (how the Pulumi engine passes them) or already parsed.
    """
    problems: list[str] = []
    data: dict[str, Any] = {"stack": stack}
    region = raw.get("aws:region")
    if not region:
        problems.append("aws:region: required; set it with `pulumi config set aws:region <region>`")
    elif not REGION_PATTERN.match(str(region)):
        problems.append(f"aws:region: {region!r} is not an AWS region (like ap-southeast-1)")
    else:
        data["region"] = region
    for key, value in raw.items():
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE:
            continue
        if name not in TOP_LEVEL_KEYS:
            problems.append(f"{key}: unknown key; allowed: {', '.join(TOP_LEVEL_KEYS)}")
            continue
        data[name] = _parse(value)
    if "environment" not in data:
        problems.append(
            f"{NAMESPACE}:environment: required; set `local` or `cloud` "
            f"(`pulumi config set {NAMESPACE}:environment cloud`)"
        )
    if "services" not in data:
        problems.append(f"{NAMESPACE}:services: required; map each service name to its settings")
    if problems:
        raise ConfigError(problems)
    try:
        config = StackConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError([_describe(e) for e in error.errors()]) from None
    problems = _cross_checks(config, Path(project_root))
    if problems:
        raise ConfigError(problems)
    return config


def engine_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A stack file's `config:` block as the engine hands it to the program: objects as JSON strings."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def read_stack_file(path: Path | str) -> dict[str, Any]:
    """`Pulumi.<stack>.yaml` as the engine hands it to the program (for tests and the sandbox)."""
    data = (yaml.safe_load(Path(path).read_text()) or {}).get("config") or {}
    return engine_config(data)


def _parse(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _detail_types(values: list[str]) -> list[str]:
    for value in values:
        if not value.strip() or len(value) > 128:
            raise ValueError(f"{value!r} is not a detail-type (1-128 characters, not blank)")
    if len(set(values)) != len(values):
        raise ValueError(f"lists a detail-type twice: {values}")
    return values


def _ids(values: list[str], pattern: re.Pattern[str], what: str) -> list[str]:
    bad = [v for v in values if not isinstance(v, str) or not pattern.match(v)]
    if bad:
        raise ValueError(f"{bad} {'is not a' if len(bad) == 1 else 'are not'} {what}")
    if len(set(values)) != len(values):
        raise ValueError(f"lists an id twice: {values}")
    return values


def _key(loc: tuple[Any, ...]) -> str:
    return f"{NAMESPACE}:" + ".".join(str(part) for part in loc)


def _describe(error: Any) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        return f"{_key(loc)}: unknown key; allowed here: {', '.join(allowed)}"
    if error["type"] == "missing":
        return f"{_key(loc)}: required"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] not in ("value_error",) and "input" in error and not isinstance(error["input"], (dict, list)):
        message = f"{error['input']!r}: {message}"
    return f"{_key(loc)}: {message}"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model at `loc` (map keys such as a service name are skipped)."""
    model: Any = StackConfig
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return []
        annotation = field.annotation
        if get_origin(annotation) is dict:
            parts = parts[1:]
            annotation = get_args(annotation)[1]
        elif get_origin(annotation) is list:  # a list of models: skip the item's index
            parts = parts[1:]
            annotation = get_args(annotation)[0]
        model = next(
            (a for a in (annotation, *get_args(annotation)) if isinstance(a, type) and issubclass(a, BaseModel)), None
        )
        if model is None:
            return []
    return sorted(k for k in model.model_fields if k not in ("stack", "region"))


def _cross_checks(config: StackConfig, project_root: Path) -> list[str]:
    """Rules that span keys: environment blocks, references between services and triggers, ARNs."""
    problems: list[str] = []
    ns = NAMESPACE
    services = sorted(config.services)
    cloud = config.environment == "cloud"

    if not STACK_NAME.match(config.stack):
        problems.append(
            f"stack {config.stack!r}: every physical name starts with {naming.prefix(config.stack)!r}, which "
            "SQS queue names cannot hold; use a stack name of letters, digits, '-' and '_' "
            "(`pulumi stack rename`)"
        )
    if cloud and config.cloud is None:
        problems.append(f"{ns}:cloud: required when environment is cloud; give clusterArn, subnets, securityGroups")
    if not cloud and config.cloud is not None:
        problems.append(f"{ns}:cloud: only allowed when environment is cloud; remove it for local")
    if cloud and config.local is not None:
        problems.append(f"{ns}:local: only allowed when environment is local; remove it for cloud")
    if config.cloud is not None:
        cluster = CLUSTER_ARN.match(config.cloud.clusterArn)
        if cluster and cluster["region"] != config.region:
            problems.append(
                f"{ns}:cloud.clusterArn: is in region {cluster['region']} but the "
                f"stack's aws:region is {config.region}; use a cluster of {config.region}"
            )
    if config.kmsKeyArn is not None:
        key = KMS_KEY_ARN.match(config.kmsKeyArn)
        if key and key["region"] != config.region:
            problems.append(
                f"{ns}:kmsKeyArn: is in region {key['region']} but the stack's aws:region is "
                f"{config.region}; DynamoDB and SQS use a key of their own region only: use a key of {config.region}"
            )
    if config.local is not None and config.local.minInstances > config.local.maxInstances:
        problems.append(
            f"{ns}:local.minInstances: {config.local.minInstances} is more than maxInstances "
            f"({config.local.maxInstances}); make minInstances <= maxInstances"
        )
    if config.logRetentionDays not in LOG_RETENTION_DAYS:
        problems.append(
            f"{ns}:logRetentionDays: {config.logRetentionDays} is not a CloudWatch retention; "
            f"use one of {', '.join(map(str, LOG_RETENTION_DAYS))}"
        )

    for name in services:
        problems += _name_problems(
            f"{ns}:services.{name}", name, "service", config.stack, naming.service_names(config.stack, name)
        )
    for name in sorted(config.triggers):
        problems += _name_problems(
            f"{ns}:triggers.{name}", name, "trigger", config.stack, naming.trigger_names(config.stack, name)
        )

    runners: dict[str, list[str]] = {}
    for name, trigger in sorted(config.triggers.items()):
        for field in ("bus", "service"):
            value = getattr(trigger, field)
            if value not in config.services:
                problems.append(
                    f"{ns}:triggers.{name}.{field}: {value!r} is not a service; services are: {', '.join(services)}"
                )
        runners.setdefault(trigger.service, []).append(name)

    problems += _failure_loop_problems(config)
    problems += _rules_role_problems(config)

    for name, service in sorted(config.services.items()):
        key = f"{ns}:services.{name}"
        if cloud:
            problems += _cloud_service_problems(config, name, service, runners.get(name, []), key)
        else:
            problems += _local_service_problems(config, name, service, project_root, key)
    return problems


def _rules_role_problems(config: StackConfig) -> list[str]:
    """Refuse a bus whose rules role could not name all its state machines within IAM's size limit
    (the deployment would fail half-way, on the role, with LimitExceeded)."""
    partition = next(
        (p for prefix, p in (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov")) if config.region.startswith(prefix)), "aws"
    )
    problems = []
    for bus in sorted({t.bus for t in config.triggers.values()}):
        names = sorted(n for n, t in config.triggers.items() if t.bus == bus)
        # Any account id has 12 digits: the size does not depend on which.
        arn = f"arn:{partition}:states:{config.region}:{'0' * 12}:stateMachine:"
        size = policy_size([arn + naming.state_machine_name(config.stack, n) for n in names])
        if size > INLINE_POLICY_LIMIT:
            problems.append(
                f"{NAMESPACE}:triggers: the {len(names)} triggers on bus {bus!r} need a rules role policy of "
                f"{size} characters, over IAM's {INLINE_POLICY_LIMIT} for a role's inline policies; let fewer "
                f"triggers listen on {bus!r} (one trigger may take several detailTypes) or give them shorter names"
            )
    return problems


def _failure_loop_problems(config: StackConfig) -> list[str]:
    """Refuse failure events that would run, through triggers, into the trigger that failed.

    A trigger that gives up publishes its failure event on its service's bus; if that event starts
    (perhaps via other triggers' failures) the same trigger again, one broken task loops forever.
    """
    runs: dict[str, list[str]] = {}  # trigger -> triggers its failure event starts
    for name, trigger in config.triggers.items():
        detail_type = config.failure_detail_type(name)
        runs[name] = sorted(
            other for other, t in config.triggers.items() if t.bus == trigger.service and detail_type in t.detailTypes
        )
    problems = []
    for start in sorted(runs):
        path = _path_back(runs, start)
        if path:
            problems.append(
                f"{NAMESPACE}:triggers.{start}.failureDetailType: the failure event "
                f"{config.failure_detail_type(start)!r} loops back into {start!r} ({' -> '.join(path)}); "
                "route a failure event only to triggers whose own failures end elsewhere"
            )
    return problems


def _path_back(runs: dict[str, list[str]], start: str) -> list[str]:
    """The shortest chain of failure events from `start` back to `start`, if any."""
    queue: list[list[str]] = [[start]]
    seen = {start}
    while queue:
        path = queue.pop(0)
        for nxt in runs.get(path[-1], []):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                queue.append([*path, nxt])
    return []


def _name_problems(
    key: str, name: str, what: str, stack: str, physical: list[tuple[naming.NameLimit, str]]
) -> list[str]:
    if not NAME_PATTERN.match(name):
        return [
            f"{key}: {name!r} is not a valid {what} name; use lower-case letters, digits and "
            "hyphens, starting with a letter"
        ]
    problems = []
    for limit, physical_name in physical:
        if len(physical_name) > limit.limit:
            allowed = len(name) - (len(physical_name) - limit.limit)
            problems.append(
                f"{key}: the {limit.what} {physical_name!r} would be {len(physical_name)} characters "
                f"(limit {limit.limit}) in stack {stack!r}; use a {what} name of at most {allowed} characters"
            )
    # IAM role names are auto-named from logical names `<name>-<suffix>-role` plus 8 random chars.
    longest_role = f"{name}-run-task-role" if what == "trigger" else f"{name}-execution-role"
    if len(longest_role) + naming.AUTONAME_SUFFIX > naming.IAM_ROLE_NAME_MAX:
        allowed = naming.IAM_ROLE_NAME_MAX - naming.AUTONAME_SUFFIX - len(longest_role) + len(name)
        problems.append(
            f"{key}: IAM role names derived from {name!r} would exceed {naming.IAM_ROLE_NAME_MAX} "
            f"characters; use a {what} name of at most {allowed} characters"
        )
    return problems


def _cloud_service_problems(
    config: StackConfig, name: str, service: ServiceSettings, runners: list[str], key: str
) -> list[str]:
    problems = []
    if service.image is not None:
        problems.append(
            f"{key}.image: only allowed when environment is local; the cloud stack runs "
            "existing task definitions (taskDefinitionArn)"
        )
    if service.taskDefinitionArn is None:
        if runners:
            problems.append(
                f"{key}.taskDefinitionArn: required in cloud because trigger(s) "
                f"{', '.join(runners)} run this service's task"
            )
    elif config.cloud is not None:
        cluster = CLUSTER_ARN.match(config.cloud.clusterArn)
        task = TASK_DEFINITION_ARN.match(service.taskDefinitionArn)
        assert cluster and task  # both validated by the model
        if task["region"] != config.region:
            problems.append(
                f"{key}.taskDefinitionArn: is in region {task['region']} but the stack's "
                f"aws:region is {config.region}; use a task definition of {config.region}"
            )
        if task["account"] != cluster["account"]:
            problems.append(
                f"{key}.taskDefinitionArn: is in account {task['account']} but the cluster "
                f"is in account {cluster['account']}; use a task definition of that account"
            )
    if (service.cpu is None) != (service.memory is None):
        problems.append(f"{key}: cpu and memory override the Fargate task size together; give both or neither")
    elif service.cpu is not None and service.memory is not None:
        sizes = FARGATE_SIZES.get(service.cpu)
        if sizes is None:
            problems.append(
                f"{key}.cpu: {service.cpu} is not a Fargate cpu size; use one of {', '.join(map(str, FARGATE_SIZES))}"
            )
        elif service.memory not in sizes:
            problems.append(
                f"{key}.memory: {service.memory} MiB is not valid with cpu {service.cpu} "
                f"on Fargate; use {sizes[0]}-{sizes[-1]} MiB"
                + (f" in steps of {sizes.step}" if isinstance(sizes, range) else f" ({', '.join(map(str, sizes))})")
            )
    return problems


def _local_service_problems(
    config: StackConfig, name: str, service: ServiceSettings, project_root: Path, key: str
) -> list[str]:
    problems = []
    if service.taskDefinitionArn is not None:
        problems.append(
            f"{key}.taskDefinitionArn: only allowed when environment is cloud; the local "
            "stack builds its own task definition from the image directory"
        )
    repository = naming.repository_name(config.stack, name)
    if not LOCAL_RESOURCE_NAME.match(repository):
        problems.append(
            f"{key}: the ECR repository and task family {repository!r} would be invalid "
            f"in stack {config.stack!r} (lower-case letters and digits joined by single "
            "'-' or '_'); use a lower-case stack name and no repeated hyphens"
        )
    image = Path(config.image_path(name))
    if image.is_absolute() or ".." in image.parts:
        problems.append(
            f"{key}.image: {str(image)!r} must be a directory inside the project (like service_images/<service>)"
        )
    elif not (project_root / image).is_dir():
        problems.append(
            f"{key}.image: directory {str(image)!r} does not exist; create it or point "
            "image at the service's source directory"
        )
    elif not (project_root / image / "Dockerfile").is_file():
        problems.append(
            f"{key}.image: {str(image)!r} has no Dockerfile; add one or point image at the directory that has it"
        )
    else:
        problems += _emits_problems(project_root / image, name, service, key)
    if service.cpu is not None and not 128 <= service.cpu <= 10240:
        problems.append(f"{key}.cpu: {service.cpu} is outside 128-10240 cpu units for an EC2 task")
    if service.memory is not None and not 128 <= service.memory <= 122880:
        problems.append(f"{key}.memory: {service.memory} MiB is outside 128-122880 MiB for an EC2 task")
    return problems


def _emits_problems(image_dir: Path, name: str, service: ServiceSettings, key: str) -> list[str]:
    """The service's emits.json must be readable and name the source its task role will enforce,
    and no other account may put what the service itself emits (it would speak for the service)."""
    try:
        emits = read_emits(image_dir)
    except ValueError as error:
        return [f"{key}.image: {error}; fix the file (see service_images/README.md)"]
    if emits is None:
        return []
    expected = naming.event_source(name)
    if emits.source != expected:
        return [
            f"{key}.image: {EMITS_FILE} declares source {emits.source!r}, but service {name!r} may only put "
            f"{expected!r} on its bus; name the service after its source or fix the declaration"
        ]
    problems = []
    for index, producer in enumerate(service.producers):
        own = sorted(set(producer.detailTypes) & set(emits.detail_types))
        if own:
            problems.append(
                f"{key}.producers.{index}.detailTypes: {', '.join(own)} {'is' if len(own) == 1 else 'are'} "
                f"emitted by {name} itself; another account may not speak for it: remove them"
            )
    return problems


def pulumi_config_map() -> dict[str, Any]:
    """The whole config map the engine handed this program, namespaced keys to raw values."""
    from pulumi.runtime import config as runtime_config

    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
