"""`ServiceImage`: a service's container image, built from source and pushed to its own ECR repository.

Produces an ECR repository (scan on push, deletable even when it holds images, a
lifecycle policy expiring all but the newest images) and a `docker_build.Image` (pulumi-docker-build)
that builds the Dockerfile with BuildKit for one platform, pushes it with the registry's own
credentials and keeps its build cache in the same repository. The image URI is pinned by digest,
so a task definition changes exactly when the image content changes.

The repository is retained when Pulumi would delete it, protected on request, and every resource is
aliased to its former names. `pulumi preview` builds nothing (`build_on_preview=False`), so it needs no Docker daemon;
`pulumi up` needs one (BuildKit) on the machine that runs it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from components.renames import renamed, stateful

# The tag each build pushes (tasks never use it: they pin the digest) and the tag of the build cache.
IMAGE_TAG = "latest"
CACHE_TAG = "buildcache"


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
    protect: bool = False
    """Protect the repository (`pulumi destroy` and replacements stop at it); it is retained on delete anyway."""
    former_names: tuple[str, ...] = ()
    """Earlier names of this component: aliased, so a rename replaces nothing."""


class ServiceImage(pulumi.ComponentResource):
    """One service's ECR repository and the image built from its source."""

    image_uri: pulumi.Output[str]
    """The pushed image, `<repository url>@sha256:<digest>` (the container's image)."""
    repository_url: pulumi.Output[str]
    """URL of the repository (docker pull/push)."""
    repository_arn: pulumi.Output[str]
    """ARN of the repository (for the execution role's pull grant)."""

    def __init__(self, name: str, args: ServiceImageArgs, opts: pulumi.ResourceOptions | None = None):
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(aliases=renamed(name, name, args.former_names))
        )
        super().__init__("event-tasks:index:ServiceImage", name, None, opts)

        def child(suffix: str) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, aliases=renamed(f"{name}-{suffix}", name, args.former_names))

        repository = aws.ecr.Repository(
            f"{name}-repository",
            name=args.repository_name,
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=True,
            ),
            # Every build re-pushes the `latest` and cache tags, so tags must stay mutable; tasks pin
            # the digest instead.
            image_tag_mutability="MUTABLE",
            # Pulumi retains the repository (`stateful`); whoever deletes it by hand, after `pulumi
            # state delete`, must not be stopped by the images it holds.
            force_delete=True,
            opts=pulumi.ResourceOptions.merge(stateful(args.protect), child("repository")),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=json.dumps(lifecycle_policy(args.keep_images)),
            opts=child("lifecycle"),
        )
        # ECR's token for this registry, as `docker login` would use it; the password stays secret.
        token = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id)
        cache = repository.repository_url.apply(lambda url: f"{url}:{CACHE_TAG}")
        image = docker_build.Image(
            f"{name}-image",
            context=docker_build.BuildContextArgs(location=args.context),
            dockerfile=docker_build.DockerfileArgs(location=args.dockerfile),
            platforms=[docker_build.Platform(args.platform)],
            push=True,
            # A preview (a pull request's) must not need a Docker daemon; `up` builds.
            build_on_preview=False,
            tags=[repository.repository_url.apply(lambda url: f"{url}:{IMAGE_TAG}")],
            registries=[
                docker_build.RegistryArgs(
                    address=repository.repository_url,
                    username=token.user_name,
                    password=pulumi.Output.secret(token.password),
                )
            ],
            # The cache lives next to the image, so any machine's build reuses the layers; ECR needs
            # the cache as an OCI image manifest.
            cache_from=[docker_build.CacheFromArgs(registry=docker_build.CacheFromRegistryArgs(ref=cache))],
            cache_to=[
                docker_build.CacheToArgs(
                    registry=docker_build.CacheToRegistryArgs(
                        ref=cache,
                        mode=docker_build.CacheMode.MAX,
                        image_manifest=True,
                        oci_media_types=True,
                    )
                )
            ],
            opts=child("image"),
        )
        self.image_uri = pulumi.Output.concat(repository.repository_url, "@", image.digest)
        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.register_outputs(
            {
                "image_uri": self.image_uri,
                "repository_url": self.repository_url,
                "repository_arn": self.repository_arn,
            }
        )
