"""The `cloud` environment: resolve the existing cluster and task definitions into run targets.

Nothing here creates a resource. The lookups are synchronous invokes made before any resource is
registered, so a task definition that cannot run as configured (unknown container, not Fargate,
not awsvpc) fails the deployment with the offending key named and nothing half-created.
"""

from __future__ import annotations

import json

import pulumi_aws as aws

from components.config import CLUSTER_ARN, NAMESPACE, ConfigError, StackConfig
from components.run_task_state_machine import FargateLaunch, TaskTarget


def cloud_targets(
    config: StackConfig,
) -> tuple[dict[str, TaskTarget], dict[str, str], dict[str, dict[str, str]]]:
    """A run target for every service some trigger runs, from the looked-up task definitions, the
    task role of every service that has a task definition (the one its bus policy admits), and per
    such service the stack outputs of its lookup (task definition, task and execution roles)."""
    assert config.cloud is not None  # guaranteed by load_config for environment cloud
    cloud = config.cloud
    cluster_name = CLUSTER_ARN.match(cloud.clusterArn)["name"]  # type: ignore[index]
    problems = []
    # Listing first: a lookup of a missing cluster fails the whole program with the provider's
    # message, which names neither the config key nor the fix.
    if cloud.clusterArn not in aws.ecs.get_clusters().cluster_arns:
        status = "not found"
    else:
        status = aws.ecs.get_cluster(cluster_name=cluster_name).status
    if status != "ACTIVE":
        problems.append(
            f"{NAMESPACE}:cloud.clusterArn: cluster {cluster_name!r} is {status} in "
            f"{config.region}; point clusterArn at an ACTIVE cluster of the stack's region"
        )
    launch = FargateLaunch(
        subnets=list(cloud.subnets),
        security_groups=list(cloud.securityGroups),
        assign_public_ip=cloud.assignPublicIp,
        capacity_provider_strategy=tuple((p.name, p.weight, p.base) for p in cloud.capacityProviders or ()),
        platform_version=cloud.platformVersion,
    )
    targets: dict[str, TaskTarget] = {}
    task_roles: dict[str, str] = {}
    outputs: dict[str, dict[str, str]] = {}
    run = {s for t in config.triggers.values() for s in t.services_run()}
    for service in sorted(s for s, v in config.services.items() if s in run or v.taskDefinitionArn):
        settings = config.services[service]
        key = f"{NAMESPACE}:services.{service}"
        arn = settings.taskDefinitionArn
        assert arn is not None  # required by load_config for services that triggers run
        # A missing revision fails here with the provider's error, which names the ARN.
        found = aws.ecs.get_task_definition(task_definition=arn)
        if found.task_role_arn:
            task_roles[service] = found.task_role_arn
        # Empty when the task definition has no such role: a consumer sees the key either way.
        outputs[service] = {
            "taskDefinitionArn": arn,
            "taskRoleArn": found.task_role_arn or "",
            "executionRoleArn": found.execution_role_arn or "",
        }
        if service not in run:
            continue  # its task emits, but this stack never runs it
        container = config.container_name(service)
        containers = [c.get("name") for c in json.loads(found.container_definitions or "[]")]
        if container not in containers:
            problems.append(
                f"{key}.containerName: {container!r} is not a container of {arn}; "
                f"its containers are: {', '.join(map(str, containers)) or 'none'}"
            )
        if found.status != "ACTIVE":
            problems.append(
                f"{key}.taskDefinitionArn: {arn} is {found.status}; ECS runs no new task from it: "
                "register a new revision and point taskDefinitionArn at it"
            )
        if "FARGATE" not in (found.requires_compatibilities or []):
            problems.append(
                f"{key}.taskDefinitionArn: {arn} is not Fargate-compatible "
                "(requiresCompatibilities lacks FARGATE); the cloud stack runs on FARGATE"
            )
        if found.network_mode != "awsvpc":
            problems.append(
                f"{key}.taskDefinitionArn: {arn} uses network mode {found.network_mode!r}; Fargate needs awsvpc"
            )
        targets[service] = TaskTarget(
            cluster_arn=cloud.clusterArn,
            task_definition_arn=arn,
            container_name=container,
            pass_role_arns=[r for r in (found.task_role_arn, found.execution_role_arn) if r],
            launch=launch,
            cpu=settings.cpu,
            memory=settings.memory,
            # The existing task role must allow the SSM messages actions (README): not checked here.
            enable_execute_command=settings.enableExecuteCommand,
        )
    if problems:
        raise ConfigError(problems)
    return targets, task_roles, outputs
