"""Run a stack's event flows end to end on the emulator and judge the outcome.

1. Start the emulator (moto as a server on 127.0.0.1, patched: sandbox/emulator.py).
2. For `cloud`, stand in for the shared environment the stack expects to exist (cluster, task
   definitions, roles, tables, a VPC); then evaluate this Pulumi program under the mock runtime,
   creating in the emulator every resource it registers (sandbox/provision.py).
3. Play the scenario: create customers, place orders, cancel, optionally replay every event, each
   step run as a one-off command in the service's container environment; every ECS task a state
   machine starts runs as a local process (sandbox/runner.py).
4. Wait until the system is quiet, print the timeline, check the invariants, return a summary.
"""

from __future__ import annotations

import copy
import gc
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.events.models import EventPattern, events_backends

from components import naming
from components.config import CLUSTER_ARN, TASK_DEFINITION_ARN, StackConfig, load_config, read_stack_file
from components.orchestration import default_detail_types
from components.task_schedule import EXECUTION_ID, SCHEDULE_ARN, SCHEDULED_TIME
from sandbox.emulator import ContainerLaunch, Emulator, start_server
from sandbox.provision import IMAGE_TYPE, PROJECT_ROOT, ProvisioningMocks, Recording, create_network, evaluate_program
from sandbox.runner import TaskRun, TaskRunner
from sandbox.scenario import Scenario

CONTAINER_INSTANCES = 8  # room for ~110 tasks at once (50 concurrent orders, their saga steps and retries)
TERMINAL_ORDER_STATES = ("APPROVED", "REJECTED", "CANCELLED")
EXECUTION_STATES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class SandboxError(Exception):
    """The sandbox cannot run this stack; the message says why and what to change."""


class EnvironmentLacks(SandboxError):
    """This machine lacks something the sandbox needs (a Docker engine, a free port)."""


@dataclass
class Report:
    """What happened, and whether the run passes."""

    orders: dict[str, str] = field(default_factory=dict)
    customers: dict[str, dict[str, int]] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    executions: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)
    """One per execution that did not succeed: {trigger, eventId, error, failureEventId}."""
    sagas: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per orchestrated order, as its saga announced its end: outcome, steps' results, compensations."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "customers": self.customers,
            "events": self.events,
            "executions": self.executions,
            "seconds": round(self.seconds, 2),
            "failures": self.failures,
            "sagas": self.sagas,
            "problems": self.problems,
        }


class Timeline:
    """Prints what happens, as it happens, in a form a person can follow: each event, the rules it
    started, the tasks those ran and how their executions ended.

    Every rule delivery is printed under the event it delivered (a redelivery under a new
    heading of its own event, `again`), and every ended execution names the event that started
    it: its delivery's, else the event id in its input (executions started by other means).
    """

    def __init__(self, emulator: Emulator, sfn: Any, machines: list[str], out: Callable[[str], None] | None):
        self.emulator = emulator
        self.sfn = sfn
        self.machines = machines
        self.out = out
        self.start = time.monotonic()
        self._events = 0
        self._deliveries = 0
        self._seen: set[str] = set()
        self._heading: tuple[str, int] | None = None
        self._rule_deliveries: dict[tuple[str, str], int] = {}
        self._started_by: dict[str, dict[str, Any]] = {}
        self._finished: list[TaskRun] = []
        self._executions: dict[str, str] = {}

    def say(self, text: str) -> None:
        if self.out is not None:
            self.out(f"{time.monotonic() - self.start:7.2f}s  {text}")

    def task_finished(self, run: TaskRun) -> None:
        self._finished.append(run)  # list.append is atomic; printed from the main thread

    def poll(self) -> int:
        """Print what is new; return how many executions are still running."""
        # Deliveries first, in order, each under its event: moto delivers an event to the rules
        # before PutEvents returns, so its emitted record can come after its deliveries.
        emitted = self.emulator.events.emitted
        for delivery in self.emulator.events.deliveries[self._deliveries :]:
            self._deliveries += 1
            event_id = delivery.event["id"]
            pending = [e["id"] for e in emitted[self._events :]]
            if event_id in pending:  # print the emitted events up to this one, in order
                for event in emitted[self._events : self._events + pending.index(event_id) + 1]:
                    self._print_event(event)
                self._events += pending.index(event_id) + 1
            elif event_id not in self._seen:  # delivered before its emitted record exists
                self._print_event({**delivery.event, "event-bus": _rule_bus(delivery.rule_arn)})
            # The n-th delivery of an event to a rule goes under the event's n-th heading.
            times = self._rule_deliveries[(event_id, delivery.rule_arn)] = (
                self._rule_deliveries.get((event_id, delivery.rule_arn), 0) + 1
            )
            if self._heading != (event_id, times):
                self._heading = (event_id, times)
                self.say(f"event  {delivery.event['detail-type']} [id {event_id[:8]}] again")
            self._print_delivery(delivery)
        for event in emitted[self._events :]:
            self._print_event(event)
        self._events = len(emitted)
        while self._finished:
            run = self._finished.pop(0)
            self.say(
                f"     task {run.container}: {' '.join(run.command)} -> exit {run.exit_code} "
                f"({(run.ended or run.started) - run.started:.2f}s){_last_line(run)}"
            )
        running = 0
        for machine in self.machines:
            for execution in _executions(self.sfn, machine):
                arn, status = execution["executionArn"], execution["status"]
                running += status == "RUNNING"
                if self._executions.get(arn) != status:
                    self._executions[arn] = status
                    if status != "RUNNING":
                        self.say(
                            f"  <- execution {_short(arn)} {status} ({self._trigger(arn)}){self._why(arn, status)}"
                        )
        return running

    def _print_event(self, event: dict[str, Any]) -> None:
        if event["id"] in self._seen:
            return
        self._seen.add(event["id"])
        self._heading = (event["id"], 1)
        self.say(
            f"event  {event['detail-type']} on {event['event-bus']} "
            f"{json.dumps(event['detail'], separators=(',', ':'))}  [id {event['id'][:8]}]"
        )

    def _print_delivery(self, delivery: Any) -> None:
        rule = delivery.rule_arn.rsplit("/", 1)[-1]
        if delivery.execution_arn:
            self._started_by[delivery.execution_arn] = delivery.event
            self.say(f"  -> rule {rule} started execution {_short(delivery.execution_arn)}")
        else:
            self.say(
                f"  !! rule {rule} could not start its state machine ({delivery.error}); "
                f"{'dead-lettered' if delivery.dlq_arn else 'DROPPED'}"
            )

    def _trigger(self, arn: str) -> str:
        """The event that started an execution, as `<detail-type> [id <8>]`."""
        event = self._started_by.get(arn)
        if event is None:
            event = _input_event(self.sfn, arn)
        return f"{event.get('detail-type', '?')} [id {str(event.get('id', '?'))[:8]}]"

    def _why(self, arn: str, status: str) -> str:
        if status == "SUCCEEDED":
            return ""
        found = self.sfn.describe_execution(executionArn=arn)
        return f": {found.get('error', '')} {found.get('cause', '')[:160]}".rstrip()


def _rule_bus(rule_arn: str) -> str:
    """`arn:aws:events:<region>:<account>:rule/<bus>/<rule>` (`rule/<rule>` on the default bus)."""
    parts = rule_arn.split(":", 5)[-1].split("/")
    return parts[1] if len(parts) == 3 else "default"


def _input_event(sfn: Any, execution_arn: str) -> dict[str, Any]:
    """The EventBridge event an execution was started with ({} if its input is not one)."""
    return _started_with(sfn.describe_execution(executionArn=execution_arn))


def _last_line(run: TaskRun) -> str:
    """The last output line of a failed process: usually the one that says why."""
    return f"  | {run.output.splitlines()[-1]}" if run.output and run.exit_code else ""


def _executions(sfn: Any, machine: str) -> list[dict[str, Any]]:
    """Every execution of a state machine (the API pages at 100); none if it was deleted."""
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
    try:
        return [execution for page in pages for execution in page["executions"]]
    except sfn.exceptions.StateMachineDoesNotExist:
        return []


def _short(execution_arn: str) -> str:
    parts = execution_arn.split(":")
    return f"{parts[-2].removeprefix(naming.PROJECT + '-')}/{parts[-1][:8]}"


class Sandbox:
    """One emulated deployment of a stack, ready to play scenarios."""

    def __init__(
        self,
        config: StackConfig,
        *,
        out: Callable[[str], None] | None = print,
        timeout_seconds: float = 60.0,
        task_timeout_seconds: float = 30.0,
        docker: bool = False,
        cold: bool = False,
    ):
        self.config = config
        self.out = out
        self.timeout_seconds = timeout_seconds
        self.task_timeout_seconds = task_timeout_seconds
        self.docker = docker
        self.cold = cold
        """Start every task as a new interpreter instead of forking it from the warm zygote."""
        self.emulator: Emulator | None = None
        self.recording: Recording | None = None
        self.runner: TaskRunner | None = None
        self._containers: dict[str, ContainerLaunch] = {}
        self._frozen = False

    # -- life cycle ------------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        # The emulator takes the stack file's region and, for cloud, the account its ARNs name.
        cluster = CLUSTER_ARN.match(self.config.cloud.clusterArn) if self.config.cloud else None
        try:
            self.emulator = start_server(self.config.region, account_id=cluster["account"] if cluster else None)
        except OSError as error:
            raise EnvironmentLacks(f"cannot start the emulator's server on 127.0.0.1: {error}") from None
        # The workflows back off 30 s, 60 s... before retrying a failed task; a hundredth keeps the order.
        self.emulator.set_wait_scale(0.01)
        try:
            self._deploy()
        except Exception:
            self.stop()
            raise
        # What is alive now (moto, botocore's models, the evaluated program) lives as long as the
        # sandbox: out of the cyclic collector's sight, its passes walk only what the run makes.
        # (Without a collection first, which would cost more than it saves: garbage frozen with
        # it waits for `stop`.)
        gc.freeze()
        self._frozen = True

    def stop(self) -> None:
        if self._frozen:
            gc.unfreeze()
            self._frozen = False
        if self.runner is not None:
            self.runner.close()
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None

    def client(self, service: str) -> Any:
        assert self.emulator is not None
        return self.emulator.boto3_client(service)

    def _deploy(self) -> None:
        assert self.emulator is not None
        sources: dict[str, Path] = {}
        config = self.config
        if config.environment == "cloud":
            config = self._stand_in_for_shared_environment(sources)
        mocks = ProvisioningMocks(self.client, config.region)
        self.recording = evaluate_program(mocks, config)
        # A task definition names `<repository>@<digest>`; docker can only tag a local build
        # `<repository>:<tag>`, so --docker runs the digest reference as that tag.
        local_images: dict[str, str] = {}
        for image in self.recording.of_type(IMAGE_TYPE):
            (tag,) = image.inputs["tags"]
            uri = f"{tag.rsplit(':', 1)[0]}@{image.state['digest']}"
            sources[uri] = (PROJECT_ROOT / image.inputs["dockerfile"]["location"]).parent
            local_images[uri] = tag
        if self.docker:
            for uri, source in sources.items():
                self._docker_build(source, local_images.get(uri, uri))
        for cluster in self.recording.of_type("aws:ecs/cluster:Cluster"):
            # The emulator neither scales nor queues tasks in PROVISIONING: give it room up front
            # (each instance takes fourteen 512 MiB tasks at once).
            for _ in range(CONTAINER_INSTANCES):
                self._register_container_instance(cluster.inputs["name"])
        self.runner = TaskRunner(
            self.emulator,
            sources,
            timeout_seconds=self.task_timeout_seconds,
            docker=self.docker,
            local_images=local_images,
            warm=not self.cold,
        )
        self.emulator.set_task_runner(self.runner)
        self.say(
            f"deployed stack {config.stack!r} ({config.environment}) into the emulator: "
            f"{sum(r.created for r in self.recording.resources)} resources created"
            + (f", recorded only: {', '.join(self.recording.recorded_only)}" if self.recording.recorded_only else "")
        )

    def say(self, text: str) -> None:
        if self.out is not None:
            self.out(text)

    def _stand_in_for_shared_environment(self, sources: dict[str, Path]) -> StackConfig:
        """Create what the cloud stack looks up (made with Terraform on AWS), as the ARNs say."""
        config = self.config
        assert config.cloud is not None
        account = self.client("sts").get_caller_identity()["Account"]
        cluster = CLUSTER_ARN.match(config.cloud.clusterArn)
        assert cluster is not None and cluster["account"] == account  # start() made them equal
        self.client("ecs").create_cluster(clusterName=cluster["name"])
        ec2 = self.client("ec2")
        vpc_id, subnets = create_network(ec2, "10.1.0.0/16")
        group = ec2.create_security_group(
            GroupName="event-tasks-shared-tasks", VpcId=vpc_id, Description="tasks of the shared environment"
        )["GroupId"]
        iam, ecs, dynamodb = self.client("iam"), self.client("ecs"), self.client("dynamodb")
        trust = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        )
        for service, settings in sorted(config.services.items()):
            table = naming.table_name(config.stack, service)
            dynamodb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
            )
            if settings.taskDefinitionArn is None:
                continue
            wanted = TASK_DEFINITION_ARN.match(settings.taskDefinitionArn)
            assert wanted is not None
            roles = [
                iam.create_role(RoleName=f"{wanted['family']}-{kind}", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
                for kind in ("task", "execution")
            ]
            image = f"{account}.dkr.ecr.{config.region}.amazonaws.com/{service}:shared"
            sources[image] = PROJECT_ROOT / "service_images" / service
            # Revisions count up from 1: register until the configured revision exists.
            for _ in range(int(wanted["revision"])):
                ecs.register_task_definition(
                    family=wanted["family"],
                    networkMode="awsvpc",
                    requiresCompatibilities=["FARGATE"],
                    cpu="256",
                    memory="512",
                    taskRoleArn=roles[0],
                    executionRoleArn=roles[1],
                    containerDefinitions=[
                        {
                            # Container-level memory: moto cannot place a task without it.
                            "name": config.container_name(service),
                            "image": image,
                            "essential": True,
                            "memory": 512,
                            "environment": [
                                {"name": "EVENT_BUS_NAME", "value": naming.bus_name(config.stack, service)},
                                {"name": "TABLE_NAME", "value": table},
                            ],
                        }
                    ],
                )
        # The shared VPC's ids are the emulator's, not the ones in the stack file.
        cloud = config.cloud.model_copy(update={"subnets": subnets, "securityGroups": [group]})
        return config.model_copy(update={"cloud": cloud})

    def _register_container_instance(self, cluster: str) -> None:
        """Stand in for the auto scaling group's instance joining the cluster."""
        ec2 = self.client("ec2")
        subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]]
        image = self.client("ssm").get_parameter(
            Name="/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
        )["Parameter"]["Value"]
        instance = ec2.run_instances(
            ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnets[0], InstanceType="t3.micro"
        )["Instances"][0]
        document = {
            "instanceId": instance["InstanceId"],
            "region": self.config.region,
            "availabilityZone": instance["Placement"]["AvailabilityZone"],
            "instanceType": instance["InstanceType"],
            "imageId": image,
            "privateIp": instance.get("PrivateIpAddress", "10.0.0.10"),
        }
        self.client("ecs").register_container_instance(cluster=cluster, instanceIdentityDocument=json.dumps(document))

    def _docker_build(self, source: Path, tag: str) -> None:
        """Build the image the way the local stack does: context = the image directory's parent."""
        argv = [
            "docker",
            "build",
            "--platform",
            "linux/amd64",
            "-t",
            tag,
            "-f",
            str(source / "Dockerfile"),
            str(source.parent),
        ]
        try:
            built = subprocess.run(argv, check=False).returncode == 0
        except FileNotFoundError:
            built = False
        if not built:
            raise EnvironmentLacks(f"--docker: `{' '.join(argv)}` failed; is a Docker engine running?")

    # -- playing a scenario ---------------------------------------------------------------------

    def container(self, service: str) -> ContainerLaunch:
        """The service's container as its task definition declares it (for one-off commands)."""
        if service not in self._containers:
            bus = naming.bus_name(self.config.stack, service)
            name = self.config.container_name(service)
            ecs = self.client("ecs")
            for arn in ecs.list_task_definitions()["taskDefinitionArns"]:
                found = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
                for definition in found["containerDefinitions"]:
                    env = {e["name"]: e["value"] for e in definition.get("environment", [])}
                    if definition["name"] == name and env.get("EVENT_BUS_NAME") == bus:
                        self._containers[service] = ContainerLaunch(
                            name=name, image=definition["image"], command=None, environment=env, essential=True
                        )
            if service not in self._containers:
                raise SandboxError(f"no task definition runs the {service!r} service's container {name!r}")
        return self._containers[service]

    def run_command(self, service: str, command: list[str], timeline: Timeline | None) -> TaskRun:
        """Run a use case from the command line in the service's container (like `ecs run-task`);
        printed and followed by a timeline poll unless `timeline` is None (thread-safe then)."""
        assert self.runner is not None
        base = self.container(service)
        run = self.runner.run_command(ContainerLaunch(base.name, base.image, command, base.environment, True))
        if timeline is not None:
            timeline.say(f"{service} $ {' '.join(command)} -> exit {run.exit_code}{_last_line(run)}")
            timeline.poll()
        return run

    def wait_until_quiet(self, timeline: Timeline, deadline: float) -> bool:
        """Wait until no execution runs and no task is held, twice in a row; False on timeout."""
        assert self.emulator is not None
        quiet = 0
        while time.monotonic() < deadline:
            running = timeline.poll()
            quiet = quiet + 1 if running == 0 and not self.emulator.running_tasks() else 0
            if quiet >= 2:
                return True
            time.sleep(0.05)
        timeline.poll()
        return False

    def replay(self, events: list[dict[str, Any]], timeline: Timeline) -> None:
        """Deliver each event again with the same id, as EventBridge's at-least-once delivery may."""
        account = self.client("sts").get_caller_identity()["Account"]
        backend = events_backends[account][self.config.region]
        for event in events:
            timeline.say(f"replay {event['detail-type']} [id {event['id'][:8]}]")
            message = {
                "version": "0",
                "id": event["id"],
                "detail-type": event["detail-type"],
                "source": event["source"],
                "account": account,
                "time": time.time(),
                "region": self.config.region,
                "resources": [],
                "detail": copy.deepcopy(event["detail"]),
            }
            for rule in list(backend.event_buses[event["event-bus"]].rules.values()):
                # A duplicate delivery reaches the rules' targets; the archive keeps the one original.
                if not rule.managed_by:
                    rule.send_to_targets(copy.deepcopy(message))
            timeline.poll()

    def tick(self, trigger: str, timeline: Timeline, scheduled_time: str | None = None) -> str:
        """Fire a schedule once, as EventBridge Scheduler would: the emulator stores schedules but never
        invokes them. The input is the deployed schedule's own (rendered by `scheduled_event`), with
        the Scheduler's context attributes filled in; returns the execution ARN."""
        assert self.recording is not None
        found = self.recording.outputs.get("triggers", {}).get(trigger)
        if not found or "scheduleArn" not in found:
            scheduled = sorted(t for t, o in self.recording.outputs.get("triggers", {}).items() if "scheduleArn" in o)
            raise SandboxError(
                f"--tick {trigger}: not a scheduled trigger of this stack; scheduled triggers: "
                f"{', '.join(scheduled) or 'none'}"
            )
        group, name = found["scheduleArn"].split(":schedule/", 1)[1].split("/", 1)
        target = self.client("scheduler").get_schedule(Name=name, GroupName=group)["Target"]
        when = scheduled_time or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        execution_id = str(uuid.uuid4())
        given = (
            target["Input"]
            .replace(SCHEDULED_TIME, when)
            .replace(EXECUTION_ID, execution_id)
            .replace(SCHEDULE_ARN, found["scheduleArn"])
        )
        arn = self.client("stepfunctions").start_execution(
            stateMachineArn=target["Arn"], name=f"tick-{execution_id}", input=given
        )["executionArn"]
        timeline.say(f"tick   {trigger} at {when} -> started execution {_short(arn)}")
        return arn

    def play(self, scenario: Scenario, ticks: tuple[str, ...] = ()) -> Report:
        assert self.emulator is not None and self.recording is not None and self.runner is not None
        started = time.monotonic()
        deadline = started + self.timeout_seconds
        machines = [m.state["arn"] for m in self.recording.of_type("aws:sfn/stateMachine:StateMachine")]
        timeline = Timeline(self.emulator, self.client("stepfunctions"), machines, self.out)
        self.runner.on_finish = timeline.task_finished
        if scenario.faults and self.docker:
            raise SandboxError("faults: the sandbox injects them into tasks run from source; drop --docker")
        self.runner.faults = list(scenario.faults)
        problems: list[str] = []
        for customer in scenario.customers:
            self.run_command(
                "customer",
                [
                    "python",
                    "-m",
                    "customer.create",
                    "--customer-id",
                    customer.id,
                    "--credit-limit",
                    str(customer.creditLimit),
                ],
                timeline,
            )
        places = [
            ["python", "-m", "order.place", "--order-id", o.id, "--customer-id", o.customerId, "--total", str(o.total)]
            for o in scenario.orders
        ] + [
            [
                "python",
                "-m",
                "order.request",
                "--order-id",
                o.id,
                "--customer-id",
                o.customerId,
                "--total",
                str(o.total),
            ]
            for o in scenario.sagaOrders
        ]
        if scenario.concurrency == 1:
            # One after the other: each order's saga settles before the next order is placed, so
            # which order wins the credit is the scenario's order, not the machine's speed.
            for command in places:
                self.run_command("order", command, timeline)
                if not self.wait_until_quiet(timeline, deadline):
                    break
        else:  # each its own process, `concurrency` at a time; the timeline catches up afterwards
            with ThreadPoolExecutor(max_workers=scenario.concurrency) as pool:
                for run in pool.map(lambda c: self.run_command("order", c, None), places):
                    timeline.say(f"order $ {' '.join(run.command)} -> exit {run.exit_code}{_last_line(run)}")
            timeline.poll()
        # Each phase waits for the one before to settle: after a timeout the later phases and the
        # invariants would judge a half-finished run, so the timeout is the one problem reported.
        phase = "the placed orders to settle"
        settled = self.wait_until_quiet(timeline, deadline)
        if settled and scenario.cancel:
            phase = "the cancellations to settle"
            for order_id in scenario.cancel:
                self.run_command("order", ["python", "-m", "order.cancel", "--order-id", order_id], timeline)
            settled = self.wait_until_quiet(timeline, deadline)
        for trigger in ticks:
            if not settled:
                break
            phase = f"the tick of {trigger} to settle"
            self.tick(trigger, timeline)
            settled = self.wait_until_quiet(timeline, deadline)
        if settled and scenario.replayEvents:
            phase = "the replayed events to settle"
            before = self.report([])
            self.replay(self.emulator.events.emitted, timeline)
            settled = self.wait_until_quiet(timeline, deadline)
            after = self.report([])
            if settled:
                problems += replay_problems(before, after)
        if settled:
            report = self.report(problems)
        else:
            report = self.report([])
            report.problems = [
                f"timed out after {self.timeout_seconds:g} s waiting for {phase} "
                f"({len(self.emulator.running_tasks())} tasks still running); raise --timeout"
            ]
        report.seconds = time.monotonic() - started
        return report

    # -- judging -----------------------------------------------------------------------------

    def _scan(self, service: str, sort_key: str) -> list[dict[str, Any]]:
        table = self.container(service).environment["TABLE_NAME"]
        dynamodb = self.client("dynamodb")
        items, start = [], None
        while True:
            page = dynamodb.scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}))
            items += [{k: _value(v) for k, v in item.items()} for item in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                return [i for i in items if i.get("sk") == sort_key]

    def report(self, problems: list[str]) -> Report:
        assert self.emulator is not None and self.recording is not None
        report = Report(problems=problems)
        orders = {o["orderId"]: o for o in self._scan("order", "ORDER")}
        report.orders = {k: orders[k]["status"] for k in sorted(orders)}
        customers = {c["customerId"]: c for c in self._scan("customer", "CUSTOMER")}
        report.customers = {
            k: {"creditLimit": int(c["creditLimit"]), "reserved": int(c["reserved"])}
            for k, c in sorted(customers.items())
        }
        problems += unsettled_orders(report.orders)
        problems += credit_problems(report.customers, list(orders.values()))
        report.events = self._event_counts(problems)
        sfn = self.client("stepfunctions")
        counts = dict.fromkeys(EXECUTION_STATES, 0)
        failed: list[tuple[str, dict[str, Any]]] = []
        for machine in self.recording.of_type("aws:sfn/stateMachine:StateMachine"):
            trigger = machine.state["arn"].rsplit(":", 1)[-1].removeprefix(naming.prefix(self.config.stack))
            for execution in _executions(sfn, machine.state["arn"]):
                counts[execution["status"]] = counts.get(execution["status"], 0) + 1
                if execution["status"] not in ("SUCCEEDED", "RUNNING"):
                    failed.append((trigger, sfn.describe_execution(executionArn=execution["executionArn"])))
        report.executions = {k: v for k, v in counts.items() if v or k in ("SUCCEEDED", "FAILED")}
        report.sagas = sagas(self.config, self.emulator.events.emitted)
        report.failures, unannounced = failures(failed, self.emulator.events.emitted)
        problems += unannounced
        problems += contradicting_events(self.runner.runs if self.runner else [])
        return report

    def _event_counts(self, problems: list[str]) -> dict[str, int]:
        """Every emitted event must reach each matching rule's state machine, or its DLQ."""
        assert self.emulator is not None
        events_api = self.client("events")
        log = self.emulator.events
        handled = {(d.event["id"], d.rule_arn) for d in log.deliveries if d.outcome != "dropped"}
        rules: dict[str, list[tuple[str, Any]]] = {}
        lost = unmatched = 0
        for event in log.emitted:
            bus = event["event-bus"]
            if bus not in rules:
                # Managed rules (the bus archive's) deliver to AWS itself, not to a state machine.
                rules[bus] = [
                    (r["Arn"], EventPattern.load(r["EventPattern"]))
                    for r in events_api.list_rules(EventBusName=bus)["Rules"]
                    if r.get("EventPattern") and not r.get("ManagedBy")
                ]
            matching = [rule_arn for rule_arn, pattern in rules[bus] if pattern.matches_event(event)]
            unmatched += not matching  # no rule wanted it (its detail-type or a content filter): not lost
            for rule_arn in matching:
                if (event["id"], rule_arn) not in handled:
                    lost += 1
                    problems.append(
                        f"event {event['detail-type']} [id {event['id'][:8]}] matched "
                        f"{rule_arn.rsplit('/', 1)[-1]} but was neither delivered nor dead-lettered"
                    )
        return {
            "emitted": len(log.emitted),
            "delivered": len(log.by_outcome("delivered")),
            "deadLettered": len(log.by_outcome("dead-lettered")),
            "lost": lost,
            "unmatched": unmatched,
        }


# -- the judge's checks, as pure functions so each can be shown to fire ---------------------------


def unsettled_orders(orders: dict[str, str]) -> list[str]:
    """Every order must end in a terminal state: a PENDING one is a saga that stopped half way."""
    return [
        f"order {order_id} ended {status}, not one of {', '.join(TERMINAL_ORDER_STATES)}"
        for order_id, status in orders.items()
        if status not in TERMINAL_ORDER_STATES
    ]


def credit_problems(customers: dict[str, dict[str, int]], orders: list[dict[str, Any]]) -> list[str]:
    """A customer's reserved credit never exceeds its limit and equals its approved, uncancelled orders."""
    problems = []
    for customer_id, credit in customers.items():
        approved = sum(int(o["total"]) for o in orders if o["customerId"] == customer_id and o["status"] == "APPROVED")
        if credit["reserved"] > credit["creditLimit"]:
            problems.append(
                f"customer {customer_id} has {credit['reserved']} reserved, over its limit {credit['creditLimit']}"
            )
        if credit["reserved"] != approved:
            problems.append(
                f"customer {customer_id} has {credit['reserved']} reserved but its approved, "
                f"uncancelled orders total {approved}"
            )
    return problems


def sagas(config: StackConfig, emitted: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each orchestrated order's saga, from the Completed/Failed events its state machine published
    (the last one counts: a redelivered request runs the saga again)."""
    ends: dict[str, str] = {}
    for name, trigger in config.triggers.items():
        if trigger.steps is not None:
            ends[default_detail_types(name)[0]] = "COMPLETED"
            ends[config.failure_detail_type(name)] = "FAILED"
    found: dict[str, dict[str, Any]] = {}
    for event in emitted:
        outcome = ends.get(event["detail-type"])
        detail = event.get("detail") or {}
        order_id = ((detail.get("event") or {}).get("detail") or {}).get("orderId")
        if outcome is None or not order_id:
            continue
        saga: dict[str, Any] = {"trigger": detail.get("trigger"), "outcome": outcome, "steps": detail.get("steps", {})}
        if outcome == "FAILED":
            saga.update(failedStep=detail.get("failedStep"), compensations=detail.get("compensations", {}))
        found[order_id] = saga
    return dict(sorted(found.items()))


def replay_problems(before: Report, after: Report) -> list[str]:
    """Delivering every event again (same ids) must change no order and no customer."""
    if (after.orders, after.customers) == (before.orders, before.customers):
        return []
    return [
        f"replaying the events changed the outcome: orders {before.orders} -> "
        f"{after.orders}, customers {before.customers} -> {after.customers}"
    ]


def failures(
    failed: list[tuple[str, dict[str, Any]]], emitted: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The summary's `failures` for executions that did not succeed (trigger, DescribeExecution), and
    a problem for each that published no failure event: a detail whose `executionArn` is its ARN
    (issue 8's contract). Without one nothing compensates, and the saga is stranded silently."""
    announced = {e["detail"].get("executionArn"): e for e in emitted if isinstance(e.get("detail"), dict)}
    entries, problems = [], []
    for trigger, execution in failed:
        arn = execution["executionArn"]
        event = _started_with(execution)
        failure_event = announced.get(arn)
        # The task's own error as the failure event reports it; else the execution's (its Fail
        # state's name, or its status).
        error = (failure_event or {}).get("detail", {}).get("error")
        entry = {
            "trigger": trigger,
            "eventId": event.get("id"),
            "error": error if isinstance(error, str) else execution.get("error") or execution["status"],
            "failureEventId": failure_event["id"] if failure_event else None,
        }
        entries.append(entry)
        if entry["failureEventId"] is None:
            problems.append(
                f"execution {_short(arn)} of {trigger} for {event.get('detail-type', '?')} "
                f"[id {str(entry['eventId'])[:8]}] ended {execution['status']} ({entry['error']}) "
                "and published no failure event: nothing will compensate it"
            )
    return entries, problems


def contradicting_events(runs: list[TaskRun]) -> list[str]:
    """A service that got an event contradicting a final state it recorded says so on stderr, as a
    JSON line with "kind": "ContradictingEvent" (and exits 0): the sandbox counts each as a problem."""
    problems = []
    for run in runs:
        for line in run.stderr.splitlines():
            try:
                warning = json.loads(line)
            except ValueError:
                continue
            if isinstance(warning, dict) and warning.get("kind") == "ContradictingEvent":
                problems.append(
                    f"task {run.container} ({' '.join(run.command)}) got a contradicting event: {line.strip()}"
                )
    return problems


def _started_with(execution: dict[str, Any]) -> dict[str, Any]:
    try:
        event = json.loads(execution.get("input") or "{}")
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}


def _value(attribute: dict[str, Any]) -> Any:
    ((kind, value),) = attribute.items()
    return int(value) if kind == "N" and value.lstrip("-").isdigit() else value


def run(
    stack_file: Path,
    scenario: Scenario,
    *,
    out: Callable[[str], None] | None = print,
    timeout_seconds: float = 60.0,
    task_timeout_seconds: float = 30.0,
    docker: bool = False,
    stack: str | None = None,
    ticks: tuple[str, ...] = (),
    cold: bool = False,
) -> Report:
    """Deploy `stack_file` into a fresh emulator, play `scenario` (then fire `ticks`), return the report."""
    stack = stack or stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
    config = load_config(read_stack_file(stack_file), stack, PROJECT_ROOT)
    scheduled = sorted(name for name, t in config.triggers.items() if t.schedule is not None)
    for trigger in ticks:
        if trigger not in scheduled:
            raise SandboxError(
                f"--tick {trigger}: not a scheduled trigger of {stack_file.name}; scheduled triggers: "
                f"{', '.join(scheduled) or 'none'}"
            )
    with Sandbox(
        config,
        out=out,
        timeout_seconds=timeout_seconds,
        task_timeout_seconds=task_timeout_seconds,
        docker=docker,
        cold=cold,
    ) as sandbox:
        return sandbox.play(scenario, ticks)


if __name__ == "__main__":  # pragma: no cover - use `python -m sandbox`
    sys.exit("run `python -m sandbox --help`")
