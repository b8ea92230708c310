"""The whole `local` stack from Pulumi.local.yaml under mocks: network, EC2-backed cluster, and per
service its own table, image, roles and task definition, wired into the state machines."""

from __future__ import annotations

import base64
import copy
from collections import Counter
from pathlib import Path

import pulumi
import pytest
import yaml
from pulumi_mocks import ACCOUNT, FIXTURES, REGION, ROOT, stack_config

from components.config import ConfigError, engine_config, load_config
from components.ec2_cluster import ECS_AMI_PARAMETER
from components.local import image_build_paths
from components.stack import build

SERVICES = ("customer", "order")
# What service_images/<service>/emits.json declares (tests/test_emits.py proves the code agrees).
EMITS = {
    "customer": [
        "CreditLimitExceeded",
        "CreditReleased",
        "CreditReservationExpired",
        "CreditReserved",
        "CustomerCreated",
        "CustomerValidationFailed",
    ],
    "order": ["OrderApproved", "OrderCancelled", "OrderCreated", "OrderRejected", "OrderRequested"],
}
TRIGGERS = {
    "reserve-credit": ("customer", ["python", "-m", "customer.reserve_credit"]),
    "approve-order": ("order", ["python", "-m", "order.approve"]),
    "reject-order": ("order", ["python", "-m", "order.reject"]),
    "reject-failed-order": ("order", ["python", "-m", "order.reject"]),
    "release-credit": ("customer", ["python", "-m", "customer.release_credit"]),
    "release-failed-credit": ("customer", ["python", "-m", "customer.release_credit"]),
    "confirm-credit": ("customer", ["python", "-m", "customer.confirm_credit"]),
    "expire-reservations": ("customer", ["python", "-m", "customer.expire_reservations", "--older-than", "24h"]),
}
SCHEDULED = ("expire-reservations",)
# Orchestrated triggers (steps): a rule starting a SagaOrchestrator that runs both services' tasks.
ORCHESTRATED = ("order-saga",)


def config_file(stack: str) -> dict:
    """The parsed `config:` of Pulumi.<stack>.yaml."""
    return yaml.safe_load((FIXTURES / f"Pulumi.{stack}.yaml").read_text())["config"]


def raw_config(stack: str = "local", **changes) -> dict:
    """The config map as the engine passes it (objects as JSON), top-level keys replaced
    (`local_` stands for `event-tasks:local`; None removes a key)."""
    data = copy.deepcopy(config_file(stack))
    for key, value in changes.items():
        full = f"event-tasks:{key.rstrip('_')}"
        if value is None:
            data.pop(full, None)
        else:
            data[full] = value
    return engine_config(data)


def services_with(name: str, stack: str = "local", **fields) -> dict:
    services = copy.deepcopy(config_file(stack)["event-tasks:services"])
    services[name].update(fields)
    return services


# How a secret value is marked on the wire (pulumi.runtime.rpc._special_sig_key / _special_secret_sig).
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE_SIG = "1b47061264138c4ac30d75fd1eb44270"


@pytest.fixture
def local(local_stack):
    return local_stack


ALERTING_TYPES = (
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:sns/topic:Topic",
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:kms/key:Key",
    "aws:cloudwatch/dashboard:Dashboard",
)


def test_local_creates_network_cluster_and_per_service_resources(local):
    # THEN: the cloud wiring, plus a public-only VPC, an EC2-backed cluster and per service
    # (2) a table, a repository with lifecycle, two roles with a policy each, logs, a task definition
    counts = Counter(r.typ for r in local.resources if r.custom)
    triggers, scheduled = len(TRIGGERS) + len(ORCHESTRATED), len(SCHEDULED)
    # AND what tells an operator, as in cloud (tests/test_cloud_stack.py checks it in detail)
    alerting = {typ: counts.pop(typ, 0) for typ in ALERTING_TYPES}
    assert alerting == {typ: 1 for typ in ALERTING_TYPES} | {"aws:cloudwatch/metricAlarm:MetricAlarm": 3 * triggers}
    assert counts == {
        # the one explicit provider every resource is created through (its default tags)
        "pulumi:providers:aws": 1,
        "aws:cloudwatch/eventBus:EventBus": 2,
        "aws:cloudwatch/eventBusPolicy:EventBusPolicy": 2,
        "aws:cloudwatch/eventArchive:EventArchive": 2,
        "aws:cloudwatch/eventRule:EventRule": triggers - scheduled,
        "aws:cloudwatch/eventTarget:EventTarget": triggers - scheduled,
        "aws:scheduler/scheduleGroup:ScheduleGroup": scheduled,
        "aws:scheduler/schedule:Schedule": scheduled,
        "aws:sqs/queue:Queue": triggers,
        # a rule's DLQ holds its policy inline; a schedule's has a QueuePolicy
        "aws:sqs/queuePolicy:QueuePolicy": scheduled,
        "aws:sfn/stateMachine:StateMachine": triggers,
        # a role per state machine, per schedule and per bus with rules (both), the instance role,
        # two per service
        "aws:iam/role:Role": triggers + scheduled + 2 + 1 + 2 * 2,
        # inline on the role everywhere but on a schedule's role and the services' two
        "aws:iam/rolePolicy:RolePolicy": scheduled + 2 * 2,
        # the stack's execution logs, one per service's tasks
        "aws:cloudwatch/logGroup:LogGroup": 1 + 2,
        "aws:ec2/vpc:Vpc": 1,
        "aws:ec2/subnet:Subnet": 2,
        "aws:ec2/internetGateway:InternetGateway": 1,
        "aws:ec2/routeTable:RouteTable": 1,
        "aws:ec2/routeTableAssociation:RouteTableAssociation": 2,
        "aws:ec2/securityGroup:SecurityGroup": 1,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 2,
        "aws:iam/instanceProfile:InstanceProfile": 1,
        "aws:ec2/launchTemplate:LaunchTemplate": 1,
        "aws:autoscaling/group:Group": 1,
        "aws:ecs/cluster:Cluster": 1,
        "aws:ecs/capacityProvider:CapacityProvider": 1,
        "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": 1,
        "aws:dynamodb/table:Table": 2,
        "aws:ecr/repository:Repository": 2,
        "aws:ecr/lifecyclePolicy:LifecyclePolicy": 2,
        "aws:ecs/taskDefinition:TaskDefinition": 2,
        "docker-build:index:Image": 2,
    }
    # AND one image build per service
    assert sorted(r.name for r in local.of_type("docker-build:index:Image")) == ["customer-image", "order-image"]
    # AND no launch configuration (refused in new accounts) and no NAT (the costly idle part)
    assert not local.of_type("aws:ec2/launchConfiguration:LaunchConfiguration")
    assert not local.of_type("aws:ec2/natGateway:NatGateway")
    assert not local.of_type("aws:ec2/eip:Eip")


def test_the_vpc_has_public_subnets_in_two_zones_routed_to_an_internet_gateway(local):
    # GIVEN the network's resources
    vpc = local.named("network-vpc")
    subnets = [local.named(f"network-public-{i}") for i in range(2)]
    gateway = local.named("network-igw")
    routes = local.named("network-public-routes")
    # THEN the VPC is 10.0.0.0/16 with DNS (the instances resolve the AWS endpoints)
    assert vpc.inputs["cidrBlock"] == "10.0.0.0/16"
    assert vpc.inputs["enableDnsSupport"] is True and vpc.inputs["enableDnsHostnames"] is True
    # AND two /24 subnets in two different zones of the region
    assert [(s.inputs["cidrBlock"], s.inputs["availabilityZone"]) for s in subnets] == [
        ("10.0.0.0/24", f"{REGION}a"),
        ("10.0.1.0/24", f"{REGION}b"),
    ]
    assert all(s.inputs["vpcId"] == vpc.state["id"] for s in subnets)
    # AND one route table sends everything to the internet gateway, associated with both subnets
    assert gateway.inputs["vpcId"] == vpc.state["id"]
    assert routes.inputs["routes"] == [{"cidrBlock": "0.0.0.0/0", "gatewayId": gateway.state["id"]}]
    associations = {
        (a.inputs["subnetId"], a.inputs["routeTableId"])
        for a in local.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    }
    assert associations == {(s.state["id"], routes.state["id"]) for s in subnets}


def test_the_launch_template_boots_the_ecs_ami_with_imdsv2_into_the_cluster(local):
    # GIVEN the launch template and the cluster
    template = local.named("cluster-launch-template")
    cluster = local.named("cluster-cluster")
    # THEN the AMI is the current ECS-optimized AL2023 one, read from the public SSM parameter
    assert ("aws:ssm/getParameter:getParameter", {"name": ECS_AMI_PARAMETER}) in local.calls
    assert template.inputs["imageId"] == "ami-0123456789abcdef0"
    assert template.inputs["instanceType"] == "t3.micro"
    # AND IMDSv2 only, and its token stays on the host (bridge-mode tasks cannot borrow the
    # instance role)
    assert template.inputs["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
    }
    # AND a public IP on the instance's interface (no NAT), with the egress-only group
    assert template.inputs["networkInterfaces"] == [
        {
            "deviceIndex": 0,
            "associatePublicIpAddress": "true",
            "deleteOnTermination": "true",
            "securityGroups": [local.named("cluster-instances").state["id"]],
        }
    ]
    assert "vpcSecurityGroupIds" not in template.inputs
    assert template.inputs["iamInstanceProfile"] == {"arn": local.named("cluster-instance-profile").state["arn"]}
    # AND the user data makes the ECS agent join the cluster by its name
    assert cluster.inputs["name"] == "event-tasks-local"
    assert base64.b64decode(template.inputs["userData"]).decode() == (
        "#!/bin/bash\n"
        "cat >> /etc/ecs/ecs.config <<'EOF'\n"
        "ECS_CLUSTER=event-tasks-local\n"
        "ECS_ENABLE_TASK_IAM_ROLE=true\n"
        "ECS_IMAGE_PULL_BEHAVIOR=prefer-cached\n"
        "EOF\n"
    )


def test_the_instances_have_the_ecs_instance_role_and_no_inbound_access(local):
    # GIVEN the instance role, its attachments, profile and security group
    role = local.named("cluster-instance-role")
    attachments = local.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    profile = local.named("cluster-instance-profile")
    group = local.named("cluster-instances")
    # THEN EC2 may assume the role, which has the ECS container-instance policy and SSM core
    assert role.json("assumeRolePolicy") == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    assert {(a.inputs["role"], a.inputs["policyArn"]) for a in attachments} == {
        (role.state["name"], "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"),
        (role.state["name"], "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"),
    }
    assert profile.inputs["role"] == role.state["name"]
    # AND the security group admits nothing and lets out HTTPS only
    assert group.inputs["vpcId"] == local.named("network-vpc").state["id"]
    assert group.inputs["ingress"] == []
    assert group.inputs["egress"] == [
        {
            "description": "AWS APIs over HTTPS",
            "protocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "cidrBlocks": ["0.0.0.0/0"],
        }
    ]


def test_the_capacity_provider_scales_the_group_and_is_the_cluster_default(local):
    # GIVEN the cluster, its auto scaling group, capacity provider and attachment
    cluster = local.named("cluster-cluster")
    group = local.named("cluster-asg")
    provider = local.named("cluster-capacity-provider")
    attachment = local.named("cluster-capacity-providers")
    subnets = [local.named(f"network-public-{i}").state["id"] for i in range(2)]
    # THEN the group launches from the template into both public subnets, 0..2 instances,
    # protected from scale-in (ECS decides which instance is empty) and tagged as ECS-managed
    assert group.inputs["minSize"] == 0 and group.inputs["maxSize"] == 2
    assert "desiredCapacity" not in group.inputs
    assert group.inputs["vpcZoneIdentifiers"] == subnets
    assert group.inputs["launchTemplate"] == {"id": "lt-0123456789abcdef0", "version": "1"}
    assert group.inputs["protectFromScaleIn"] is True
    assert group.inputs["forceDelete"] is True
    # AND it carries the stack's tags onto every instance it launches (default tags skip groups)
    assert group.inputs["tags"] == [
        {"key": "AmazonECSManaged", "value": "true", "propagateAtLaunch": True},
        {"key": "environment", "value": "local", "propagateAtLaunch": True},
        {"key": "project", "value": "event-tasks", "propagateAtLaunch": True},
        {"key": "stack", "value": "local", "propagateAtLaunch": True},
    ]
    # AND the capacity provider manages its scaling and termination
    assert provider.inputs["name"] == "event-tasks-local-ec2"
    assert provider.inputs["autoScalingGroupProvider"] == {
        "autoScalingGroupArn": group.state["arn"],
        "managedTerminationProtection": "ENABLED",
        "managedScaling": {
            "status": "ENABLED",
            "targetCapacity": 100,
            "minimumScalingStepSize": 1,
            "maximumScalingStepSize": 2,
        },
    }
    # AND it is attached to the cluster as its default strategy
    assert attachment.inputs == {
        "clusterName": cluster.state["name"],
        "capacityProviders": ["event-tasks-local-ec2"],
        "defaultCapacityProviderStrategies": [{"capacityProvider": "event-tasks-local-ec2", "weight": 1, "base": 0}],
    }
    assert cluster.inputs["settings"] == [{"name": "containerInsights", "value": "disabled"}]


@pytest.mark.parametrize(
    "block, instance_type, low, high",
    [
        (None, "t3.micro", 0, 2),
        ({"instanceType": "t2.micro", "minInstances": 1, "maxInstances": 3}, "t2.micro", 1, 3),
    ],
)
def test_instance_type_and_group_size_follow_the_local_block(deploy, block, instance_type, low, high):
    # GIVEN the local block omitted (defaults) or spelled out
    # WHEN the stack is evaluated
    stack = deploy("local", raw_config(local_=block))
    # THEN the template and the group use it
    assert stack.named("cluster-launch-template").inputs["instanceType"] == instance_type
    group = stack.named("cluster-asg")
    assert (group.inputs["minSize"], group.inputs["maxSize"]) == (low, high)
    scaling = stack.named("cluster-capacity-provider").inputs["autoScalingGroupProvider"]["managedScaling"]
    assert scaling["maximumScalingStepSize"] == high


@pytest.mark.parametrize(
    "image_dir, context, dockerfile",
    [
        ("service_images/order", "service_images", "service_images/order/Dockerfile"),
        ("service_images/order/", "service_images", "service_images/order/Dockerfile"),
        ("build/images/order", "build/images", "build/images/order/Dockerfile"),
        ("order", ".", "order/Dockerfile"),
    ],
)
def test_the_build_context_is_the_parent_of_the_image_directory(image_dir, context, dockerfile):
    # WHEN the build paths of an image directory are derived
    # THEN the context is its parent (shared code lives next to it), the Dockerfile inside it
    assert image_build_paths(image_dir) == (context, dockerfile)


def test_each_service_image_is_built_from_its_directory_into_its_own_repository(local):
    for service in SERVICES:
        # GIVEN the service's repository, lifecycle policy and image build
        repository = local.named(f"{service}-repository")
        lifecycle = local.named(f"{service}-lifecycle")
        image = local.named(f"{service}-image")
        # THEN the repository scans on push and is deletable with the stack
        assert repository.inputs["name"] == f"event-tasks-local-{service}"
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository.inputs["forceDelete"] is True
        assert repository.inputs["imageTagMutability"] == "MUTABLE"
        # AND keeps the newest 10 images
        assert lifecycle.inputs["repository"] == repository.state["name"]
        assert lifecycle.json("policy") == {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "Keep the newest 10 images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10},
                    "action": {"type": "expire"},
                }
            ]
        }
        # AND the image is built for amd64 from service_images/ with the service's Dockerfile,
        # paths relative to the project root, both existing; pushed to the repository with ECR's
        # token, its build cache kept there too; and never built by a preview (no Docker daemon)
        url = repository.state["repositoryUrl"]
        cache = f"{url}:buildcache"
        inputs = dict(image.inputs)
        registries = inputs.pop("registries")
        (cache_to,) = inputs.pop("cacheTo")
        assert inputs == {
            "context": {"location": "service_images"},
            "dockerfile": {"location": f"service_images/{service}/Dockerfile"},
            "platforms": ["linux/amd64"],
            "push": True,
            "buildOnPreview": False,
            "tags": [f"{url}:latest"],
            "cacheFrom": [{"registry": {"ref": cache}}],
            "network": "default",  # the SDK's default, filled in
        }
        assert {k: cache_to["registry"][k] for k in ("ref", "mode", "imageManifest", "ociMediaTypes")} == {
            "ref": cache,
            "mode": "max",
            "imageManifest": True,
            "ociMediaTypes": True,
        }
        # AND the registry credentials reach the provider as a secret (Pulumi's secret envelope)
        assert registries[SECRET_SIG] == SECRET_VALUE_SIG
        assert registries["value"] == [{"address": url, "username": "AWS", "password": "token"}]
        assert (ROOT / image.inputs["context"]["location"]).is_dir()
        assert (ROOT / image.inputs["dockerfile"]["location"]).is_file()


def test_each_service_owns_a_table_with_the_key_schema_the_services_use(local):
    for service in SERVICES:
        # GIVEN the service's table
        table = local.named(f"{service}-table")
        # THEN it is on demand, keyed pk/sk (strings), recoverable and KMS-encrypted
        assert table.inputs == {
            "name": f"event-tasks-local-{service}",
            "billingMode": "PAY_PER_REQUEST",
            "hashKey": "pk",
            "rangeKey": "sk",
            "attributes": [{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}],
            "pointInTimeRecovery": {"enabled": True},
            "serverSideEncryption": {"enabled": True},
            "deletionProtectionEnabled": False,
        }
        # AND its tags come from the stack's provider (default tags), not from its own inputs
        assert table.provider.startswith(
            "urn:pulumi:local::event-tasks::pulumi:pulumi:Stack$pulumi:providers:aws::aws::"
        )


def test_each_task_definition_runs_the_built_image_with_its_resources_and_logs(local):
    for service in SERVICES:
        # GIVEN the service's task definition, roles, image and log group
        task = local.named(f"{service}-task-definition")
        image = local.named(f"{service}-image")
        logs = local.named(f"{service}-logs")
        # THEN it is an EC2, bridge-mode task of 128 cpu / 512 MiB with both roles
        assert task.inputs["family"] == f"event-tasks-local-{service}"
        assert task.inputs["requiresCompatibilities"] == ["EC2"]
        assert task.inputs["networkMode"] == "bridge"
        assert (task.inputs["cpu"], task.inputs["memory"]) == ("128", "512")
        assert task.inputs["taskRoleArn"] == local.named(f"{service}-task-role").state["arn"]
        assert task.inputs["executionRoleArn"] == local.named(f"{service}-execution-role").state["arn"]
        # AND its one container runs the pushed image with its own bus and table, logging to
        # its own log group
        assert logs.inputs["name"] == f"/ecs/event-tasks-local-{service}"
        assert logs.inputs["retentionInDays"] == 14
        name = f"event-tasks-local-{service}"
        assert task.json("containerDefinitions") == [
            {
                "name": service,
                "image": f"{local.named(f'{service}-repository').state['repositoryUrl']}@{image.state['digest']}",
                "essential": True,
                "environment": [
                    {"name": "AWS_DEFAULT_REGION", "value": REGION},
                    {"name": "AWS_REGION", "value": REGION},
                    {"name": "EVENT_BUS_NAME", "value": name},
                    {"name": "TABLE_NAME", "value": name},
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": f"/ecs/{name}",
                        "awslogs-region": REGION,
                        "awslogs-stream-prefix": service,
                    },
                },
            }
        ]
        assert image.state["digest"].startswith("sha256:")


def test_each_task_role_may_only_emit_to_its_bus_and_use_its_table(local):
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                    "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:*"},
                },
            }
        ],
    }
    for service in SERVICES:
        # GIVEN the service's task role and its policy
        role = local.named(f"{service}-task-role")
        policy = local.named(f"{service}-task-policy")
        name = f"event-tasks-local-{service}"
        # THEN only ECS tasks of this account assume it
        assert role.json("assumeRolePolicy") == trust
        # AND it may put events on its own bus, with its own source and the detail-types its
        # emits.json declares, and read/write its own table, nothing else
        assert policy.inputs["role"] == role.state["id"]
        assert policy.json("policy") == {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "EmitToOwnBus",
                    "Effect": "Allow",
                    "Action": "events:PutEvents",
                    "Resource": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}",
                    "Condition": {
                        "StringEquals": {
                            "events:source": f"event-tasks.{service}",
                            "events:detail-type": EMITS[service],
                        }
                    },
                },
                {
                    "Sid": "ReadWriteOwnTable",
                    "Effect": "Allow",
                    "Action": [
                        "dynamodb:ConditionCheckItem",
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:Scan",
                        "dynamodb:UpdateItem",
                    ],
                    "Resource": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}",
                },
                # both services answer steps of the orchestrated order-saga with their task token
                {
                    "Sid": "AnswerTheStepThatStartedTheTask",
                    "Effect": "Allow",
                    "Action": ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
                    "Resource": "*",
                },
            ],
        }


def test_each_execution_role_may_only_pull_its_image_and_write_its_logs(local):
    for service in SERVICES:
        # GIVEN the service's execution role and its policy
        role = local.named(f"{service}-execution-role")
        policy = local.named(f"{service}-execution-policy")
        name = f"event-tasks-local-{service}"
        # THEN ECS tasks of this account assume it
        assert role.json("assumeRolePolicy")["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert role.json("assumeRolePolicy")["Statement"][0]["Condition"]["StringEquals"] == {
            "aws:SourceAccount": ACCOUNT
        }
        # AND it may pull from its own repository and write to its own log group
        assert policy.inputs["role"] == role.state["id"]
        assert policy.json("policy") == {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "LogInToEcr", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
                {
                    "Sid": "PullOwnImage",
                    "Effect": "Allow",
                    "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}",
                },
                {
                    "Sid": "WriteOwnLogs",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/{name}:log-stream:*",
                },
            ],
        }


def test_every_state_machine_runs_the_created_task_on_the_capacity_provider(local):
    cluster_arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/event-tasks-local"
    for trigger, (service, command) in TRIGGERS.items():
        # GIVEN the trigger's state machine and its role's policy
        machine = local.named(f"{trigger}-run-task-state-machine")
        policy = local.named(f"{trigger}-run-task-role").inline_policy()
        task = local.named(f"{service}-task-definition")
        parameters = machine.json("definition")["States"]["RunTask"]["Parameters"]
        # THEN it runs the created revision on the created cluster through the capacity provider,
        # placed like the seed: spread over instances, packed by cpu, then random
        assert parameters["Cluster"] == cluster_arn
        assert parameters["TaskDefinition"] == task.state["arn"]
        assert task.state["arn"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/event-tasks-local-{service}:1"
        assert parameters["CapacityProviderStrategy"] == [
            {"CapacityProvider": "event-tasks-local-ec2", "Weight": 1, "Base": 0}
        ]
        assert parameters["PlacementStrategy"] == [
            {"Type": "spread", "Field": "instanceId"},
            {"Type": "binpack", "Field": "cpu"},
            {"Type": "random"},
        ]
        # AND neither a launch type (exclusive with the strategy) nor awsvpc networking (bridge)
        assert "LaunchType" not in parameters and "NetworkConfiguration" not in parameters
        # AND no task-size override: the task definition carries cpu and memory
        override = parameters["Overrides"]
        assert override["ContainerOverrides"][0]["Name"] == service
        assert override["ContainerOverrides"][0]["Command"] == command
        assert "Cpu" not in override and "Memory" not in override
        # AND its role may run exactly that revision and pass exactly that task's two roles
        statements = {s["Sid"]: s for s in policy["Statement"]}
        assert statements["RunTheTaskDefinitionRevision"]["Resource"] == task.state["arn"]
        assert statements["RunTheTaskDefinitionRevision"]["Condition"] == {"ArnEquals": {"ecs:cluster": cluster_arn}}
        assert statements["PassTaskRolesToEcs"]["Resource"] == sorted(
            [
                local.named(f"{service}-task-role").state["arn"],
                local.named(f"{service}-execution-role").state["arn"],
            ]
        )


def test_outputs_name_the_cluster_and_every_service_repository_table_and_task(local):
    # THEN the outputs give what a developer needs to push, inspect and run by hand, and what
    # another stack needs to reach the network, the cluster and each service
    assert local.outputs["environment"] == "local"
    assert local.outputs["vpcId"] == local.named("network-vpc").state["id"]
    assert local.outputs["subnetIds"] == [local.named(f"network-public-{i}").state["id"] for i in range(2)]
    assert local.outputs["securityGroupId"] == local.named("cluster-instances").state["id"]
    assert local.outputs["clusterArn"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/event-tasks-local"
    assert local.outputs["clusterName"] == "event-tasks-local"
    assert local.outputs["capacityProviderName"] == "event-tasks-local-ec2"
    assert local.outputs["services"] == {
        service: {
            "busName": f"event-tasks-local-{service}",
            "busArn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/event-tasks-local-{service}",
            "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/event-tasks-local-{service}",
            "tableName": f"event-tasks-local-{service}",
            "tableArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/event-tasks-local-{service}",
            "taskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/event-tasks-local-{service}:1",
            "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/event-tasks-local-{service}-task",
            "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/event-tasks-local-{service}-execution",
        }
        for service in SERVICES
    }
    assert set(local.outputs["triggers"]) == set(TRIGGERS) | set(ORCHESTRATED)


# --- config errors of the local keys -------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project root whose two services each have an image directory with a Dockerfile."""
    for service in SERVICES:
        (tmp_path / "service_images" / service).mkdir(parents=True)
        (tmp_path / "service_images" / service / "Dockerfile").write_text("FROM scratch\n")
    return tmp_path


ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/order:3"


@pytest.mark.parametrize(
    "stack, changes, message",
    [
        (
            "local",
            {"services": services_with("order", taskDefinitionArn=ARN)},
            r"event-tasks:services\.order\.taskDefinitionArn: only allowed when environment is cloud",
        ),
        (
            "cloud",
            {"services": services_with("order", stack="cloud", image="service_images/order")},
            r"event-tasks:services\.order\.image: only allowed when environment is local",
        ),
        (
            "local",
            {"services": services_with("order", image="service_images/missing")},
            r"event-tasks:services\.order\.image: directory 'service_images/missing' does not exist",
        ),
        (
            "local",
            {"services": services_with("order", image="service_images")},
            r"event-tasks:services\.order\.image: 'service_images' has no Dockerfile",
        ),
        (
            "local",
            {"local_": {"minInstances": 3, "maxInstances": 2}},
            r"event-tasks:local\.minInstances: 3 is more than maxInstances \(2\)",
        ),
        (
            "cloud",
            {"local_": {"instanceType": "t3.micro"}},
            r"event-tasks:local: only allowed when environment is local",
        ),
        (
            "local",
            {"local_": {"instanceType": "t4g.micro"}},
            r"event-tasks:local\.instanceType: 't4g\.micro' is an arm64 \(Graviton\) type",
        ),
        (
            "local",
            {"local_": {"instances": 2}},
            r"event-tasks:local\.instances: unknown key; allowed here: containerInsights, instanceType, "
            r"maxInstances, minInstances",
        ),
        (
            "local",
            {"local_": {"maxInstances": 0}},
            r"event-tasks:local\.maxInstances: 0: Input should be greater than or equal to 1",
        ),
    ],
)
def test_a_bad_local_key_is_refused_naming_it(project, stack, changes, message):
    # GIVEN a stack file with one bad key, in a project whose image directories exist
    raw = raw_config(stack, **changes)
    # WHEN it is loaded THEN the error names the key
    with pytest.raises(ConfigError, match=message):
        load_config(raw, stack, project)


def test_an_upper_case_stack_name_is_refused_for_the_names_it_derives(project):
    # GIVEN the local config in a stack named with capitals (ECR repositories are lower-case)
    # WHEN it is loaded THEN each service names the repository it could not create
    with pytest.raises(
        ConfigError,
        match=r"event-tasks:services\.order: the ECR repository and task "
        r"family 'event-tasks-Dev-order' would be invalid",
    ):
        load_config(raw_config(), "Dev", project)


def test_pulumi_local_yaml_is_valid_and_spells_out_the_defaults(project):
    # WHEN the shipped local config is loaded
    config = load_config(raw_config(), "local", project)
    # THEN it runs the saga's services with the defaults
    assert config.environment == "local" and config.region == REGION
    assert config.local is not None
    assert config.local.model_dump() == {
        "instanceType": "t3.micro",
        "minInstances": 0,
        "maxInstances": 2,
        "containerInsights": False,
    }
    assert {s: (config.image_path(s), v.cpu, v.memory) for s, v in config.services.items()} == {
        s: (f"service_images/{s}", 128, 512) for s in SERVICES
    }
    # AND the same triggers as the cloud stack
    assert config_file("local")["event-tasks:triggers"] == config_file("cloud")["event-tasks:triggers"]


@pytest.mark.parametrize(
    "changes",
    [
        {"local_": {"minInstances": 3, "maxInstances": 2}},
        {"services": services_with("order", taskDefinitionArn=ARN)},
    ],
)
def test_a_bad_local_config_fails_before_anything_is_registered(deploy, mocks, changes):
    # GIVEN a local stack file with a bad key
    # WHEN the program runs THEN it fails with the config error and registered nothing
    with pytest.raises(ConfigError):
        deploy("local", raw_config(**changes))
    assert mocks.resources == []


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"services": services_with("order", memory=1024)},
            r"event-tasks:services\.order\.memory: 1024 MiB does not fit a t3\.micro \(about 921 MiB registered "
            r"with ECS\); lower memory or choose a larger local\.instanceType",
        ),
        (
            {"local_": {"instanceType": "t2.micro"}, "services": services_with("customer", cpu=2048)},
            r"event-tasks:services\.customer\.cpu: 2048 units do not fit a t2\.micro \(1024 units\)",
        ),
        (
            {"local_": {"instanceType": "z9.huge"}},
            r"event-tasks:local\.instanceType: 'z9\.huge' is not an instance type of ap-southeast-1",
        ),
        ({"local_": {"instanceType": "mac1.metal"}}, r"event-tasks:local\.instanceType: 'mac1\.metal' is not x86_64"),
    ],
)
def test_a_task_that_could_never_be_placed_fails_before_anything_is_registered(deploy, mocks, changes, message):
    # GIVEN a task too big for the instance type, or an instance type that cannot run the images
    # WHEN the program runs THEN it fails naming the key and the fix, having registered nothing
    with pytest.raises(ConfigError, match=message):
        deploy("local", raw_config(**changes))
    assert mocks.resources == []


def test_a_task_that_fits_a_larger_instance_type_is_accepted(deploy):
    # GIVEN 4 GiB tasks on m5.large (8 GiB)
    stack = deploy(
        "local", raw_config(local_={"instanceType": "m5.large"}, services=services_with("order", memory=4096))
    )
    # THEN the task definition takes the size
    definitions = stack.of_type("aws:ecs/taskDefinition:TaskDefinition")
    (order,) = [t for t in definitions if t.inputs["family"] == "event-tasks-local-order"]
    assert order.inputs["memory"] == "4096"


def test_a_preview_of_local_builds_no_image(mocks):
    # GIVEN the local stack evaluated as `pulumi preview` does (preview=True)
    pulumi.runtime.set_mocks(mocks, project="event-tasks", stack="local", preview=True)

    @pulumi.runtime.test
    def program():
        return pulumi.Output.from_input(build(load_config(stack_config("local"), "local", ROOT), ROOT))

    program()
    # THEN every image is registered with buildOnPreview false: the provider builds nothing, so a
    # preview needs no Docker daemon
    images = [r for r in mocks.resources if r.typ == "docker-build:index:Image"]
    assert len(images) == 2
    assert [r.inputs["buildOnPreview"] for r in images] == [False, False]
    # AND no other resource type builds or runs containers
    assert not [r for r in mocks.resources if r.typ.startswith(("docker:", "awsx:ecr", "command:"))]
