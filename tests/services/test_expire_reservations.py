"""Customer service: confirm_credit (settles a reservation) and expire_reservations (a schedule tick
releases unsettled reservations older than an age), idempotent per tick."""

from customer import model

from .saga_world import World, event, only

ORDER = "event-tasks.order"
FAR_TICK = "2999-01-01T03:00:00Z"  # every reservation made today is older than a day by then


def tick(world: World, scheduled: str = FAR_TICK, older_than: str = "24h", event_id: str | None = None, **kw):
    detail = {"schedule": "expire-reservations", "scheduledTime": scheduled, "executionId": "x-1"}
    return world.run(
        "customer.expire_reservations",
        ["--older-than", older_than],
        event=event("Scheduled", "event-tasks.scheduler", detail, event_id or scheduled),
        **kw,
    )


def reserve(world: World, order_id: str, total: int) -> None:
    created = event("OrderCreated", ORDER, {"orderId": order_id, "customerId": "c-1", "total": total}, f"e-{order_id}")
    assert world.run("customer.reserve_credit", event=created).code == 0


def approve(world: World, order_id: str, total: int) -> int:
    approved = event(
        "OrderApproved", ORDER, {"orderId": order_id, "customerId": "c-1", "total": total}, f"a-{order_id}"
    )
    return world.run("customer.confirm_credit", event=approved).code


def credit(world: World, order_id: str) -> dict:
    return world.item("customer", f"ORDER#{order_id}", "CREDIT")


def setup(world: World) -> None:
    # GIVEN c-1 (limit 100) with o-1 (60) reserved and approved, o-2 (30) reserved and never approved
    assert world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "100"]).code == 0
    reserve(world, "o-1", 60)
    reserve(world, "o-2", 30)
    assert approve(world, "o-1", 60) == 0
    world.emitted("customer")


def test_reserve_credit_records_when_the_credit_was_reserved(world: World) -> None:
    # GIVEN a customer WHEN credit is reserved
    setup(world)
    # THEN the decision carries reservedAt (UTC, to the second), and confirm added settledAt to o-1 only
    assert model.utc_timestamp() >= credit(world, "o-2")["reservedAt"] >= "2026-"
    assert "settledAt" in credit(world, "o-1") and "settledAt" not in credit(world, "o-2")


def test_a_tick_releases_only_unsettled_reservations_older_than_the_age(world: World) -> None:
    setup(world)
    # WHEN a tick far in the future runs with --older-than 24h
    result = tick(world)
    # THEN o-2's credit is released (expiredBy the tick), o-1's approved one is kept
    assert result.code == 0, result.err
    assert world.customer("c-1")["reserved"] == 60
    assert (credit(world, "o-2")["status"], credit(world, "o-2")["expiredBy"]) == ("RELEASED", FAR_TICK)
    assert credit(world, "o-1")["status"] == "RESERVED"
    emitted = only(world.emitted("customer"))
    assert emitted["detail-type"] == "CreditReservationExpired"
    assert emitted["detail"] == {
        "orderId": "o-2",
        "customerId": "c-1",
        "amount": 30,
        "reservedAt": credit(world, "o-2")["reservedAt"],
    }


def test_a_reservation_younger_than_the_age_is_kept(world: World) -> None:
    setup(world)
    # WHEN the tick is now and the age a day
    result = tick(world, scheduled=model.utc_timestamp())
    # THEN nothing expires, nothing is emitted
    assert result.code == 0 and "0 reservation(s)" in result.out
    assert world.customer("c-1")["reserved"] == 90
    assert world.emitted("customer") == []


def test_the_same_tick_twice_releases_once_and_re_emits(world: World) -> None:
    setup(world)
    assert tick(world).code == 0
    first = only(world.emitted("customer"))
    # WHEN the same tick runs again (a Scheduler retry or a redrive)
    result = tick(world)
    # THEN no credit is released twice, and the recorded outcome is emitted again
    assert result.code == 0 and "replay" in result.out
    assert world.customer("c-1")["reserved"] == 60
    assert only(world.emitted("customer"))["detail"] == first["detail"]


def test_a_later_tick_does_not_touch_what_an_earlier_one_expired(world: World) -> None:
    setup(world)
    assert tick(world).code == 0
    world.emitted("customer")
    # WHEN another tick runs
    assert tick(world, scheduled="2999-01-02T03:00:00Z").code == 0
    # THEN it releases and emits nothing
    assert world.customer("c-1")["reserved"] == 60
    assert world.emitted("customer") == []


def test_a_failed_emit_is_recovered_by_running_the_tick_again(world: World) -> None:
    setup(world)
    # GIVEN the tick's emit fails after its write (the bus is unreachable: exit 1)
    failed = tick(world, env={"EVENT_BUS_NAME": "no-such-bus"})
    assert failed.code == 1
    assert world.customer("c-1")["reserved"] == 60
    # WHEN the Scheduler retries the same tick
    assert tick(world).code == 0
    # THEN the expiry is emitted, and the credit was released once
    assert only(world.emitted("customer"))["detail"]["orderId"] == "o-2"
    assert world.customer("c-1")["reserved"] == 60


def test_an_approval_after_expiry_changes_nothing_and_says_so(world: World) -> None:
    setup(world)
    assert tick(world).code == 0
    # WHEN o-2's approval arrives late
    approved = event("OrderApproved", ORDER, {"orderId": "o-2", "customerId": "c-1", "total": 30}, "a-late")
    result = world.run("customer.confirm_credit", event=approved)
    # THEN exit 0, no change, and the line names the tick that expired it
    assert result.code == 0 and f"expired by tick {FAR_TICK}" in result.out
    assert world.customer("c-1")["reserved"] == 60
    assert "settledAt" not in credit(world, "o-2")


def test_confirm_twice_is_a_no_op(world: World) -> None:
    setup(world)
    settled = credit(world, "o-1")["settledAt"]
    # WHEN the same approval is delivered again
    assert approve(world, "o-1", 60) == 0
    # THEN settledAt is unchanged
    assert credit(world, "o-1")["settledAt"] == settled


def test_bad_input_is_refused_before_any_write(world: World) -> None:
    setup(world)
    before = world.items("customer")
    # WHEN the age is malformed, or the event id is not the tick's scheduled time
    bad_age = tick(world, older_than="tomorrow")
    bad_id = tick(world, event_id="2999-01-01T04:00:00Z")
    # THEN exit 2 with one line naming the field, and nothing changed
    assert bad_age.code == 2 and "--older-than" in bad_age.err
    assert bad_id.code == 2 and "eventId" in bad_id.err
    assert world.items("customer") == before
    assert world.emitted("customer") == []
