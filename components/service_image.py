"""`ServiceImage`: a service's container image, built from source and pushed to its own ECR repository.

Produces an ECR repository (scan on push, deletable with the stack even when it holds images, a
lifecycle policy expiring all but the newest images) and an `awsx.ecr.Image` that builds the
Dockerfile with docker for one platform and pushes it. The image URI is pinned by digest, so a task
definition changes exactly when the image content changes.

Requires a docker daemon on the machine running `pulumi up`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx


def lifecycle_policy(keep_images: int) -> dict[str, Any]:
    """Expire every image but the newest `keep_images` (each `pulumi up` that changes code pushes one)."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Keep the newest {keep_images} images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": keep_images,
                },
                "action": {"type": "expire"},
            }
        ]
    }


@dataclass(frozen=True)
class ServiceImageArgs:
    """Inputs of `ServiceImage`."""

    repository_name: str
    """Physical name of the ECR repository."""
    context: str
    """Docker build context, relative to the directory Pulumi runs the program in (the project)."""
    dockerfile: str
    """Path of the Dockerfile, relative to that same directory (not to the context)."""
    platform: str = "linux/amd64"
    """Platform to build for; must match the container instances' architecture."""
    keep_images: int = 10
    """Images kept in the repository; older ones expire."""


class ServiceImage(pulumi.ComponentResource):
    """One service's ECR repository and the image built from its source."""

    image_uri: pulumi.Output[str]
    """The pushed image, `<repository url>@sha256:<digest>` (the container's image)."""
    repository_url: pulumi.Output[str]
    """URL of the repository (docker pull/push)."""
    repository_arn: pulumi.Output[str]
    """ARN of the repository (for the execution role's pull grant)."""

    def __init__(self, name: str, args: ServiceImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("event-tasks:index:ServiceImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        repository = aws.ecr.Repository(
            f"{name}-repository",
            name=args.repository_name,
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=True,
            ),
            # awsx re-pushes the same tag (a hash of the build inputs, not of the content) on every
            # rebuild, so tags must stay mutable; tasks pin the digest instead.
            image_tag_mutability="MUTABLE",
            # `pulumi destroy` of a developer stack must not stop at a repository holding images.
            force_delete=True,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=json.dumps(lifecycle_policy(args.keep_images)),
            opts=child,
        )
        image = awsx.ecr.Image(
            f"{name}-image",
            repository_url=repository.repository_url,
            context=args.context,
            dockerfile=args.dockerfile,
            platform=args.platform,
            opts=child,
        )
        self.image_uri = image.image_uri
        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.register_outputs(
            {
                "image_uri": self.image_uri,
                "repository_url": self.repository_url,
                "repository_arn": self.repository_arn,
            }
        )
