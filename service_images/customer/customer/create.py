"""customer.create — create a customer with a credit limit and emit ``CustomerCreated``.

Command line: python -m customer.create --customer-id c-1 --credit-limit 100
(credit limit: non-negative integer). Emits ``CustomerCreated`` {customerId, creditLimit,
eventKey ``CustomerCreated:<customerId>``}.

Idempotent: creating an existing customer with the same limit writes nothing (exit 0) and emits
``CustomerCreated`` only if it was recorded and never emitted (a crash or refused PutEvents after
the commit); with a different limit it is bad input (exit 2, nothing changed).
"""

import sys
from collections.abc import Sequence

from event_tasks_common import (
    ArgumentParser,
    BadInput,
    Context,
    Decision,
    Outcome,
    amount_arg,
    identifier,
    run,
    settle,
)

from . import model

USE_CASE = "customer.create"


def handle(argv: Sequence[str]) -> int:
    parser = ArgumentParser(prog="python -m customer.create", description="Create a customer with a credit limit.")
    parser.add_argument("--customer-id", required=True)
    parser.add_argument("--credit-limit", required=True, help="non-negative integer amount")
    args = parser.parse_args(argv)
    customer_id = identifier(args.customer_id, "--customer-id")
    credit_limit = amount_arg(args.credit_limit, "--credit-limit", allow_zero=True)
    ctx = Context.from_env(model.SOURCE)
    detail = {"customerId": customer_id, "creditLimit": credit_limit}

    def decide() -> Decision:
        existing = model.load_customer(ctx.table, customer_id)
        if existing is not None:
            if existing["creditLimit"] != credit_limit:
                raise BadInput(
                    "--credit-limit",
                    f"customer {customer_id!r} already exists with creditLimit {existing['creditLimit']}",
                )
            return Decision(
                Outcome(f"customer {customer_id} already exists", "CustomerCreated", detail, subject=customer_id),
                replay=True,
            )
        item = {
            "pk": model.customer_pk(customer_id),
            "sk": model.CUSTOMER_SK,
            "type": "Customer",
            **detail,
            "reserved": 0,
        }
        return Decision(
            Outcome(
                f"customer {customer_id} created with creditLimit {credit_limit}",
                "CustomerCreated",
                detail,
                subject=customer_id,
            ),
            writes=[ctx.table.put_op(item, condition="attribute_not_exists(pk)")],
        )

    return settle(ctx, use_case=USE_CASE, event=None, decide=decide)


def main(argv: Sequence[str] | None = None) -> int:
    return run(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
