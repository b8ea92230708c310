"""Resource options that let a component be renamed or moved without replacing what it holds.

`renamed(name, former_names)` gives the aliases of a resource named `name` whose logical name
used to start with one of `former_names` instead (children are named `f"{component}-<suffix>"`).
The URN keeps only the parents' types, not their names, so each resource's alias names its own
former name; the parent stays as it is. `stateful(protect)` are the options of a resource that
holds data: never deleted with the stack (`retain_on_delete`) and, when `protect`, not even
replaced or deleted without first unprotecting it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi


def renamed(name: str, component: str, former_names: Sequence[str]) -> list[pulumi.Alias]:
    """Aliases of the resource `name` of `component` for each former name of the component."""
    if not name.startswith(component):
        raise ValueError(f"{name!r} is not named after its component {component!r}")
    return [pulumi.Alias(name=former + name[len(component) :]) for former in former_names]


def stateful(protect: bool) -> pulumi.ResourceOptions:
    """Options of a resource whose deletion would lose data (a table's items, a repository's images)."""
    return pulumi.ResourceOptions(protect=protect, retain_on_delete=True)
