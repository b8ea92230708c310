"""The sandbox deploys each bus's resource policy into the emulator, which stores it but enforces
nothing: tests/test_bus_policy.py is where a forged event is shown to be denied."""

from __future__ import annotations

import json

from components.config import engine_config, load_config
from sandbox.harness import Sandbox
from sandbox.provision import PROJECT_ROOT

REGION = "ap-southeast-1"


def test_every_bus_policy_is_put_on_its_bus_in_the_emulator_which_does_not_enforce_it():
    # GIVEN a local stack of two services (its own config, not a shipped stack file)
    raw = engine_config(
        {
            "aws:region": REGION,
            "event-tasks:environment": "local",
            "event-tasks:services": {"order": {}, "customer": {}},
        }
    )
    config = load_config(raw, "policy", PROJECT_ROOT)
    # WHEN the sandbox deploys it
    with Sandbox(config, out=None) as sandbox:
        assert sandbox.recording is not None
        rendered = {
            p.inputs["eventBusName"]: json.loads(p.inputs["policy"])
            for p in sandbox.recording.of_type("aws:cloudwatch/eventBusPolicy:EventBusPolicy")
        }
        events = sandbox.client("events")
        stored = {name: json.loads(events.describe_event_bus(Name=name)["Policy"]) for name in rendered}
        # AND someone who is not a publisher puts a forged CreditReserved on the customer bus
        forged = events.put_events(
            Entries=[
                {
                    "EventBusName": "event-tasks-policy-customer",
                    "Source": "event-tasks.customer",
                    "DetailType": "CreditReserved",
                    "Detail": json.dumps({"orderId": "o-1", "customerId": "c-1", "amount": 60}),
                }
            ]
        )
    # THEN each bus holds exactly the policy the program rendered for it
    assert sorted(rendered) == ["event-tasks-policy-customer", "event-tasks-policy-order"]
    assert stored == rendered
    # AND the emulator accepts the put that the policy denies on AWS: it enforces no IAM at all
    # (when this fails, moto enforces bus policies: say so in README's sandbox section)
    assert forged["FailedEntryCount"] == 0
