"""The stack config contract: one validated model for everything a user writes in `Pulumi.<stack>.yaml`.

`load_config` turns the raw config map Pulumi hands the program (namespaced keys, structured values as
JSON strings) into a `StackConfig`, or raises `ConfigError` listing every problem with its key path.
It runs before any resource is registered, so a bad config never half-creates a stack.
`pulumi_config_map` reads that map through `pulumi.Config`.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator, model_validator

from components import naming, step_environment
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
    "protect",
    "archiveDays",
    "tags",
)
# Config keys of the pinned pulumi-aws provider (pulumi_aws/config/vars.py; a test keeps them equal).
AWS_PROVIDER_KEYS = (
    "accessKey",
    "allowedAccountIds",
    "assumeRoleWithWebIdentity",
    "assumeRoles",
    "customCaBundle",
    "defaultTags",
    "ec2MetadataServiceEndpoint",
    "ec2MetadataServiceEndpointMode",
    "endpoints",
    "forbiddenAccountIds",
    "httpProxy",
    "httpsProxy",
    "ignoreTags",
    "insecure",
    "maxRetries",
    "noProxy",
    "profile",
    "region",
    "retryMode",
    "s3UsEast1RegionalEndpoint",
    "s3UsePathStyle",
    "secretKey",
    "sharedConfigFiles",
    "sharedCredentialsFiles",
    "skipCredentialsValidation",
    "skipMetadataApiCheck",
    "skipRegionValidation",
    "skipRequestingAccountId",
    "stsRegion",
    "tagPolicyCompliance",
    "token",
    "tokenBucketRateLimiterCapacity",
    "useDualstackEndpoint",
    "useFipsEndpoint",
    "userAgents",
)
# Namespaces a key may live in: the project's, the engine's own, and the providers the program uses.
# A key anywhere else is a typo that would otherwise be ignored silently.
OTHER_NAMESPACES = ("pulumi", "docker-build")
# Where the aws provider takes its region from when `aws:region` is not set, in its order.
REGION_ENV_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION")

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
STEP_NAME_MAX = 40
STEP_NAME = re.compile(rf"^[a-z][a-z0-9-]{{0,{STEP_NAME_MAX - 1}}}$")
LOCAL_RESOURCE_NAME = re.compile(r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$")

# AWS tag limits (the Tagging API, EC2 included): keys 1-128, values 0-256 characters of letters,
# digits, spaces and _ . : / = + - @; `aws:` is reserved for AWS; at most 50 tags per resource.
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
TAG_CHARACTERS = re.compile(r"^[\w .:/=+\-@]*$")
MAX_TAGS = 50
# The tags every resource gets from the program itself (components/stack.py).
RESERVED_TAG_KEYS = ("project", "stack", "environment")
# The most tags a resource gets beside the configured ones: a task gets the stack's three by
# PropagateTags plus its trigger and event id; the auto scaling group the three plus
# AmazonECSManaged; instances the three plus Name. Over 50, RunTask (or the group) would fail.
PROGRAM_TAGS_MAX = len(RESERVED_TAG_KEYS) + 2
MAX_USER_TAGS = MAX_TAGS - PROGRAM_TAGS_MAX

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
# EventBridge Scheduler expressions (recurring only: a trigger is a standing flow, not a one-off `at(...)`).
RATE_EXPRESSION = re.compile(r"^rate\((?P<value>\d+) (?P<unit>minutes?|hours?|days?)\)$")
CRON_EXPRESSION = re.compile(r"^cron\((?P<fields>[^()]*)\)$")
# Per cron field (minutes, hours, day-of-month, month, day-of-week, year): allowed characters and the
# numeric range, as the Scheduler's cron reference gives them.
CRON_FIELDS = (
    ("minutes", re.compile(r"^[0-9,*/-]+$"), 0, 59),
    ("hours", re.compile(r"^[0-9,*/-]+$"), 0, 23),
    ("day-of-month", re.compile(r"^([0-9,*/-]+|\?|L|L-\d+|\d+W|LW)$"), 1, 31),
    ("month", re.compile(r"^([0-9,*/-]+|[A-Z]{3}(-[A-Z]{3})?(,[A-Z]{3})*)$"), 1, 12),
    ("day-of-week", re.compile(r"^([0-9,*/-]+|\?|\d?L|\d#\d|[A-Z]{3}(-[A-Z]{3})?(,[A-Z]{3})*)$"), 1, 7),
    ("year", re.compile(r"^[0-9,*/-]+$"), 1970, 2199),
)
# EventBridge quotas a large stack meets (Service Quotas, per region and account): rules per event
# bus (adjustable, default 300; one is kept free for the bus archive's managed rule) and targets
# per rule (fixed, 5: each trigger's rule has exactly one).
RULES_PER_BUS = 300
TARGETS_PER_RULE = 5
# EventBridge's event pattern size (Service Quotas: 2048 characters by default, adjustable to 4096),
# counted on the pattern as the program serialises it.
EVENT_PATTERN_MAX = 2048
# Content-filter operators EventBridge documents for event patterns.
FILTER_OPERATORS = (
    "prefix",
    "suffix",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
    "equals-ignore-case",
    "wildcard",
)
NUMERIC_COMPARISONS = ("<", "<=", "=", ">", ">=")
# ECS container overrides are capped at 8192 characters; Step Functions limits a state's TimeoutSeconds.
MAX_TIMEOUT_SECONDS = 31_536_000
# A Standard workflow's history holds 25,000 events; a step with its retries and compensation costs ~20.
MAX_STEPS = 20


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


class CapacityProviderShare(_Model):
    """One entry of a Fargate capacity provider strategy."""

    name: Literal["FARGATE", "FARGATE_SPOT"]
    """The cluster's Fargate capacity provider."""
    weight: int = Field(1, ge=0, le=1000)
    """Relative share of the tasks beyond `base` (ECS allows 0-1000)."""
    base: int = Field(0, ge=0, le=100000)
    """Tasks placed on this provider first (ECS allows 0-100000, on one provider only)."""


PLATFORM_VERSION = re.compile(r"^(LATEST|\d+\.\d+\.\d+)$")


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
    capacityProviders: list[CapacityProviderShare] | None = Field(None, min_length=1, max_length=2)
    """Weighted strategy over FARGATE and FARGATE_SPOT instead of `LaunchType: FARGATE`."""
    platformVersion: str | None = None
    """Fargate platform version (`LATEST` or like `1.4.0`); ECS's default when unset."""

    @field_validator("capacityProviders")
    @classmethod
    def _capacity_providers(cls, values: list[CapacityProviderShare] | None) -> list[CapacityProviderShare] | None:
        if values is None:
            return values
        names = [v.name for v in values]
        if len(set(names)) != len(names):
            raise ValueError(f"names a capacity provider twice: {names}; give each of FARGATE, FARGATE_SPOT once")
        if sum(1 for v in values if v.base) > 1:
            raise ValueError("gives base to more than one provider; ECS allows a base on one provider only")
        if not any(v.weight for v in values):
            raise ValueError("has no provider with a weight above 0; ECS would place no task beyond the base")
        return values

    @field_validator("platformVersion")
    @classmethod
    def _platform_version(cls, value: str | None) -> str | None:
        if value is not None and not PLATFORM_VERSION.match(value):
            raise ValueError(f"{value!r} is not a Fargate platform version; use LATEST or one like 1.4.0")
        return value

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
    containerInsights: bool = False
    """CloudWatch Container Insights on the cluster (billed as custom metrics and log ingestion)."""

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

    formerNames: list[str] = []
    """local only: earlier names of this service, oldest first. Its table and repository keep the
    oldest name's physical names and alias its URNs, so renaming the service replaces no data."""

    @field_validator("formerNames")
    @classmethod
    def _former_names(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if not NAME_PATTERN.match(v)]
        if bad:
            raise ValueError(f"{bad} are not service names (lower-case letters, digits and hyphens)")
        if len(set(values)) != len(values):
            raise ValueError(f"lists a name twice: {values}")
        return values

    enableExecuteCommand: bool = False
    """ECS Exec into this service's tasks (RunTask EnableExecuteCommand; SSM messages on the task role)."""

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


def _check_command(values: list[str] | None) -> list[str] | None:
    if values is not None and any(not v.strip() for v in values):
        raise ValueError(f"has a blank argument: {values}")
    return values


class StepSettings(_Model):
    """One step of an orchestrated trigger: a service's task, its result, and how to undo it."""

    name: str
    """Unique within the trigger; the step's result is `$.steps.<name>`."""
    service: str
    """The service whose task runs."""
    command: list[str] = Field(min_length=1)
    """Container command override of the step."""
    compensate: list[str] | None = Field(None, min_length=1)
    """Command that undoes the step when a later step fails (idempotent; retried)."""
    when: dict[str, str | list[str]] | None = Field(None, min_length=1)
    """Run only when each named earlier step's result `status` is (one of) the value(s); else skip."""
    result: bool = True
    """True: the task reports a JSON result with a task token (`waitForTaskToken`); False: `.sync`, no result."""
    timeoutSeconds: int = Field(900, ge=1, le=MAX_TIMEOUT_SECONDS)
    """Fail the step (and stop its task) after this many seconds."""
    heartbeatSeconds: int | None = Field(None, ge=1, le=MAX_TIMEOUT_SECONDS)
    """Result steps: fail the step when the task sends no heartbeat for this long (a crashed task)."""

    @field_validator("command", "compensate")
    @classmethod
    def _commands(cls, values: list[str] | None) -> list[str] | None:
        return _check_command(values)

    @model_validator(mode="after")
    def _heartbeat(self) -> StepSettings:
        if self.heartbeatSeconds is not None:
            if not self.result:
                raise ValueError("heartbeatSeconds needs result: true (a .sync step has no task token to beat with)")
            if self.heartbeatSeconds >= self.timeoutSeconds:
                raise ValueError(
                    f"heartbeatSeconds ({self.heartbeatSeconds}) must be less than timeoutSeconds "
                    f"({self.timeoutSeconds})"
                )
        return self


class TriggerSettings(_Model):
    """An event on one service's bus (or a schedule) that runs a service's task, or several in order (steps)."""

    bus: str | None = None
    """The service whose bus carries the event (not with `schedule`)."""
    detailTypes: list[str] | None = Field(None, min_length=1)
    """detail-type values that start the task (not with `schedule`)."""
    schedule: str | None = None
    """EventBridge Scheduler expression, `rate(...)` or `cron(...)`, instead of `bus`/`detailTypes`."""
    filter: dict[str, Any] | None = None
    """EventBridge pattern fragment over the event's `detail`, merged into the rule's pattern."""
    service: str | None = None
    """The service whose task runs (with `command`; or give `steps`)."""
    command: list[str] | None = Field(None, min_length=1)
    """Container command override, e.g. [python, -m, customer.reserve_credit]."""
    steps: list[StepSettings] | None = Field(None, min_length=1, max_length=MAX_STEPS)
    """Orchestration: tasks run in order, each seeing the earlier results; instead of service/command."""
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
    def _detail_types(cls, values: list[str] | None) -> list[str] | None:
        if values is None:
            return values
        for value in values:
            if not value.strip() or len(value) > 128:
                raise ValueError(f"{value!r} is not a detail-type (1-128 characters, not blank)")
        if len(set(values)) != len(values):
            raise ValueError(f"lists a detail-type twice: {values}")
        return values

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is not None:
            schedule_expression_problem = _schedule_problem(value)
            if schedule_expression_problem:
                raise ValueError(f"{value!r} {schedule_expression_problem}")
        return value

    @field_validator("filter")
    @classmethod
    def _filter(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            if not value:
                raise ValueError("is empty; give at least one detail field, e.g. {total: [{numeric: ['>', 1000]}]}")
            problem = _filter_problem(value, "")
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("command")
    @classmethod
    def _command(cls, values: list[str] | None) -> list[str] | None:
        return _check_command(values)

    @model_validator(mode="after")
    def _one_kind(self) -> TriggerSettings:
        single = self.service is not None or self.command is not None
        if self.steps is not None and single:
            raise ValueError("give either service and command (one task) or steps (orchestration), not both")
        if self.steps is not None:
            if "timeoutSeconds" in self.model_fields_set:
                raise ValueError("timeoutSeconds is per step in an orchestration; move it into the steps")
            names = [s.name for s in self.steps]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"step names must be unique; {', '.join(twice)} used twice")
        return self

    def failure_bus(self) -> str:
        """The service on whose bus this trigger's state machine announces that it gave up: the
        failed task's service, or for an orchestration (whose failure is the saga's) its own bus."""
        return self.bus if self.steps is not None else self.service  # type: ignore[return-value]

    def services_run(self) -> list[str]:
        """Every service whose task this trigger runs, in order of first use."""
        if self.steps is None:
            return [self.service] if self.service else []
        return list(dict.fromkeys(s.service for s in self.steps))

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
    tags: dict[str, str] = {}
    """Tags for every taggable resource, beside `project`, `stack` and `environment`."""

    @field_validator("tags")
    @classmethod
    def _tags(cls, values: dict[str, str]) -> dict[str, str]:
        problems = []
        if len(values) > MAX_USER_TAGS:
            problems.append(
                f"has {len(values)} tags; AWS allows {MAX_TAGS} per resource and the stack adds up to "
                f"{PROGRAM_TAGS_MAX} (project, stack, environment; a task's trigger and event id): "
                f"keep at most {MAX_USER_TAGS}"
            )
        for key, value in values.items():
            if len(value) > TAG_VALUE_MAX or not TAG_CHARACTERS.match(value):
                problems.append(
                    f"{key}: value {value!r} is not a tag value (0-{TAG_VALUE_MAX} letters, digits, "
                    "spaces and _ . : / = + - @)"
                )
            if not 1 <= len(key) <= TAG_KEY_MAX or not TAG_CHARACTERS.match(key):
                problems.append(
                    f"{key!r} is not a tag key (1-{TAG_KEY_MAX} letters, digits, spaces and _ . : / = + - @)"
                )
            elif key.lower().startswith("aws:"):
                problems.append(f"{key}: the aws: prefix is reserved for AWS; rename the tag")
            elif key in RESERVED_TAG_KEYS:
                problems.append(f"{key}: set by the stack itself ({', '.join(RESERVED_TAG_KEYS)}); rename the tag")
        if problems:
            raise ValueError("; ".join(problems))
        return values

    def stack_tags(self) -> dict[str, str]:
        """Every tag of the stack's resources: the configured ones and project, stack, environment."""
        return {**self.tags, "project": naming.PROJECT, "stack": self.stack, "environment": self.environment}

    def failure_detail_type(self, trigger: str) -> str:
        """detail-type of `trigger`'s failure event: its override, or `<Trigger in PascalCase>Failed`."""
        return self.triggers[trigger].failureDetailType or naming.failure_detail_type(trigger)

    protect: StrictBool | None = None
    """Protect the stateful resources (tables, repositories) from deletion; default: true for
    cloud, false for local. Either way they are retained when Pulumi would delete them."""

    @property
    def protected(self) -> bool:
        return self.environment == "cloud" if self.protect is None else self.protect

    def data_name(self, service: str) -> str:
        """The name the service's data (table, repository) is physically named after."""
        return (self.services[service].formerNames or [service])[0]

    archiveDays: int = Field(7, ge=0, le=36500)
    """Days each bus's EventBridge archive keeps events for replay; 0: no archive."""

    def container_name(self, service: str) -> str:
        return self.services[service].containerName or service

    def image_path(self, service: str) -> str:
        return self.services[service].image or f"service_images/{service}"


def load_config(
    raw: Mapping[str, Any],
    stack: str,
    project_root: Path | str = ".",
    environ: Mapping[str, str] | None = None,
) -> StackConfig:
    """Validate the raw Pulumi config map (keys like `event-tasks:services`) for `stack`.

    Structured values may be JSON strings (how the Pulumi engine passes them) or already parsed.
    The region is the aws provider's: `aws:region`, else `AWS_REGION` / `AWS_DEFAULT_REGION` from
    `environ` (default: this process's environment).
    """
    problems: list[str] = []
    data: dict[str, Any] = {"stack": stack}
    environ = os.environ if environ is None else environ
    region = raw.get("aws:region")
    source = "aws:region"
    for variable in REGION_ENV_VARS:
        if region is None and environ.get(variable):
            region, source = environ[variable], variable
    if _is_secret(region):
        problems.append(_secret_problem("aws:region"))
    elif not region:
        problems.append(
            "aws:region: required; set it with `pulumi config set aws:region <region>` "
            f"or export {' or '.join(REGION_ENV_VARS)}"
        )
    elif not REGION_PATTERN.match(str(region)):
        problems.append(f"{source}: {region!r} is not an AWS region (like ap-southeast-1)")
    else:
        data["region"] = region
    for key, value in raw.items():
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE:
            problems += _foreign_key_problems(key, namespace, name)
            continue
        if name not in TOP_LEVEL_KEYS:
            problems.append(
                f"{key}: unknown key; allowed: {', '.join(TOP_LEVEL_KEYS)}"
                + _did_you_mean(name, TOP_LEVEL_KEYS, NAMESPACE)
            )
            continue
        if _is_secret(value):
            problems.append(_secret_problem(key))
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


def _did_you_mean(name: str, choices: tuple[str, ...] | list[str], namespace: str) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f"; did you mean `{namespace}:{close[0]}`?" if close else ""


def _foreign_key_problems(key: str, namespace: str, name: str) -> list[str]:
    """A key outside the project's namespace must be a provider's (or the engine's) real key."""
    if namespace == "aws":
        if name in AWS_PROVIDER_KEYS:
            return []
        return [
            f"{key}: not a config key of the aws provider{_did_you_mean(name, AWS_PROVIDER_KEYS, 'aws')} "
            "(its keys: region, profile, defaultTags, assumeRoles, ...)"
        ]
    if namespace in OTHER_NAMESPACES:
        return []
    known = (NAMESPACE, "aws", *OTHER_NAMESPACES)
    close = difflib.get_close_matches(namespace, known, n=1)
    hint = f"; did you mean `{close[0]}:{name}`?" if close else ""
    return [
        f"{key}: unknown namespace {namespace!r}{hint} (keys belong to this project, `{NAMESPACE}:`, "
        f"or a provider it uses: {', '.join(f'`{n}:`' for n in known[1:])})"
    ]


def _is_secret(value: Any) -> bool:
    import pulumi

    return isinstance(value, pulumi.Output)


def _secret_problem(key: str) -> str:
    # The values become physical names, ARNs and tags, which Pulumi stores and shows in plain text:
    # using a secret here would quietly reveal it.
    return (
        f"{key}: is a secret, but its values become resource names, ARNs and tags that Pulumi "
        f"stores in plain text; set it without --secret (`pulumi config set {key} ...`)"
    )


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


def event_pattern_size(source: str, detail_types: list[str], detail_filter: dict[str, Any] | None) -> int:
    """Characters of the rule's pattern as `TaskTriggerRule` serialises it (json.dumps defaults)."""
    pattern: dict[str, Any] = {"source": [source], "detail-type": list(detail_types)}
    if detail_filter:
        pattern["detail"] = detail_filter
    return len(json.dumps(pattern))


def _filter_problem(fragment: Any, path: str) -> str | None:
    """Why `fragment` (an object of detail fields) is not an EventBridge pattern, or None."""
    if not isinstance(fragment, dict):
        return f"{path or 'filter'}: expected an object of detail fields, got {type(fragment).__name__}"
    for key, value in fragment.items():
        here = f"{path}.{key}" if path else str(key)
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                return f"{here}: expected a list of at least two objects of detail fields"
            for index, option in enumerate(value):
                problem = _filter_problem(option, f"{here}[{index}]")
                if problem:
                    return problem
        elif not isinstance(key, str) or not key or key.startswith("$"):
            return f"{here}: not a detail field name"
        elif isinstance(value, dict):
            problem = _filter_problem(value, here)
            if problem:
                return problem
        elif isinstance(value, list):
            if not value:
                return f"{here}: an empty list matches nothing; give at least one value or operator"
            for index, matcher in enumerate(value):
                problem = _matcher_problem(matcher, f"{here}[{index}]")
                if problem:
                    return problem
        else:
            return f"{here}: {value!r} must be a list of values or operators, e.g. [{value!r}]"
    return None


def _matcher_problem(matcher: Any, path: str) -> str | None:
    if matcher is None or isinstance(matcher, (str, int, float, bool)):
        return None
    if not isinstance(matcher, dict) or len(matcher) != 1:
        return f"{path}: an operator is an object with exactly one of {', '.join(FILTER_OPERATORS)}"
    ((operator, operand),) = matcher.items()
    if operator not in FILTER_OPERATORS:
        return f"{path}: unknown operator {operator!r}; use one of {', '.join(FILTER_OPERATORS)}"
    if operator == "numeric":
        pairs = operand if isinstance(operand, list) else []
        valid = len(pairs) in (2, 4) and all(
            isinstance(pairs[i], str)
            and pairs[i] in NUMERIC_COMPARISONS
            and isinstance(pairs[i + 1], (int, float))
            and not isinstance(pairs[i + 1], bool)
            for i in range(0, len(pairs), 2)
        )
        if not valid:
            return (
                f"{path}.numeric: expected [op, number] or [op, number, op, number] "
                f"with op one of {' '.join(NUMERIC_COMPARISONS)}"
            )
    elif operator == "exists":
        if not isinstance(operand, bool):
            return f"{path}.exists: expected true or false"
    elif operator == "anything-but":
        if isinstance(operand, dict):
            return (
                _matcher_problem(operand, f"{path}.anything-but")
                if set(operand)
                <= {
                    "prefix",
                    "suffix",
                    "equals-ignore-case",
                    "wildcard",
                }
                else f"{path}.anything-but: only prefix, suffix, equals-ignore-case or wildcard may be nested"
            )
        if isinstance(operand, list):
            if not operand or not all(isinstance(v, (str, int, float)) for v in operand):
                return f"{path}.anything-but: expected a non-empty list of strings or numbers"
        elif not isinstance(operand, (str, int, float)):
            return f"{path}.anything-but: expected a value, a list of values or a prefix/suffix object"
    elif operator in ("prefix", "suffix"):
        if not (isinstance(operand, str) or (isinstance(operand, dict) and set(operand) == {"equals-ignore-case"})):
            return f"{path}.{operator}: expected a string"
    elif not isinstance(operand, str):
        return f"{path}.{operator}: expected a string"
    return None


def _schedule_problem(expression: str) -> str | None:
    """Why `expression` is not a recurring EventBridge Scheduler expression, or None."""
    rate = RATE_EXPRESSION.match(expression)
    if expression.startswith("rate("):
        if not rate:
            return "is not a rate expression; use rate(<n> minutes|hours|days), e.g. rate(1 day) or rate(15 minutes)"
        value, unit = int(rate["value"]), rate["unit"]
        if value < 1:
            return "has a rate below 1; use a positive whole number, e.g. rate(5 minutes)"
        if (value == 1) != (not unit.endswith("s")):
            fixed = unit.rstrip("s") if value == 1 else unit.rstrip("s") + "s"
            return f"must use the {'singular' if value == 1 else 'plural'} unit; write rate({value} {fixed})"
        return None
    cron = CRON_EXPRESSION.match(expression)
    if expression.startswith("cron("):
        fields = cron["fields"].split() if cron else []
        if len(fields) != len(CRON_FIELDS):
            return (
                "is not a cron expression; use cron(minutes hours day-of-month month day-of-week year), "
                "six fields, e.g. cron(0 3 * * ? *)"
            )
        for text, (name, pattern, low, high) in zip(fields, CRON_FIELDS, strict=True):
            numbers = [int(n) for n in re.findall(r"\d+", text)] if "#" not in text else []
            if not pattern.match(text) or any(n > high or (n < low and "/" not in text) for n in numbers):
                return f"has an invalid {name} field {text!r} (values {low}-{high})"
        if (fields[2] == "?") == (fields[4] == "?"):
            return "must have '?' in exactly one of day-of-month and day-of-week, e.g. cron(0 3 * * ? *)"
        return None
    if expression.startswith("at("):
        return "is a one-time schedule; a trigger recurs: use rate(...) or cron(...)"
    return "is not a schedule expression; use rate(<n> <unit>) or cron(<six fields>), e.g. rate(1 day)"


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
        # `X | None` first, then a map's key or a list's index is skipped.
        if get_origin(annotation) in (Union, UnionType):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        if get_origin(annotation) in (dict, list):
            parts = parts[1:]
            annotation = get_args(annotation)[-1]
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

    for limit, physical_name in naming.stack_names(config.stack, local=not cloud):
        if len(physical_name) > limit.limit:
            allowed = len(config.stack) - (len(physical_name) - limit.limit)
            problems.append(
                f"stack {config.stack!r}: the {limit.what} {physical_name!r} would be {len(physical_name)} "
                f"characters (limit {limit.limit}); use a stack name of at most {allowed} characters "
                "(`pulumi stack rename`)"
            )
    for name in services:
        problems += _name_problems(
            f"{ns}:services.{name}",
            name,
            "service",
            config.stack,
            # Without an archive there is no archive name to fit.
            [n for n in naming.service_names(config.stack, name) if config.archiveDays or n[0] is not naming.ARCHIVE],
        )
    for name in sorted(config.triggers):
        problems += _name_problems(
            f"{ns}:triggers.{name}", name, "trigger", config.stack, naming.trigger_names(config.stack, name)
        )

    for name, service in sorted(config.services.items()):
        taken = sorted(set(service.formerNames) & set(config.services))
        if taken:
            problems.append(
                f"{ns}:services.{name}.formerNames: {', '.join(taken)} is a current service; "
                "list only names no service has any more"
            )

    runners: dict[str, list[str]] = {}
    rules_per_bus: dict[str, list[str]] = {}
    for name, trigger in sorted(config.triggers.items()):
        problems += _trigger_source_problems(f"{ns}:triggers.{name}", trigger)
        if trigger.bus is not None:
            rules_per_bus.setdefault(trigger.bus, []).append(name)
        if trigger.steps is None:
            for field in ("service", "command"):
                if getattr(trigger, field) is None:
                    problems.append(f"{ns}:triggers.{name}.{field}: required (or give steps for an orchestration)")
        elif trigger.schedule is not None:
            problems.append(
                f"{ns}:triggers.{name}.schedule: an orchestration runs on events (bus and detailTypes); "
                "remove schedule, or run one task on the schedule"
            )
        for field in ("bus", "service"):
            value = getattr(trigger, field)
            if value is not None and value not in config.services:
                problems.append(
                    f"{ns}:triggers.{name}.{field}: {value!r} is not a service; services are: {', '.join(services)}"
                )
        if trigger.steps is not None:
            problems += _step_problems(f"{ns}:triggers.{name}.steps", trigger.steps, services)
        for service in trigger.services_run():
            runners.setdefault(service, []).append(name)
    rules_allowed = RULES_PER_BUS - (1 if config.archiveDays else 0)
    for bus, names in sorted(rules_per_bus.items()):
        if len(names) > rules_allowed:
            problems.append(
                f"{ns}:triggers: {len(names)} triggers on the {bus} bus exceed EventBridge's {RULES_PER_BUS} "
                f"rules per bus (one kept for the archive); move triggers to another bus or raise the quota "
                "and this limit together"
            )

    problems += _failure_loop_problems(config)
    problems += _rules_role_problems(config)

    for name, service in sorted(config.services.items()):
        key = f"{ns}:services.{name}"
        if cloud:
            problems += _cloud_service_problems(config, name, service, runners.get(name, []), key)
        else:
            problems += _local_service_problems(config, name, service, project_root, key)
    return problems


def _step_problems(key: str, steps: list[StepSettings], services: list[str]) -> list[str]:
    """An orchestration's steps: known services, names that fit state names, `when` on earlier
    result steps, and every step's container overrides within ECS's limit (see naming.py)."""
    problems = []
    earlier: dict[str, StepSettings] = {}
    for index, step in enumerate(steps):
        at = f"{key}.{index}"
        if not STEP_NAME.match(step.name):
            problems.append(
                f"{at}.name: {step.name!r} is not a step name; use 1-{STEP_NAME_MAX} lower-case letters, digits "
                "and hyphens, starting with a letter"
            )
        if step.service not in services:
            problems.append(f"{at}.service: {step.service!r} is not a service; services are: {', '.join(services)}")
        for ref, wanted in (step.when or {}).items():
            values = [wanted] if isinstance(wanted, str) else wanted
            if ref not in earlier:
                problems.append(
                    f"{at}.when.{ref}: not an earlier step; a step can only wait on the results of steps before it "
                    f"({', '.join(earlier) or 'none'})"
                )
            elif not earlier[ref].result:
                problems.append(
                    f"{at}.when.{ref}: step {ref!r} has result: false, so there is no status to test; "
                    "give it result: true"
                )
            if not values or any(not isinstance(v, str) or not v.strip() for v in values):
                problems.append(f"{at}.when.{ref}: expected a status or a list of statuses, got {wanted!r}")
        worst = step_environment.worst_override_chars(step.command, index, result=step.result)
        if worst > step_environment.CONTAINER_OVERRIDES_MAX:
            problems.append(
                f"{at}.command: the step's container overrides could reach {worst} characters (ECS allows "
                f"{step_environment.CONTAINER_OVERRIDES_MAX}) with an event detail of "
                f"{step_environment.DETAIL_MAX} and {index} earlier result(s); shorten the command or use fewer steps"
            )
        earlier[step.name] = step
    return problems


def _rules_role_problems(config: StackConfig) -> list[str]:
    """Refuse a bus whose rules role could not name all its state machines within IAM's size limit
    (the deployment would fail half-way, on the role, with LimitExceeded)."""
    partition = next(
        (p for prefix, p in (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov")) if config.region.startswith(prefix)), "aws"
    )
    problems = []
    # Scheduled triggers have no rule: the scheduler's own role starts their state machines.
    ruled = {n: t.bus for n, t in config.triggers.items() if t.schedule is None and t.bus is not None}
    for bus in sorted(set(ruled.values())):
        names = sorted(n for n, b in ruled.items() if b == bus)
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
            other
            for other, t in config.triggers.items()
            if t.bus == trigger.failure_bus() and detail_type in (t.detailTypes or [])
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


def _trigger_source_problems(key: str, trigger: TriggerSettings) -> list[str]:
    """A trigger runs on events (bus + detailTypes) or on a schedule, never both, never neither;
    a content filter needs events and must keep the rule's pattern within EventBridge's size."""
    if trigger.filter is not None and trigger.schedule is not None:
        return [f"{key}.filter: filters events, and this trigger runs on a schedule; remove filter (or schedule)"]
    if trigger.filter is not None and trigger.detailTypes is not None:
        size = event_pattern_size(naming.event_source(trigger.bus or ""), trigger.detailTypes, trigger.filter)
        if size > EVENT_PATTERN_MAX:
            return [
                f"{key}.filter: makes the rule's event pattern {size} characters, over EventBridge's "
                f"{EVENT_PATTERN_MAX}; shorten the filter, or split the trigger"
            ]
    if trigger.schedule is not None:
        given = [f for f in ("bus", "detailTypes") if getattr(trigger, f) is not None]
        if given:
            return [
                f"{key}.schedule: a trigger runs on a schedule or on events, not both; remove "
                f"{' and '.join(given)} (or schedule)"
            ]
        return []
    problems = [
        f"{key}.{f}: required (or give schedule instead)" for f in ("bus", "detailTypes") if getattr(trigger, f) is None
    ]
    return problems


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
            fix = (
                f"use a {what} name of at most {allowed} characters"
                if allowed > 0
                else f"the stack name leaves no room for any {what} name: use a shorter stack name"
            )
            problems.append(
                f"{key}: the {limit.what} {physical_name!r} would be {len(physical_name)} characters "
                f"(limit {limit.limit}) in stack {stack!r}; {fix}"
            )
    return problems


def _cloud_service_problems(
    config: StackConfig, name: str, service: ServiceSettings, runners: list[str], key: str
) -> list[str]:
    problems = []
    if service.formerNames:
        problems.append(f"{key}.formerNames: only allowed when environment is local; the cloud stack owns no data")
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
    """The stack's config as `load_config` takes it, read through `pulumi.Config`.

    The engine's config bag (`pulumi.runtime.get_config_env`) gives only the key names. Values of
    this project's keys come from `Config.get_object`; a key the user set with `--secret` comes
    from `Config.get_secret_object`, an `Output` that stays secret (and `load_config` refuses it).
    Of the providers' keys only `aws:region` is read; the others' names suffice to catch typos.
    """
    import pulumi
    from pulumi import runtime

    secret_keys = set(runtime.get_config_secret_keys_env())
    raw: dict[str, Any] = {}
    for key in sorted(runtime.get_config_env()):
        namespace, _, name = key.partition(":")
        bag = pulumi.Config(namespace)
        secret = runtime.is_config_secret(key) or key in secret_keys
        if namespace == NAMESPACE:
            raw[key] = _read(bag, name, secret)
        elif key == "aws:region":
            raw[key] = bag.get_secret(name) if secret else bag.get(name)
        else:
            raw[key] = None  # never read: a provider's key may hold credentials
    return raw


def _read(bag: Any, name: str, secret: bool) -> Any:
    """One of this project's keys, typed as the model wants it; a value of the wrong type is handed
    over as its string, so `load_config` names the key and the expected type."""
    import pulumi

    objects = name in ("cloud", "local", "services", "triggers")
    if secret:
        return bag.get_secret_object(name) if objects else bag.get_secret(name)
    try:
        if objects:
            return bag.get_object(name)
        if name == "logRetentionDays":
            return bag.get_int(name)
        if name == "protect":
            return bag.get_bool(name)
    except pulumi.ConfigTypeError:
        pass
    return bag.get(name)
