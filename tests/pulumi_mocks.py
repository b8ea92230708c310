"""The tests' type-aware Pulumi `Mocks` and the helpers that evaluate the program under them, handing
back plain data (resolved outputs and every registered resource with its inputs).

Kept apart from `conftest.py` so that what evaluates the program outside pytest (`make bench`'s
evaluation in a new interpreter) pays for the program and the SDK only, not for importing pytest.
Tests import from it directly; `conftest.py` builds its fixtures (`mocks`, `deploy`, the shipped stacks) on it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from components.collector import pause_during_evaluation
from components.config import read_stack_file

ROOT = Path(__file__).resolve().parent.parent
# The tests' own stack files: the shipped Pulumi.<stack>.yaml belong to the user, who edits them.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REGION = "ap-southeast-1"
ACCOUNT = "123456789012"


FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


# What the region offers, as aws.ec2.get_instance_type answers (memory in MiB).
INSTANCE_TYPES = {
    "t3.micro": {"memorySize": 1024, "defaultVcpus": 2, "supportedArchitectures": ["x86_64"]},
    "t2.micro": {"memorySize": 1024, "defaultVcpus": 1, "supportedArchitectures": ["i386", "x86_64"]},
    "m5.large": {"memorySize": 8192, "defaultVcpus": 2, "supportedArchitectures": ["x86_64"]},
    "mac1.metal": {"memorySize": 32768, "defaultVcpus": 12, "supportedArchitectures": ["x86_64_mac"]},
}


@dataclass
class Registered:
    """One resource the program registered: its type, logical name, inputs and mocked state."""

    typ: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    custom: bool
    provider: str = ""
    """The explicit provider reference (`<urn>::<id>`) it was registered with; "" for the default."""

    def json(self, key: str) -> Any:
        """Parse a JSON-string input such as a policy or a state machine definition."""
        return json.loads(self.inputs[key])

    def inline_policy(self) -> Any:
        """Parse a role's one inline policy document."""
        (policy,) = self.inputs["inlinePolicies"]
        return json.loads(policy["policy"])


def task_definition_answer(arn: str) -> dict[str, Any]:
    """What `aws.ecs.get_task_definition` returns for an existing Fargate task definition."""
    match = re.match(r"^arn:aws:ecs:([^:]+):(\d+):task-definition/([^:]+):(\d+)$", arn)
    assert match, arn
    _region, account, family, revision = match.groups()
    return {
        "arn": arn,
        "arnWithoutRevision": arn.rsplit(":", 1)[0],
        "family": family,
        "revision": int(revision),
        "containerDefinitions": json.dumps([{"name": family, "image": f"{family}:latest", "essential": True}]),
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "status": "ACTIVE",
        "taskRoleArn": f"arn:aws:iam::{account}:role/{family}-task",
        "executionRoleArn": f"arn:aws:iam::{account}:role/{family}-execution",
    }


@dataclass
class Mocks(pulumi.runtime.Mocks):
    """Answers resource registrations with realistic ids/ARNs and invokes in camelCase."""

    task_definitions: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    """Answers of the task definition lookup by ARN (None: it does not exist); others get a default."""
    cluster_status: str | None = "ACTIVE"
    """What the cluster lookup reports; None: the cluster does not exist."""
    resources: list[Registered] = field(default_factory=list)
    """Every resource registered, in order."""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Every invoke made."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        name = inputs.get("name") or f"{args.name}-{len(self.resources):07x}"
        state = {**inputs, **self._state(args.typ, name, inputs)}
        self.resources.append(Registered(args.typ, args.name, inputs, state, bool(args.custom), args.provider or ""))
        return state.get("id", f"{name}-id"), state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        self.calls.append((args.token, dict(args.args)))
        return self._answer(args.token, dict(args.args))

    def _state(self, typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
        if typ == "aws:cloudwatch/eventBus:EventBus":
            return {"name": name, "arn": arn.format("events", f"event-bus/{name}"), "id": name}
        if typ == "aws:cloudwatch/eventRule:EventRule":
            bus = inputs.get("eventBusName", "default")
            path = f"rule/{name}" if bus == "default" else f"rule/{bus}/{name}"
            return {"name": name, "arn": arn.format("events", path), "id": f"{bus}|{name}"}
        if typ == "aws:cloudwatch/eventArchive:EventArchive":
            return {"name": name, "arn": arn.format("events", f"archive/{name}"), "id": name}
        if typ == "aws:scheduler/scheduleGroup:ScheduleGroup":
            return {"name": name, "arn": arn.format("scheduler", f"schedule-group/{name}"), "id": name}
        if typ == "aws:scheduler/schedule:Schedule":
            group = inputs.get("groupName", "default")
            return {"name": name, "arn": arn.format("scheduler", f"schedule/{group}/{name}"), "id": f"{group}/{name}"}
        if typ == "aws:sqs/queue:Queue":
            url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
            return {"name": name, "arn": arn.format("sqs", name), "url": url, "id": url}
        if typ == "aws:iam/role:Role":
            return {"name": name, "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "id": name}
        if typ == "aws:iam/instanceProfile:InstanceProfile":
            return {"name": name, "arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{name}", "id": name}
        if typ == "aws:cloudwatch/logGroup:LogGroup":
            return {"name": name, "arn": arn.format("logs", f"log-group:{name}"), "id": name}
        if typ == "aws:sfn/stateMachine:StateMachine":
            sm_arn = arn.format("states", f"stateMachine:{name}")
            return {"name": name, "arn": sm_arn, "id": sm_arn}
        if typ == "aws:ecs/cluster:Cluster":
            return {"name": name, "arn": arn.format("ecs", f"cluster/{name}"), "id": name}
        if typ == "aws:ecs/capacityProvider:CapacityProvider":
            return {"name": name, "arn": arn.format("ecs", f"capacity-provider/{name}"), "id": name}
        if typ == "aws:ecs/taskDefinition:TaskDefinition":
            family = inputs["family"]
            return {
                "arn": arn.format("ecs", f"task-definition/{family}:1"),
                "revision": 1,
                "arnWithoutRevision": arn.format("ecs", f"task-definition/{family}"),
                "id": family,
            }
        if typ == "aws:ecr/repository:Repository":
            return {
                "name": name,
                "arn": arn.format("ecr", f"repository/{name}"),
                "id": name,
                "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}",
                "registryId": ACCOUNT,
            }
        if typ == "aws:dynamodb/table:Table":
            return {"name": name, "arn": arn.format("dynamodb", f"table/{name}"), "id": name}
        if typ == "aws:ec2/launchTemplate:LaunchTemplate":
            return {
                "arn": arn.format("ec2", "launch-template/lt-0123456789abcdef0"),
                "id": "lt-0123456789abcdef0",
                "latestVersion": 1,
            }
        if typ == "aws:autoscaling/group:Group":
            return {
                "name": name,
                "id": name,
                "arn": f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:uuid:autoScalingGroupName/{name}",
            }
        if typ == "aws:ec2/vpc:Vpc":
            return {"id": "vpc-0123456789abcdef0", "arn": arn.format("ec2", "vpc/vpc-0123456789abcdef0")}
        if typ == "aws:ec2/subnet:Subnet":
            subnet = f"subnet-{len(self.resources):017x}"  # distinct per subnet
            return {"id": subnet, "arn": arn.format("ec2", f"subnet/{subnet}")}
        if typ == "aws:ec2/internetGateway:InternetGateway":
            return {"id": "igw-0123456789abcdef0"}
        if typ == "aws:ec2/routeTable:RouteTable":
            return {"id": "rtb-0123456789abcdef0"}
        if typ == "aws:ec2/securityGroup:SecurityGroup":
            return {"id": "sg-0123456789abcdef0", "arn": arn.format("ec2", "security-group/sg-0")}
        if typ == "aws:sns/topic:Topic":
            topic_arn = arn.format("sns", name)
            return {"name": name, "arn": topic_arn, "id": topic_arn}
        if typ == "aws:kms/key:Key":
            key_id = "0123abcd-0123-4567-89ab-0123456789ab"
            return {"arn": arn.format("kms", f"key/{key_id}"), "keyId": key_id, "id": key_id}
        if typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            return {"name": name, "arn": arn.format("cloudwatch", f"alarm:{name}"), "id": name}
        if typ == "aws:cloudwatch/dashboard:Dashboard":
            dashboard = inputs["dashboardName"]
            return {"dashboardName": dashboard, "dashboardArn": f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{dashboard}"}
        if typ == "awsx:ec2:Vpc":
            # awsx components register as one resource under mocks: only these outputs exist.
            return {
                "vpcId": "vpc-0123456789abcdef0",
                "publicSubnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
                "privateSubnetIds": [],
                "isolatedSubnetIds": [],
            }
        if typ == "docker-build:index:Image":
            # A component under mocks: one resource with the outputs the program reads.
            digest = f"sha256:{'0' * 64}"
            return {"digest": digest, "ref": f"{inputs['tags'][0]}@{digest}"}
        return {}

    def _answer(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/test",
                "userId": "AIDTEST",
                "id": ACCOUNT,
            }
        if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                "authorizationToken": "QVdTOnRva2Vu",  # base64 of AWS:token
                "userName": "AWS",
                "password": "token",
                "proxyEndpoint": f"https://{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com",
                "expiresAt": "2030-01-01T00:00:00Z",
                "id": REGION,
            }
        if token == "aws:index/getRegion:getRegion":
            return {"region": REGION, "name": REGION, "id": REGION}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if token == "aws:ecs/getClusters:getClusters":
            arns = [] if self.cluster_status is None else [f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/shared"]
            return {"clusterArns": arns, "id": REGION}
        if token == "aws:ecs/getCluster:getCluster":
            cluster = args["clusterName"]
            return {
                "arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}",
                "clusterName": cluster,
                "status": self.cluster_status,
                "id": cluster,
            }
        if token == "aws:ecs/getTaskDefinition:getTaskDefinition":
            arn = args["taskDefinition"]
            if arn in self.task_definitions and self.task_definitions[arn] is None:
                raise Exception(
                    f"reading ECS Task Definition ({arn}): ClientException: Unable to describe task definition."
                )
            return self.task_definitions.get(arn) or task_definition_answer(arn)
        if token == "aws:ec2/getInstanceTypes:getInstanceTypes":
            wanted = args["filters"][0]["values"]
            return {"instanceTypes": [t for t in wanted if t in INSTANCE_TYPES], "id": REGION}
        if token == "aws:ec2/getInstanceType:getInstanceType":
            return {"instanceType": args["instanceType"], **INSTANCE_TYPES[args["instanceType"]]}
        if token == "aws:ssm/getParameter:getParameter":
            # The provider marks `value` secret always; a public parameter is read from `insecureValue`.
            ami = "ami-0123456789abcdef0"
            return {"name": args["name"], "value": ami, "insecureValue": ami, "type": "String", "id": args["name"]}
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": [f"{REGION}a", f"{REGION}b", f"{REGION}c"]}
        raise AssertionError(f"unexpected invoke {token} {args}")


def stack_config(stack: str) -> dict[str, Any]:
    """The raw config map of the fixture tests/fixtures/Pulumi.<stack>.yaml, as the engine passes it."""
    return read_stack_file(FIXTURES / f"Pulumi.{stack}.yaml")


@dataclass
class Deployment:
    """A program evaluated under mocks: plain outputs and every registered resource."""

    outputs: dict[str, Any]
    resources: list[Registered]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Every invoke (lookup) the program made."""

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.typ == typ]

    def named(self, name: str) -> Registered:
        (found,) = [r for r in self.resources if r.name == name]
        return found


def evaluate_under_mocks(mocks: Mocks, fn: Callable[[], Any], stack: str = "test") -> Any:
    """Run `fn` as a Pulumi program under `mocks`, wait for every registration, return its resolved value."""
    pulumi.runtime.set_mocks(mocks, project="event-tasks", stack=stack, preview=False)
    box: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output:
        return pulumi.Output.from_input(fn()).apply(lambda value: box.setdefault("value", value))

    resume = pause_during_evaluation()  # as __main__.py does
    try:
        program()
    finally:
        resume()
    return box.get("value")


def deploy_under_mocks(mocks: Mocks, stack: str, raw: dict[str, Any] | None = None) -> Deployment:
    """Evaluate the whole program for `stack` with `raw` config (default: the fixture Pulumi.<stack>.yaml)."""
    from components.config import load_config
    from components.stack import build

    raw = stack_config(stack) if raw is None else raw
    outputs = evaluate_under_mocks(mocks, lambda: build(load_config(raw, stack, ROOT), ROOT), stack)
    return Deployment(outputs, mocks.resources, mocks.calls)
