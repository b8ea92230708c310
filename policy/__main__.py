"""The event-tasks policy pack: `pulumi preview --policy-pack policy` serves every policy of
event_tasks_policy.py, mandatory, to the engine (this call blocks, answering it)."""

# The engine runs this directory as a script, so its modules import by their bare names.
from event_tasks_policy import policies
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="event-tasks",
    policies=policies(),
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Event authenticity, least privilege and failure handling for event-tasks stacks.",
)
