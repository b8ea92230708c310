"""Encryption at rest: the launch template's root volume, and the optional customer-managed KMS key
(`event-tasks:kmsKeyArn`) on the tables and dead-letter queues, from the stacks' own configs."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_mocks import ACCOUNT, REGION, ROOT

from components.config import ConfigError, engine_config, load_config

KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0123abcd-0123-4567-89ab-0123456789ab"
TRIGGER = {
    "reserve-credit": {
        "bus": "order",
        "detailTypes": ["OrderCreated"],
        "service": "customer",
        "command": ["python", "-m", "customer.reserve_credit"],
    }
}


def raw(environment: str = "local", **keys: Any) -> dict[str, Any]:
    """A stack's config map as the engine passes it; `keys` are top-level `event-tasks:` keys."""
    config: dict[str, Any] = {
        "aws:region": REGION,
        "event-tasks:environment": environment,
        "event-tasks:triggers": TRIGGER,
    }
    if environment == "local":
        config["event-tasks:services"] = {"order": {}, "customer": {}}
    else:
        config["event-tasks:services"] = {
            "order": {},
            "customer": {"taskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/customer:5"},
        }
        config["event-tasks:cloud"] = {
            "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/shared",
            "subnets": ["subnet-0a1b2c3d"],
            "securityGroups": ["sg-0c1d2e3f"],
        }
    config.update({f"event-tasks:{k}": v for k, v in keys.items()})
    return engine_config(config)


def test_the_launch_template_encrypts_the_root_volume(deploy):
    # GIVEN the local stack
    template = deploy("local", raw()).named("cluster-launch-template")
    # THEN the AMI's root device gets an encrypted gp3 volume (its size stays the snapshot's),
    # deleted with the instance
    assert template.inputs["blockDeviceMappings"] == [
        {
            "deviceName": "/dev/xvda",
            "ebs": {"encrypted": "true", "volumeType": "gp3", "deleteOnTermination": "true"},
        }
    ]


def test_without_a_key_tables_and_queues_use_aws_managed_encryption(deploy):
    # GIVEN the local stack without kmsKeyArn
    stack = deploy("local", raw())
    # THEN tables use the AWS-managed key, DLQs SSE-SQS, and task roles get no KMS grant
    for table in stack.of_type("aws:dynamodb/table:Table"):
        assert table.inputs["serverSideEncryption"] == {"enabled": True}
    (queue,) = stack.of_type("aws:sqs/queue:Queue")
    assert queue.inputs["sqsManagedSseEnabled"] is True and "kmsMasterKeyId" not in queue.inputs
    for service in ("order", "customer"):
        actions = [s["Action"] for s in stack.named(f"{service}-task-policy").json("policy")["Statement"]]
        assert not [a for a in actions if "kms:" in str(a)]


def test_a_customer_managed_key_encrypts_tables_and_queues_and_the_tasks_may_use_it(deploy):
    # GIVEN the local stack with a customer-managed key
    stack = deploy("local", raw(kmsKeyArn=KEY))
    # THEN every table is encrypted with it
    tables = stack.of_type("aws:dynamodb/table:Table")
    assert [t.inputs["serverSideEncryption"] for t in tables] == [{"enabled": True, "kmsKeyArn": KEY}] * 2
    # AND every DLQ, instead of SSE-SQS (the two are exclusive)
    (queue,) = stack.of_type("aws:sqs/queue:Queue")
    assert queue.inputs["kmsMasterKeyId"] == KEY and "sqsManagedSseEnabled" not in queue.inputs
    # AND each task role may use it through DynamoDB only
    for service in ("order", "customer"):
        statements = {s["Sid"]: s for s in stack.named(f"{service}-task-policy").json("policy")["Statement"]}
        assert statements["UseTableKeyThroughDynamoDb"]["Resource"] == KEY
        assert statements["UseTableKeyThroughDynamoDb"]["Condition"] == {
            "StringEquals": {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}
        }


def test_in_cloud_the_key_encrypts_the_dead_letter_queues(deploy):
    # GIVEN the cloud stack (it creates no table) with a customer-managed key
    stack = deploy("cloud", raw("cloud", kmsKeyArn=KEY))
    # THEN its DLQ uses the key
    (queue,) = stack.of_type("aws:sqs/queue:Queue")
    assert queue.inputs["kmsMasterKeyId"] == KEY


@pytest.mark.parametrize(
    "value, message",
    [
        (
            f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/event-tasks",
            r"event-tasks:kmsKeyArn: 'arn:aws:kms:.*:alias/event-tasks' is not a KMS key ARN; .*not an alias",
        ),
        ("0123abcd-0123-4567-89ab-0123456789ab", r"event-tasks:kmsKeyArn: '0123abcd-.*' is not a KMS key ARN"),
        (
            f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0123abcd-0123-4567-89ab-0123456789ab",
            r"event-tasks:kmsKeyArn: is in region us-east-1 but the stack's aws:region is ap-southeast-1; "
            r"DynamoDB and SQS use a key of their own region only",
        ),
    ],
)
def test_a_bad_key_is_refused_naming_the_key_path(value, message):
    # GIVEN a config whose kmsKeyArn is an alias, a bare key id, or a key of another region
    # WHEN it is loaded THEN the error names the key and the fix
    with pytest.raises(ConfigError, match=message):
        load_config(raw(kmsKeyArn=value), "test", ROOT)


def test_a_multi_region_key_of_another_account_is_accepted():
    # GIVEN a multi-region key (mrk-) of another account, in the stack's region
    key = f"arn:aws:kms:{REGION}:210987654321:key/mrk-{'0' * 32}"
    # WHEN / THEN the config loads with it
    assert load_config(raw(kmsKeyArn=key), "test", ROOT).kmsKeyArn == key
