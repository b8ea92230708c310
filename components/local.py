"""The `local` environment: a developer's own copy of everything, built from source.

Wires the components: a `LocalNetwork` (public subnets, no NAT), an `Ec2Cluster` scaling from zero,
and per service its own table (`ServiceTable`), its image built from `service_images/<service>`
(`ServiceImage`) and its task definition with least-privilege roles (`ServiceTask`). Returns one
`TaskTarget` per service for the state machines, and the stack outputs of what it created.

The only lookups are the availability zones and the current ECS-optimized AMI (a public SSM
parameter), read at every `pulumi up` so new instances boot the latest AMI.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import pulumi
import pulumi_aws as aws

from components import naming
from components.config import NAMESPACE, ConfigError, LocalSettings, StackConfig
from components.ec2_cluster import ECS_AMI_PARAMETER, Ec2Cluster, Ec2ClusterArgs
from components.emits import read_emits
from components.iam import AwsContext
from components.network import LocalNetwork, LocalNetworkArgs
from components.run_task_state_machine import CapacityProviderLaunch, TaskTarget
from components.service_bus import ServiceBus
from components.service_image import ServiceImage, ServiceImageArgs
from components.service_table import ServiceTable, ServiceTableArgs
from components.service_task import ServiceTask, ServiceTaskArgs

# The seed's task size; the services' use cases are short, single-threaded Python processes.
DEFAULT_CPU = 128
DEFAULT_MEMORY = 512
# The images run on the x86_64 ECS-optimized AMI.
PLATFORM = "linux/amd64"
# ECS registers less memory than the instance type has (the OS and the agent keep some): a t3.micro
# (1024 MiB) registers about 950. A task must fit in this share or it waits in PROVISIONING forever.
REGISTERED_MEMORY_SHARE = 0.9


def check_capacity(config: StackConfig) -> None:
    """Refuse, before anything is registered, an instance type the region lacks or a task too big
    for it: both would leave every task waiting in PROVISIONING with no error anywhere."""
    local = config.local or LocalSettings()
    key = f"{NAMESPACE}:local.instanceType"
    offered = aws.ec2.get_instance_types(
        filters=[aws.ec2.GetInstanceTypesFilterArgs(name="instance-type", values=[local.instanceType])]
    ).instance_types
    if local.instanceType not in offered:
        raise ConfigError(
            [
                f"{key}: {local.instanceType!r} is not an instance type of {config.region}; "
                "use one it offers, such as t3.micro"
            ]
        )
    found = aws.ec2.get_instance_type(instance_type=local.instanceType)
    problems = []
    if "x86_64" not in (found.supported_architectures or []):
        problems.append(f"{key}: {local.instanceType!r} is not x86_64; the images are built for {PLATFORM}")
    memory = int(found.memory_size * REGISTERED_MEMORY_SHARE)
    cpu = found.default_vcpus * 1024
    for service, settings in sorted(config.services.items()):
        wanted_memory = settings.memory or DEFAULT_MEMORY
        wanted_cpu = settings.cpu or DEFAULT_CPU
        if wanted_memory > memory:
            problems.append(
                f"{NAMESPACE}:services.{service}.memory: {wanted_memory} MiB does not fit a "
                f"{local.instanceType} (about {memory} MiB registered with ECS); lower memory or "
                "choose a larger local.instanceType"
            )
        if wanted_cpu > cpu:
            problems.append(
                f"{NAMESPACE}:services.{service}.cpu: {wanted_cpu} units do not fit a {local.instanceType} "
                f"({cpu} units); lower cpu or choose a larger local.instanceType"
            )
    if problems:
        raise ConfigError(problems)


def image_build_paths(image_dir: str) -> tuple[str, str]:
    """The docker build context and Dockerfile of a service whose image directory is `image_dir`.

    Rule: the context is the image directory's PARENT, the Dockerfile is `<image_dir>/Dockerfile`.
    The services' Dockerfiles copy the shared helper next to them (`service_images/common`), so for
    the default `service_images/<service>` the context is `service_images/`. Both paths stay
    relative to the project root, where Pulumi runs the program: the same on every checkout, so
    the image is not rebuilt or re-tagged because a developer cloned elsewhere.
    """
    image = PurePosixPath(Path(image_dir).as_posix())
    return image.parent.as_posix(), (image / "Dockerfile").as_posix()


def build_local(
    config: StackConfig,
    ctx: AwsContext,
    buses: dict[str, ServiceBus],
    tags: dict[str, str],
    project_root: Path,
    opts: pulumi.ResourceOptions | None = None,
) -> tuple[dict[str, TaskTarget], dict[str, Any], dict[str, pulumi.Output[str]]]:
    """Register the local environment; returns a run target per service, the extra outputs and
    each service's task role (the one its bus policy admits).

    `opts` (the stack's provider) goes to every component; `tags` (the stack's tags) only to the
    cluster, for the auto scaling group and its instances, which default tags do not reach.

    `project_root` is where the image paths in config point (already checked by `load_config`);
    build paths are handed to docker relative to it, see `image_build_paths`.
    """
    stack = config.stack
    local = config.local or LocalSettings()  # the block is optional: its defaults apply
    prefix = naming.prefix(stack)

    zones = aws.get_availability_zones_output(
        state="available",
        # Only regular zones: Local Zones lack most instance types and need an opt-in.
        filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
    ).names
    network = LocalNetwork(
        "network",
        LocalNetworkArgs(
            availability_zones=zones,
            name_prefix=prefix,
        ),
        opts,
    )
    cluster = Ec2Cluster(
        "cluster",
        Ec2ClusterArgs(
            aws=ctx,
            cluster_name=naming.cluster_name(stack),
            capacity_provider_name=naming.capacity_provider_name(stack),
            instance_role_name=naming.instance_role_name(stack),
            instance_profile_name=naming.instance_profile_name(stack),
            instances_name=naming.instances_name(stack),
            vpc_id=network.vpc_id,
            subnet_ids=network.public_subnet_ids,
            image_id=aws.ssm.get_parameter_output(name=ECS_AMI_PARAMETER).insecure_value,
            instance_type=local.instanceType,
            min_size=local.minInstances,
            max_size=local.maxInstances,
            container_insights=local.containerInsights,
            tags=tags,
        ),
        opts,
    )
    launch = CapacityProviderLaunch(capacity_provider=cluster.capacity_provider_name)

    targets: dict[str, TaskTarget] = {}
    task_roles: dict[str, pulumi.Output[str]] = {}
    services: dict[str, Any] = {}
    # Services whose tasks answer an orchestration's step (or compensation) with a task token.
    answering = {s.service for t in config.triggers.values() for s in t.steps or [] if s.result}
    for service in sorted(config.services):
        settings = config.services[service]
        # A renamed service keeps its data: same physical names, old URNs aliased.
        former = tuple(settings.formerNames)
        table = ServiceTable(
            service,
            ServiceTableArgs(
                table_name=naming.table_name(stack, config.data_name(service)),
                kms_key_arn=config.kmsKeyArn,
                protect=config.protected,
                former_names=former,
            ),
            opts,
        )
        context, dockerfile = image_build_paths(config.image_path(service))
        image = ServiceImage(
            service,
            ServiceImageArgs(
                repository_name=naming.repository_name(stack, config.data_name(service)),
                context=context,
                dockerfile=dockerfile,
                platform=PLATFORM,
                protect=config.protected,
                former_names=former,
            ),
            opts,
        )
        container = config.container_name(service)
        emits = read_emits(project_root / config.image_path(service))
        task = ServiceTask(
            service,
            ServiceTaskArgs(
                aws=ctx,
                family=naming.task_family(stack, service),
                container_name=container,
                image_uri=image.image_uri,
                repository_arn=image.repository_arn,
                bus_name=buses[service].name,
                bus_arn=buses[service].arn,
                table_name=table.name,
                table_arn=table.arn,
                event_source=naming.event_source(service),
                # Already validated by load_config.
                emitted_detail_types=emits.detail_types if emits else None,
                table_key_arn=config.kmsKeyArn,
                answers_saga_steps=service in answering,
                log_group_name=naming.service_log_group_name(stack, service),
                task_role_name=naming.task_role_name(stack, service),
                execution_role_name=naming.execution_role_name(stack, service),
                log_retention_days=config.logRetentionDays,
                cpu=settings.cpu or DEFAULT_CPU,
                memory=settings.memory or DEFAULT_MEMORY,
                enable_execute_command=settings.enableExecuteCommand,
            ),
            opts,
        )
        targets[service] = TaskTarget(
            cluster_arn=cluster.arn,
            task_definition_arn=task.task_definition_arn,
            container_name=container,
            pass_role_arns=pulumi.Output.all(task.task_role_arn, task.execution_role_arn),
            # cpu/memory stay unset: the task definition carries them, no override needed.
            launch=launch,
            enable_execute_command=settings.enableExecuteCommand,
        )
        task_roles[service] = task.task_role_arn
        services[service] = {
            "repositoryUrl": image.repository_url,
            "tableName": table.name,
            "tableArn": table.arn,
            "taskDefinitionArn": task.task_definition_arn,
            "taskRoleArn": task.task_role_arn,
            "executionRoleArn": task.execution_role_arn,
        }
    outputs = {
        "vpcId": network.vpc_id,
        "subnetIds": network.public_subnet_ids,
        "securityGroupId": cluster.security_group_id,
        "clusterArn": cluster.arn,
        "clusterName": cluster.name,
        "capacityProviderName": cluster.capacity_provider_name,
        "services": services,
    }
    return targets, outputs, task_roles
