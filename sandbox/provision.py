"""Evaluate the Pulumi program under the mock runtime and create what it declares in the emulator.

`ProvisioningMocks` answers every resource registration by creating that resource in the emulator
from the resolved inputs the program registered, and returns the emulator's real ids and ARNs, so
every later input that references it (a rule's target, a role's ARN in a state machine) is the
emulator's own value. Invokes (`get_task_definition`, `get_caller_identity`, …) are answered by the
emulator too. There is no second description of the system: what `pulumi up` would create is what
the sandbox runs.

Resource types that play no part in the event flow (launch templates, auto scaling groups, …) are
recorded but not created; `Recording.recorded_only` lists them. The program's explicit AWS provider
(`pulumi:providers:aws`, which carries the default tags) is recorded too, but it is no resource of
the emulator and is not listed: the emulator applies no default tags.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from components.collector import pause_during_evaluation
from components.config import StackConfig
from components.stack import build

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# pulumi-docker-build's image: under mocks one resource, answered with a digest (nothing is built).
IMAGE_TYPE = "docker-build:index:Image"


@dataclass
class Resource:
    """One registered resource: type, logical name, resolved inputs and the state returned."""

    typ: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    created: bool
    """False when the type takes no part in the flow and was only recorded."""


@dataclass
class Recording:
    """Everything the program registered, plus its resolved stack outputs."""

    resources: list[Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, typ: str) -> list[Resource]:
        return [r for r in self.resources if r.typ == typ]

    @property
    def recorded_only(self) -> list[str]:
        return sorted(
            {
                r.typ
                for r in self.resources
                if not r.created and ":index:" not in r.typ and not r.typ.startswith("pulumi:providers:")
            }
        )


Handler = Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]]]


class ProvisioningMocks(pulumi.runtime.Mocks):
    """Pulumi mocks backed by the emulator: registering a resource creates it there."""

    def __init__(self, clients: Callable[[str], Any], region: str):
        self._client = clients
        self.region = region
        self.recording = Recording()
        self._lock = threading.Lock()
        self._handlers: dict[str, Handler] = {
            "aws:cloudwatch/eventBus:EventBus": self._event_bus,
            "aws:cloudwatch/eventRule:EventRule": self._event_rule,
            "aws:cloudwatch/eventTarget:EventTarget": self._event_target,
            "aws:cloudwatch/eventBusPolicy:EventBusPolicy": self._event_bus_policy,
            "aws:cloudwatch/eventArchive:EventArchive": self._event_archive,
            "aws:sqs/queue:Queue": self._queue,
            "aws:sqs/queuePolicy:QueuePolicy": self._queue_policy,
            "aws:iam/role:Role": self._role,
            "aws:iam/rolePolicy:RolePolicy": self._role_policy,
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment": self._role_policy_attachment,
            "aws:cloudwatch/logGroup:LogGroup": self._log_group,
            "aws:sfn/stateMachine:StateMachine": self._state_machine,
            "aws:scheduler/scheduleGroup:ScheduleGroup": self._schedule_group,
            "aws:scheduler/schedule:Schedule": self._schedule,
            "aws:ecs/cluster:Cluster": self._cluster,
            "aws:ecs/capacityProvider:CapacityProvider": self._capacity_provider,
            "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": self._cluster_capacity_providers,
            "aws:ecs/taskDefinition:TaskDefinition": self._task_definition,
            "aws:dynamodb/table:Table": self._table,
            "aws:ecr/repository:Repository": self._repository,
            "aws:kms/key:Key": self._key,
            "aws:sns/topic:Topic": self._topic,
            "aws:sns/topicPolicy:TopicPolicy": self._topic_policy,
            "aws:sns/topicSubscription:TopicSubscription": self._topic_subscription,
            "aws:cloudwatch/metricAlarm:MetricAlarm": self._metric_alarm,
            "aws:cloudwatch/dashboard:Dashboard": self._dashboard,
            "awsx:ec2:Vpc": self._vpc,
            IMAGE_TYPE: self._image,
        }

    # -- the Mocks interface -----------------------------------------------------------------

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = _whole_numbers(dict(args.inputs))
        handler = self._handlers.get(args.typ)
        if handler is not None:
            resource_id, state = handler(args.name, inputs)
        else:
            resource_id, state = f"{args.name}-id", {}
        state = {**inputs, **state}
        with self._lock:
            self.recording.resources.append(Resource(args.typ, args.name, inputs, state, created=handler is not None))
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        token, params = args.token, dict(args.args)
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            identity = self._client("sts").get_caller_identity()
            return {
                "accountId": identity["Account"],
                "arn": identity["Arn"],
                "userId": identity["UserId"],
                "id": identity["Account"],
            }
        if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            data = self._client("ecr").get_authorization_token()["authorizationData"][0]
            user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
            return {
                "authorizationToken": data["authorizationToken"],
                "userName": user,
                "password": password,
                "proxyEndpoint": data["proxyEndpoint"],
                "expiresAt": str(data["expiresAt"]),
                "id": self.region,
            }
        if token == "aws:index/getRegion:getRegion":
            return {"region": self.region, "name": self.region, "id": self.region}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            zones = self._client("ec2").describe_availability_zones()["AvailabilityZones"]
            return {"names": [z["ZoneName"] for z in zones], "id": self.region}
        if token == "aws:ec2/getInstanceTypes:getInstanceTypes":
            wanted = [v for f in params.get("filters", []) for v in f["values"]]
            found = self._client("ec2").describe_instance_types(Filters=[{"Name": "instance-type", "Values": wanted}])[
                "InstanceTypes"
            ]
            return {"instanceTypes": [t["InstanceType"] for t in found], "id": self.region}
        if token == "aws:ec2/getInstanceType:getInstanceType":
            (found,) = self._client("ec2").describe_instance_types(InstanceTypes=[params["instanceType"]])[
                "InstanceTypes"
            ]
            return {
                "instanceType": found["InstanceType"],
                "memorySize": found["MemoryInfo"]["SizeInMiB"],
                "defaultVcpus": found["VCpuInfo"]["DefaultVCpus"],
                "supportedArchitectures": found["ProcessorInfo"]["SupportedArchitectures"],
            }
        if token == "aws:ssm/getParameter:getParameter":
            value = self._client("ssm").get_parameter(Name=params["name"])["Parameter"]["Value"]
            return {
                "name": params["name"],
                "value": value,
                "insecureValue": value,
                "type": "String",
                "id": params["name"],
            }
        if token == "aws:ecs/getClusters:getClusters":
            return {"clusterArns": self._client("ecs").list_clusters()["clusterArns"], "id": self.region}
        if token == "aws:ecs/getCluster:getCluster":
            found = self._client("ecs").describe_clusters(clusters=[params["clusterName"]])["clusters"]
            cluster = found[0] if found else {}
            return {
                "arn": cluster.get("clusterArn", ""),
                "clusterName": params["clusterName"],
                "status": cluster.get("status", "MISSING"),
                "id": params["clusterName"],
            }
        if token == "aws:ecs/getTaskDefinition:getTaskDefinition":
            found = self._client("ecs").describe_task_definition(taskDefinition=params["taskDefinition"])[
                "taskDefinition"
            ]
            return {
                "arn": found["taskDefinitionArn"],
                "arnWithoutRevision": found["taskDefinitionArn"].rsplit(":", 1)[0],
                "family": found["family"],
                "revision": found["revision"],
                "containerDefinitions": json.dumps(found["containerDefinitions"]),
                "networkMode": found.get("networkMode", "bridge"),
                "requiresCompatibilities": found.get("requiresCompatibilities", []),
                "taskRoleArn": found.get("taskRoleArn", ""),
                "executionRoleArn": found.get("executionRoleArn", ""),
                "status": found.get("status", "ACTIVE"),
                "id": found["taskDefinitionArn"],
            }
        raise NotImplementedError(f"the sandbox cannot answer the invoke {token}")

    # -- handlers: create in the emulator, return (id, state) ---------------------------------

    def _event_bus(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        arn = self._client("events").create_event_bus(Name=i["name"])["EventBusArn"]
        return i["name"], {"arn": arn}

    def _event_rule(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        bus = i.get("eventBusName", "default")
        arn = self._client("events").put_rule(
            Name=i["name"],
            EventBusName=bus,
            EventPattern=i["eventPattern"],
            State="ENABLED",
            Description=i.get("description", ""),
        )["RuleArn"]
        return f"{bus}|{i['name']}", {"arn": arn}

    def _event_target(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        target: dict[str, Any] = {"Id": name, "Arn": i["arn"]}
        if i.get("roleArn"):
            target["RoleArn"] = i["roleArn"]
        if i.get("deadLetterConfig", {}).get("arn"):
            target["DeadLetterConfig"] = {"Arn": i["deadLetterConfig"]["arn"]}
        if i.get("retryPolicy"):
            policy = i["retryPolicy"]
            target["RetryPolicy"] = {
                "MaximumEventAgeInSeconds": policy["maximumEventAgeInSeconds"],
                "MaximumRetryAttempts": policy["maximumRetryAttempts"],
            }
        response = self._client("events").put_targets(
            Rule=i["rule"], EventBusName=i.get("eventBusName", "default"), Targets=[target]
        )
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"put_targets refused {name}: {response['FailedEntries']}")
        return name, {"targetId": name}

    def _event_bus_policy(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        # Stored on the bus as on AWS (describe_event_bus returns it), but the emulator enforces no
        # policy: tests/test_bus_policy.py evaluates the rendered document instead.
        bus = i.get("eventBusName", "default")
        self._client("events").put_permission(EventBusName=bus, Policy=i["policy"])
        return bus, {}

    def _event_archive(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        arn = self._client("events").create_archive(
            ArchiveName=i["name"],
            EventSourceArn=i["eventSourceArn"],
            Description=i.get("description", ""),
            RetentionDays=i.get("retentionDays", 0),
        )["ArchiveArn"]
        return i["name"], {"arn": arn}

    def _queue(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        attributes = {}
        if "messageRetentionSeconds" in i:
            attributes["MessageRetentionPeriod"] = str(i["messageRetentionSeconds"])
        if "sqsManagedSseEnabled" in i:
            attributes["SqsManagedSseEnabled"] = str(i["sqsManagedSseEnabled"]).lower()
        if i.get("kmsMasterKeyId"):
            attributes["KmsMasterKeyId"] = i["kmsMasterKeyId"]
        if i.get("policy"):
            attributes["Policy"] = i["policy"]
        sqs = self._client("sqs")
        url = sqs.create_queue(QueueName=i["name"], Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, {"url": url, "arn": arn}

    def _queue_policy(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self._client("sqs").set_queue_attributes(QueueUrl=i["queueUrl"], Attributes={"Policy": i["policy"]})
        return i["queueUrl"], {}

    def _role(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        # Pulumi would auto-name it `<logical>-<7 random chars>`; a counter keeps runs reproducible.
        role_name = i.get("name") or f"{name}-{len(self.recording.resources):07x}"
        role = self._client("iam").create_role(RoleName=role_name, AssumeRolePolicyDocument=i["assumeRolePolicy"])[
            "Role"
        ]
        for arn in i.get("managedPolicyArns") or []:
            self._client("iam").attach_role_policy(RoleName=role_name, PolicyArn=arn)
        # A role's inline policies are created with it, as the provider does.
        for inline in i.get("inlinePolicies") or []:
            self._client("iam").put_role_policy(
                RoleName=role_name, PolicyName=inline["name"], PolicyDocument=inline["policy"]
            )
        return role_name, {"name": role_name, "arn": role["Arn"]}

    def _role_policy(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self._client("iam").put_role_policy(RoleName=i["role"], PolicyName=name, PolicyDocument=i["policy"])
        return f"{i['role']}:{name}", {"name": name}

    def _role_policy_attachment(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        # AWS-managed policies are not all known to the emulator; the attachment is recorded only.
        return f"{i['role']}-{name}", {}

    def _log_group(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        logs = self._client("logs")
        logs.create_log_group(logGroupName=i["name"])
        if i.get("retentionInDays"):
            logs.put_retention_policy(logGroupName=i["name"], retentionInDays=i["retentionInDays"])
        group = logs.describe_log_groups(logGroupNamePrefix=i["name"])["logGroups"][0]
        # The provider reports the ARN without the trailing ":*" the API adds.
        return i["name"], {"arn": group["arn"].removesuffix(":*")}

    def _state_machine(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        arn = self._client("stepfunctions").create_state_machine(
            name=i["name"], definition=i["definition"], roleArn=i["roleArn"], type=i.get("type", "STANDARD")
        )["stateMachineArn"]
        return arn, {"arn": arn}

    def _schedule_group(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        arn = self._client("scheduler").create_schedule_group(Name=i["name"])["ScheduleGroupArn"]
        return i["name"], {"arn": arn}

    def _schedule(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        # The emulator stores the schedule but never fires it: `Sandbox.tick` does what a tick does.
        target = i["target"]
        params: dict[str, Any] = {"Arn": target["arn"], "RoleArn": target["roleArn"]}
        if "input" in target:
            params["Input"] = target["input"]
        if target.get("deadLetterConfig", {}).get("arn"):
            params["DeadLetterConfig"] = {"Arn": target["deadLetterConfig"]["arn"]}
        if target.get("retryPolicy"):
            policy = target["retryPolicy"]
            params["RetryPolicy"] = {
                "MaximumEventAgeInSeconds": policy["maximumEventAgeInSeconds"],
                "MaximumRetryAttempts": policy["maximumRetryAttempts"],
            }
        group = i.get("groupName", "default")
        arn = self._client("scheduler").create_schedule(
            Name=i["name"],
            GroupName=group,
            ScheduleExpression=i["scheduleExpression"],
            ScheduleExpressionTimezone=i.get("scheduleExpressionTimezone", "UTC"),
            FlexibleTimeWindow={"Mode": i["flexibleTimeWindow"]["mode"]},
            Target=params,
        )["ScheduleArn"]
        return f"{group}/{i['name']}", {"arn": arn}

    def _cluster(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        cluster = self._client("ecs").create_cluster(clusterName=i["name"])["cluster"]
        return cluster["clusterArn"], {"arn": cluster["clusterArn"]}

    def _capacity_provider(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        group = i.get("autoScalingGroupProvider", {})
        provider = self._client("ecs").create_capacity_provider(
            name=i["name"],
            autoScalingGroupProvider={"autoScalingGroupArn": group.get("autoScalingGroupArn", "")},
        )["capacityProvider"]
        return provider["capacityProviderArn"], {"arn": provider["capacityProviderArn"]}

    def _cluster_capacity_providers(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self._client("ecs").put_cluster_capacity_providers(
            cluster=i["clusterName"],
            capacityProviders=i.get("capacityProviders", []),
            defaultCapacityProviderStrategy=[
                {k: v for k, v in s.items() if k in ("capacityProvider", "weight", "base")}
                for s in i.get("defaultCapacityProviderStrategies", [])
            ],
        )
        return i["clusterName"], {}

    def _task_definition(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {
            "family": i["family"],
            "containerDefinitions": json.loads(i["containerDefinitions"]),
        }
        for key in ("cpu", "memory", "networkMode", "taskRoleArn", "executionRoleArn"):
            if i.get(key):
                params[key] = str(i[key])
        if i.get("requiresCompatibilities"):
            params["requiresCompatibilities"] = i["requiresCompatibilities"]
        found = self._client("ecs").register_task_definition(**params)["taskDefinition"]
        arn = found["taskDefinitionArn"]
        return arn, {"arn": arn, "revision": found["revision"], "arnWithoutRevision": arn.rsplit(":", 1)[0]}

    def _table(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        keys = [{"AttributeName": i["hashKey"], "KeyType": "HASH"}]
        if i.get("rangeKey"):
            keys.append({"AttributeName": i["rangeKey"], "KeyType": "RANGE"})
        table = self._client("dynamodb").create_table(
            TableName=i["name"],
            KeySchema=keys,
            BillingMode=i.get("billingMode", "PAY_PER_REQUEST"),
            AttributeDefinitions=[{"AttributeName": a["name"], "AttributeType": a["type"]} for a in i["attributes"]],
        )["TableDescription"]
        return i["name"], {"arn": table["TableArn"]}

    def _repository(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        repo = self._client("ecr").create_repository(repositoryName=i["name"])["repository"]
        return i["name"], {
            "arn": repo["repositoryArn"],
            "repositoryUrl": repo["repositoryUri"],
            "registryId": repo["registryId"],
        }

    def _key(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        kms = self._client("kms")
        key = kms.create_key(Description=i.get("description", ""), Policy=i["policy"])["KeyMetadata"]
        if i.get("enableKeyRotation"):
            kms.enable_key_rotation(KeyId=key["KeyId"])
        return key["KeyId"], {"arn": key["Arn"], "keyId": key["KeyId"]}

    def _topic(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        attributes = {"KmsMasterKeyId": i["kmsMasterKeyId"]} if i.get("kmsMasterKeyId") else {}
        arn = self._client("sns").create_topic(Name=i["name"], Attributes=attributes)["TopicArn"]
        return arn, {"arn": arn}

    def _topic_policy(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self._client("sns").set_topic_attributes(TopicArn=i["arn"], AttributeName="Policy", AttributeValue=i["policy"])
        return i["arn"], {}

    def _topic_subscription(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        arn = self._client("sns").subscribe(TopicArn=i["topic"], Protocol=i["protocol"], Endpoint=i["endpoint"])[
            "SubscriptionArn"
        ]
        return arn, {"arn": arn}

    def _metric_alarm(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        cloudwatch = self._client("cloudwatch")
        cloudwatch.put_metric_alarm(
            AlarmName=i["name"],
            AlarmDescription=i.get("alarmDescription", ""),
            Namespace=i["namespace"],
            MetricName=i["metricName"],
            Statistic=i["statistic"],
            Dimensions=[{"Name": k, "Value": v} for k, v in (i.get("dimensions") or {}).items()],
            Period=i["period"],
            EvaluationPeriods=i["evaluationPeriods"],
            Threshold=float(i["threshold"]),
            ComparisonOperator=i["comparisonOperator"],
            TreatMissingData=i.get("treatMissingData", "missing"),
            AlarmActions=i.get("alarmActions") or [],
            OKActions=i.get("okActions") or [],
        )
        (alarm,) = cloudwatch.describe_alarms(AlarmNames=[i["name"]])["MetricAlarms"]
        return i["name"], {"arn": alarm["AlarmArn"]}

    def _dashboard(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        cloudwatch = self._client("cloudwatch")
        cloudwatch.put_dashboard(DashboardName=i["dashboardName"], DashboardBody=i["dashboardBody"])
        arn = cloudwatch.get_dashboard(DashboardName=i["dashboardName"])["DashboardArn"]
        return i["dashboardName"], {"dashboardArn": arn}

    def _vpc(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        vpc_id, subnets = create_network(self._client("ec2"), i.get("cidrBlock", "10.0.0.0/16"))
        return vpc_id, {"vpcId": vpc_id, "publicSubnetIds": subnets, "privateSubnetIds": [], "isolatedSubnetIds": []}

    def _image(self, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        # No Docker engine here: the image is not built; its source directory runs as a process.
        # The digest stands for the build's content: the same inputs give the same digest.
        digest = "sha256:" + hashlib.sha256(json.dumps(i, sort_keys=True, default=str).encode()).hexdigest()
        (tag,) = i["tags"]
        return f"{name}-{digest[7:19]}", {"digest": digest, "ref": f"{tag}@{digest}"}


def _whole_numbers(value: Any) -> Any:
    """The mock runtime hands every number over as a float; AWS APIs want integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def create_network(ec2: Any, cidr: str = "10.0.0.0/16") -> tuple[str, list[str]]:
    """A VPC with two /24 subnets; DNS hostnames on, which the emulator's awsvpc tasks need."""
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    base = cidr.split(".")[:2]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"{base[0]}.{base[1]}.{n}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for n, zone in enumerate(zones)
    ]
    return vpc_id, subnets


def evaluate_program(mocks: ProvisioningMocks, config: StackConfig) -> Recording:
    """Run the program (what `__main__.py` runs) for `config` under `mocks`; wait for everything."""
    pulumi.runtime.set_mocks(mocks, project="event-tasks", stack=config.stack, preview=False)

    @pulumi.runtime.test
    def program() -> pulumi.Output:
        outputs = build(config, PROJECT_ROOT)
        return pulumi.Output.from_input(outputs).apply(mocks.recording.outputs.update)

    resume = pause_during_evaluation()  # as __main__.py does
    try:
        program()
    finally:
        resume()
    return mocks.recording
