"""event-tasks: validate the stack config, build the stack, export its outputs."""

import sys

import pulumi

from components.collector import pause_during_evaluation
from components.config import NAMESPACE, ConfigError, load_config, pulumi_config_map
from components.stack import build

if pulumi.get_project() != NAMESPACE:
    # Started as a plain script: there is no engine, so no stack, no config and no AWS to talk to.
    sys.exit(
        "this is a Pulumi program: run it with `pulumi preview` / `pulumi up` in a selected stack, "
        "or try it without AWS with `make demo`"
    )

# The graph lives until the process ends: the cyclic collector would only walk it (components/collector.py).
pause_during_evaluation()
try:
    config = load_config(pulumi_config_map(), pulumi.get_stack())
    outputs = build(config)
except ConfigError as error:
    # RunError prints the message alone: the problems, not a stack trace.
    raise pulumi.RunError(str(error)) from None

for key, value in outputs.items():
    pulumi.export(key, value)
