"""`Ec2Cluster`: an ECS cluster whose EC2 capacity scales with the tasks it is asked to run.

Produces the cluster, a launch template (ECS-optimized AMI, IMDSv2 only, encrypted gp3 root volume,
user data joining the cluster, public IP on its network interface), the container instances' role and instance profile,
an egress-only security group, an auto scaling group in the given public subnets, an ECS capacity
provider with managed scaling and managed termination protection, and the cluster's default
capacity provider strategy.

With `min_size` 0 the cluster idles at zero instances: a task started through the capacity
provider waits in PROVISIONING while managed scaling launches an instance (a few minutes), and the
group scales back in once the instances are empty. Managed termination protection keeps scale-in
from terminating an instance that still runs a task.

Requires: an AMI id (the caller reads the public SSM parameter, see `ECS_AMI_PARAMETER`), and
subnets routed to an internet gateway.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.iam import AwsContext

# x86_64 ECS-optimized Amazon Linux 2023, kept current by AWS (arm64 lives under .../arm64/...).
ECS_AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"

# Managed policies of the container instance role (under the partition's `iam::aws:policy/`).
INSTANCE_POLICIES = (
    # Register with the cluster, poll for tasks, pull from ECR, ship container logs.
    "service-role/AmazonEC2ContainerServiceforEC2Role",
    # Session Manager shell for debugging: no SSH key, no inbound port.
    "AmazonSSMManagedInstanceCore",
)

# A response to an IMDSv2 token request survives one hop: the host and host-network containers
# (the ECS agent) reach IMDS, bridge-mode task containers (one hop further) cannot. Tasks get their
# own role's credentials from the ECS agent endpoint; they must never borrow the instance role.
IMDS_HOP_LIMIT = 1

# The root device of the ECS-optimized Amazon Linux 2023 AMIs. A mapping for this name replaces the
# AMI's root volume settings (its size stays the snapshot's); any other name would add a second
# volume and leave the root, with the images' layers and the tasks' scratch data, unencrypted.
ROOT_DEVICE_NAME = "/dev/xvda"


def render_user_data(cluster_name: str) -> str:
    """The instance's boot script: configure the ECS agent before it starts."""
    return (
        "#!/bin/bash\n"
        "cat >> /etc/ecs/ecs.config <<'EOF'\n"
        f"ECS_CLUSTER={cluster_name}\n"
        # Bridge-mode tasks get their task role's credentials from the agent, not from IMDS.
        "ECS_ENABLE_TASK_IAM_ROLE=true\n"
        # Images are referenced by digest, so a cached copy is always the right one.
        "ECS_IMAGE_PULL_BEHAVIOR=prefer-cached\n"
        "EOF\n"
    )


def instance_trust_policy() -> dict[str, Any]:
    """Let EC2 hand the role to the container instances."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


@dataclass(frozen=True)
class Ec2ClusterArgs:
    """Inputs of `Ec2Cluster`."""

    aws: AwsContext
    """Partition, region and account the stack deploys to."""
    cluster_name: str
    """Physical name of the ECS cluster (the instances join it by name)."""
    capacity_provider_name: str
    """Physical name of the capacity provider (must not start with aws, ecs or fargate)."""
    instance_role_name: str
    """Physical name of the container instances' role."""
    instance_profile_name: str
    """Physical name of their instance profile."""
    instances_name: str
    """Physical name of their security group, launch template and auto scaling group."""
    vpc_id: pulumi.Input[str]
    """VPC of the instances' security group."""
    subnet_ids: pulumi.Input[list[str]]
    """Public subnets the auto scaling group launches into (routed to an internet gateway)."""
    image_id: pulumi.Input[str]
    """AMI of the container instances: an x86_64 ECS-optimized image."""
    instance_type: str = "t3.micro"
    """EC2 instance type of the container instances (x86_64)."""
    min_size: int = 0
    """Fewest instances; 0 lets the cluster scale to zero when no task runs."""
    max_size: int = 2
    """Most instances managed scaling may launch."""
    container_insights: bool = False
    """Turn on CloudWatch Container Insights (billed per metric and per GB of performance logs)."""
    tags: dict[str, str] = field(default_factory=dict)
    """The stack's tags, for what the provider's default tags do not reach: the auto scaling group
    (propagated at launch) and the instances and volumes it launches (launch template tag
    specifications)."""


class Ec2Cluster(pulumi.ComponentResource):
    """An ECS cluster backed by an auto scaling group through a capacity provider."""

    arn: pulumi.Output[str]
    """ARN of the cluster (RunTask's Cluster)."""
    name: pulumi.Output[str]
    """Name of the cluster."""
    capacity_provider_name: pulumi.Output[str]
    """Name of the capacity provider, resolved once it is attached to the cluster."""
    security_group_id: pulumi.Output[str]
    """Id of the instances' security group (another stack may admit traffic from it)."""

    def __init__(self, name: str, args: Ec2ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("event-tasks:index:Ec2Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=args.cluster_name,
            # Container Insights bills custom metrics per task: off unless the stack asks for it.
            settings=[
                aws.ecs.ClusterSettingArgs(
                    name="containerInsights", value="enabled" if args.container_insights else "disabled"
                )
            ],
            opts=child,
        )

        role = aws.iam.Role(
            f"{name}-instance-role",
            name=args.instance_role_name,
            description=f"ECS container instances of {args.cluster_name}",
            assume_role_policy=pulumi.Output.json_dumps(instance_trust_policy()),
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-instance-{policy.rsplit('/', 1)[-1]}",
                role=role.name,
                policy_arn=pulumi.Output.format("arn:{0}:iam::aws:policy/{1}", args.aws.partition, policy),
                opts=child,
            )
            for policy in INSTANCE_POLICIES
        ]
        profile = aws.iam.InstanceProfile(
            f"{name}-instance-profile",
            name=args.instance_profile_name,
            role=role.name,
            # An instance booting with a profile whose role lacks its policies cannot register.
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments),
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-instances",
            name=args.instances_name,
            description=f"ECS container instances of {args.cluster_name}: outbound HTTPS only",
            vpc_id=args.vpc_id,
            # Nothing connects to the instances (tasks only call AWS APIs; debugging goes through
            # Session Manager). The empty list makes Pulumi remove any rule added by hand.
            ingress=[],
            # Every endpoint the agent and the tasks use (ECS, ECR and its S3 layers, CloudWatch
            # Logs, DynamoDB, EventBridge, SSM) is HTTPS; DNS and IMDS are not filtered by groups.
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="AWS APIs over HTTPS",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=["0.0.0.0/0"],
                )
            ],
            tags={"Name": args.instances_name},
            opts=child,
        )
        # Default tags stop at the launch template: what it launches gets them from here.
        instance_tags = {**args.tags, "Name": args.instances_name}
        launch_template = aws.ec2.LaunchTemplate(
            f"{name}-launch-template",
            name=args.instances_name,
            description=f"ECS container instances of {args.cluster_name}",
            image_id=args.image_id,
            instance_type=args.instance_type,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
            # No NAT in the VPC: the instance needs a public IP to reach the AWS endpoints.
            network_interfaces=[
                aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                    device_index=0,
                    associate_public_ip_address="true",
                    delete_on_termination="true",
                    security_groups=[security_group.id],
                )
            ],
            # Encrypted with the account's EBS key (aws/ebs), which needs no key policy for the
            # auto scaling service-linked role; gp3 whatever the AMI says (cheaper per GiB than gp2).
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name=ROOT_DEVICE_NAME,
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        encrypted="true",
                        volume_type="gp3",
                        delete_on_termination="true",
                    ),
                )
            ],
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",  # IMDSv2 only
                http_put_response_hop_limit=IMDS_HOP_LIMIT,
            ),
            # The cluster's name as an Output also orders destroy: the instances go before the
            # cluster, which refuses deletion while container instances are registered.
            user_data=cluster.name.apply(
                lambda cluster_name: base64.b64encode(render_user_data(cluster_name).encode()).decode()
            ),
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=instance_tags)
                for kind in ("instance", "volume")
            ],
            update_default_version=True,
            opts=child,
        )
        group = aws.autoscaling.Group(
            f"{name}-asg",
            name=args.instances_name,
            min_size=args.min_size,
            max_size=args.max_size,
            # desired_capacity is left to managed scaling: setting it would fight the capacity provider.
            vpc_zone_identifiers=args.subnet_ids,
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=launch_template.id,
                version=launch_template.latest_version.apply(str),
            ),
            # Managed termination protection needs it: ECS lifts the protection of empty instances.
            protect_from_scale_in=True,
            # Protected instances would block deleting the group (and so `pulumi destroy`) forever.
            force_delete=True,
            tags=[
                # ECS adds this tag to a group it scales; declaring it avoids a perpetual diff.
                aws.autoscaling.GroupTagArgs(key="AmazonECSManaged", value="true", propagate_at_launch=True),
                # The provider's default tags skip auto scaling groups: the stack's tags go here,
                # onto the group and every instance it launches.
                *(
                    aws.autoscaling.GroupTagArgs(key=key, value=value, propagate_at_launch=True)
                    for key, value in sorted(args.tags.items())
                ),
            ],
            opts=child,
        )
        capacity_provider = aws.ecs.CapacityProvider(
            f"{name}-capacity-provider",
            name=args.capacity_provider_name,
            auto_scaling_group_provider=aws.ecs.CapacityProviderAutoScalingGroupProviderArgs(
                auto_scaling_group_arn=group.arn,
                managed_termination_protection="ENABLED",
                managed_scaling=aws.ecs.CapacityProviderAutoScalingGroupProviderManagedScalingArgs(
                    status="ENABLED",
                    # 100: no idle spare instance; the group shrinks to what the tasks need.
                    target_capacity=100,
                    minimum_scaling_step_size=1,
                    maximum_scaling_step_size=args.max_size,
                ),
            ),
            opts=child,
        )
        attachment = aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity-providers",
            cluster_name=cluster.name,
            capacity_providers=[capacity_provider.name],
            default_capacity_provider_strategies=[
                aws.ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs(
                    capacity_provider=capacity_provider.name,
                    weight=1,
                    base=0,
                )
            ],
            opts=child,
        )

        self.arn = cluster.arn
        self.name = cluster.name
        # RunTask naming a provider not yet attached to the cluster fails: consumers wait for it.
        self.capacity_provider_name = pulumi.Output.all(capacity_provider.name, attachment.id).apply(
            lambda values: values[0]
        )
        self.security_group_id = security_group.id
        self.register_outputs(
            {
                "arn": self.arn,
                "name": self.name,
                "capacity_provider_name": self.capacity_provider_name,
                "security_group_id": self.security_group_id,
            }
        )
