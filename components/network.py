"""`LocalNetwork`: the `local` stack's own VPC, public subnets only.

Produces a VPC, one public subnet per availability zone, an internet gateway and one route table
sending 0.0.0.0/0 to it, associated with every subnet. There is deliberately no NAT gateway (the
most expensive idle part of a VPC): the container instances live in the public subnets and reach
ECR, ECS, CloudWatch Logs, DynamoDB and EventBridge through their own public IPs, with a security
group that admits no inbound traffic.

Plain resources rather than `awsx.ec2.Vpc`: every piece is visible in preview and checkable under
mocks (an awsx Vpc registers as one opaque resource there), and no awsx default can add a NAT
gateway behind our back.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class LocalNetworkArgs:
    """Inputs of `LocalNetwork`."""

    availability_zones: pulumi.Input[list[str]]
    """Zone names to spread the subnets over; subnet i goes to zone i (needs >= len(subnet_cidrs))."""
    name_prefix: str
    """Prefix of the `Name` tags, so the VPC is recognisable in the console (the other tags come
    from the provider's default tags)."""
    cidr_block: str = "10.0.0.0/16"
    """Address range of the VPC."""
    subnet_cidrs: tuple[str, ...] = ("10.0.0.0/24", "10.0.1.0/24")
    """One public subnet per entry, in zone order (two zones keep the ASG alive if one zone fails)."""


class LocalNetwork(pulumi.ComponentResource):
    """A VPC with public subnets routed to an internet gateway, and no NAT."""

    vpc_id: pulumi.Output[str]
    """Id of the VPC (for security groups)."""
    public_subnet_ids: pulumi.Output[list[str]]
    """Ids of the public subnets, in zone order (for the auto scaling group)."""

    def __init__(self, name: str, args: LocalNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("event-tasks:index:LocalNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def tagged(suffix: str) -> dict[str, str]:
            return {"Name": f"{args.name_prefix}{suffix}"}

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr_block,
            # The instances resolve the AWS endpoints through the VPC resolver.
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=tagged("vpc"),
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw",
            vpc_id=vpc.id,
            tags=tagged("igw"),
            opts=child,
        )
        route_table = aws.ec2.RouteTable(
            f"{name}-public-routes",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            tags=tagged("public"),
            opts=child,
        )
        zones = pulumi.Output.from_input(args.availability_zones)
        subnets: list[aws.ec2.Subnet] = []
        associations: list[aws.ec2.RouteTableAssociation] = []
        for index, cidr in enumerate(args.subnet_cidrs):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{index}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zones.apply(lambda names, i=index: names[i]),
                # Public IPs come from the launch template's network interface, not the subnet:
                # nothing else launched here gets one by accident.
                map_public_ip_on_launch=False,
                tags=tagged(f"public-{index}"),
                opts=child,
            )
            associations.append(
                aws.ec2.RouteTableAssociation(
                    f"{name}-public-{index}-routes",
                    subnet_id=subnet.id,
                    route_table_id=route_table.id,
                    opts=child,
                )
            )
            subnets.append(subnet)

        self.vpc_id = vpc.id
        # The ids carry the route associations as dependencies: an instance launched into a subnet
        # already has its route to the internet (it must reach ECS and ECR to join the cluster).
        count = len(subnets)
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in subnets], *[a.id for a in associations]).apply(
            lambda ids: list(ids[:count])
        )
        self.register_outputs({"vpc_id": self.vpc_id, "public_subnet_ids": self.public_subnet_ids})
