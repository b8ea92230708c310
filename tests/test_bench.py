"""The pure parts of `make bench`: statistics, the regression flag, the generated configs and scenario,
the results file's merge and targets, and its command line. Nothing here is timed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
from pulumi_mocks import ROOT

from bench import __main__ as cli
from bench import evaluation, machine, report, suite
from bench.evaluation import stack_config, trigger_name
from bench.sandbox import scenario_data
from bench.stats import compare, percentile, slowdown, summarize
from components.config import ConfigError, load_config
from sandbox.scenario import Scenario

MACHINE = {"cpu": "Example CPU", "cores": 2, "memoryGiB": 24.0, "python": "3.11.7"}


def results(figures: dict, machine: dict | None = None) -> dict:
    return {"schema": report.SCHEMA, "machine": machine or MACHINE, "figures": figures}


def figure(median: float, better: str | None = "lower", settings: dict | None = None) -> dict:
    found = {"label": "x", "unit": "s", "median": median, "min": median, "max": median, "runs": [median]}
    if better:
        found["better"] = better
    return found | ({"settings": settings} if settings is not None else {})


# --- statistics -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, median, low, high",
    [([3.0, 1.0, 2.0], 2.0, 1.0, 3.0), ([4.0, 1.0, 3.0, 2.0], 2.5, 1.0, 4.0), ([7.5], 7.5, 7.5, 7.5)],
)
def test_a_figure_is_the_median_of_its_runs_with_min_and_max(values, median, low, high):
    # WHEN runs are summarized THEN median, min and max are theirs, and the runs are kept
    assert summarize(values) == {"median": median, "min": low, "max": high, "runs": values}


def test_a_figure_without_runs_is_refused():
    with pytest.raises(ValueError, match="at least one run"):
        summarize([])


def test_percentiles_interpolate_between_ranks():
    # GIVEN latencies 1..10 (unordered)
    values = [float(v) for v in (5, 1, 9, 3, 7, 2, 10, 4, 8, 6)]
    # THEN p50 lies between the 5th and 6th, p95 between the 9th and 10th, p100 is the max
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile(values, 100) == 10.0
    assert percentile([4.0], 95) == 4.0


# --- regressions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "before, after, better, flagged",
    [
        (10.0, 12.5, "lower", True),  # 25% more time
        (10.0, 11.0, "lower", False),  # 10% more time
        (10.0, 7.0, "lower", False),  # faster
        (1.0, 0.8, "higher", True),  # throughput down to 0.8: the same work takes 25% longer
        (1.0, 1.0 / 1.1, "higher", False),  # 10% slower
        (1.0, 2.0, "higher", False),
    ],
)
def test_a_slowdown_over_20_percent_is_flagged_and_one_of_10_percent_is_not(before, after, better, flagged):
    # GIVEN the same figure in the previous and the current results
    previous = results({"f": figure(before, better, {"orders": 100})})
    current = results({"f": figure(after, better, {"orders": 100})})
    # WHEN they are compared
    (found,) = compare(previous, current)
    # THEN the change is the slowdown of the same work, and only over 20% is a regression
    assert found.change == pytest.approx(slowdown(before, after, better))
    assert found.regression is flagged


def timed(median: float, reference: float, unit: str = "s", better: str = "lower") -> dict:
    """A figure measured while the reference workload took `reference` seconds."""
    return figure(median, better, {"orders": 100}) | {"unit": unit, "reference": reference}


def test_the_same_code_on_a_slower_hour_is_no_regression():
    # GIVEN a time 21% longer than before, measured while the machine ran the reference 14% slower
    previous, current = results({"f": timed(1.00, 0.100)}), results({"f": timed(1.21, 0.114)})
    # WHEN compared
    (found,) = compare(previous, current)
    # THEN it is judged at the previous speed: 6% slower, no regression, both changes kept
    assert found.change == pytest.approx(1.21 / 1.14 - 1)
    assert found.measured == pytest.approx(0.21) and found.machine == pytest.approx(0.14)
    assert found.regression is False
    # AND the table shows what was measured and how fast the machine was
    text = report.table(current | {"measuredAt": "t"}, [found])
    assert "+6% slower at equal machine speed (+21% measured, machine +14%)" in text


def test_a_faster_hour_hides_no_regression():
    # GIVEN a time 10% longer, measured while the machine ran the reference 20% faster
    (found,) = compare(results({"f": timed(1.0, 0.100)}), results({"f": timed(1.1, 0.080)}))
    # THEN at equal speed the code is 37.5% slower: a regression
    assert found.change == pytest.approx(1.1 / 0.8 - 1) and found.regression is True


def test_a_rate_is_judged_at_equal_speed_too():
    # GIVEN 10 orders/s before, and 8.77 orders/s while the machine ran 14% slower
    before = timed(10.0, 0.100, unit="orders/s", better="higher")
    after = timed(10.0 / 1.14, 0.114, unit="orders/s", better="higher")
    # WHEN compared THEN at the previous speed it is the same rate
    (found,) = compare(results({"rate": before}), results({"rate": after}))
    assert found.change == pytest.approx(0.0, abs=1e-9) and found.measured == pytest.approx(0.14)


@pytest.mark.parametrize("unit", ["resources", "x", "%"])
def test_counts_ratios_and_shares_are_not_adjusted_for_the_machine(unit):
    # GIVEN a figure the machine's speed does not scale, 25% up while the machine ran 20% slower
    (found,) = compare(results({"n": timed(8.0, 0.100, unit=unit)}), results({"n": timed(10.0, 0.120, unit=unit)}))
    # THEN it is judged as measured
    assert found.change == pytest.approx(0.25) and found.regression is True
    assert found.machine is None and found.measured is None


def test_without_the_reference_in_both_runs_a_figure_is_judged_as_measured():
    # GIVEN results from before the reference was recorded
    (found,) = compare(results({"f": figure(1.0, "lower", {"orders": 100})}), results({"f": timed(1.25, 0.114)}))
    # THEN the change is as measured, and flagged over 20%
    assert found.change == pytest.approx(0.25) and found.regression is True and found.machine is None


def test_the_reference_workload_is_fixed_work_timed_once_per_run_in_a_new_interpreter(monkeypatch):
    # THEN it does the same work each time (its checksum)
    assert machine.reference_workload() == machine.reference_workload()
    # AND it is timed as many times as asked, away from this process's heap: a workload broken
    # here does not reach the new interpreter
    monkeypatch.setattr(machine, "reference_workload", lambda: 1 / 0)
    seconds = machine.reference_seconds(3)
    assert len(seconds) == 3 and all(s > 0 for s in seconds)
    with pytest.raises(ZeroDivisionError):
        machine.time_reference(1)
    for asked in (machine.reference_seconds, machine.time_reference):
        with pytest.raises(ValueError, match="at least one run"):
            asked(0)


def test_figures_measured_otherwise_or_without_direction_are_not_compared():
    # GIVEN a figure measured with other settings, one without a direction, one new, one gone
    previous = results(
        {"orders": figure(10.0, settings={"orders": 20}), "share": figure(50.0, None), "gone": figure(1.0)}
    )
    current = results(
        {"orders": figure(99.0, settings={"orders": 100}), "share": figure(99.0, None), "new": figure(1.0)}
    )
    # THEN nothing is compared, and with no previous results neither
    assert compare(previous, current) == []
    assert compare(None, current) == []


# --- generated inputs -----------------------------------------------------------------------------


@pytest.mark.parametrize("environment", ["cloud", "local"])
@pytest.mark.parametrize("count", [1, 10, 200])
def test_a_generated_stack_config_with_n_triggers_validates(environment, count):
    # WHEN a config with `count` triggers is generated and loaded like the program loads its own
    config = load_config(stack_config(environment, count), "bench", ROOT)
    # THEN it is valid, for that environment, with exactly that many distinct triggers on both buses
    assert config.environment == environment
    assert sorted(config.triggers) == sorted(trigger_name(i) for i in range(1, count + 1))
    assert len({tuple(t.detailTypes) for t in config.triggers.values()}) == count
    if count > 1:
        assert {t.bus for t in config.triggers.values()} == {"order", "customer"}
    assert all(t.bus != t.service for t in config.triggers.values())


def test_a_generated_config_for_an_unknown_environment_is_refused():
    with pytest.raises(ValueError, match=r"environment: 'staging' is not one of cloud, local"):
        stack_config("staging", 10)
    # AND the loader would refuse a broken one (the generator is not trusted blindly)
    raw = stack_config("cloud", 2)
    raw["event-tasks:triggers"] = json.dumps({"t-1": {"bus": "nope", "detailTypes": ["X"], "service": "order"}})
    with pytest.raises(ConfigError):
        load_config(raw, "bench", ROOT)


@pytest.mark.parametrize("orders, customers", [(100, 5), (7, 3), (1, 1), (2, 5)])
def test_the_generated_scenario_is_valid_and_spreads_orders_over_customers(orders, customers):
    # WHEN a scenario is generated THEN the sandbox accepts it
    scenario = Scenario.model_validate(scenario_data(orders, customers))
    # AND it has that many orders and customers, every order for a known customer, each one used
    assert len(scenario.orders) == orders and len(scenario.customers) == customers
    known = {c.id for c in scenario.customers}
    used = {o.customerId for o in scenario.orders}
    assert used <= known and len(used) == min(orders, customers)
    assert scenario.cancel == [] and scenario.replayEvents is False
    # AND its orders are placed ten at a time, as `make bench` places them by default
    assert scenario.concurrency == 10


@pytest.mark.parametrize("orders, customers, concurrency", [(0, 5, 10), (5, 0, 10), (5, 5, 0)])
def test_a_scenario_without_orders_customers_or_concurrency_is_refused(orders, customers, concurrency):
    with pytest.raises(ValueError, match="orders, customers and concurrency: at least 1 each"):
        scenario_data(orders, customers, concurrency)


def test_evaluation_figures_count_what_a_trigger_adds_to_the_baseline():
    # GIVEN a program that registers 5 resources, and per trigger 2 AWS resources and 1 component
    def deploy(raw):
        triggers = len(json.loads(raw["event-tasks:triggers"]))
        per_trigger = [SimpleNamespace(typ="aws:a", custom=True), SimpleNamespace(typ="aws:b", custom=True)]
        per_trigger.append(SimpleNamespace(typ="x:Component", custom=False))
        per_trigger.append(SimpleNamespace(typ="aws:cloudwatch/metricAlarm:MetricAlarm", custom=True))
        per_trigger.append(SimpleNamespace(typ="event-tasks:index:TriggerAlarms", custom=False))
        base = [SimpleNamespace(typ="aws:bus", custom=True)] * 5
        # A bus's one-off resource, there once the bus has a trigger (as a bus's rules role is)
        once = [SimpleNamespace(typ="aws:busrole", custom=True)] if triggers else []
        return SimpleNamespace(resources=base + once + per_trigger * triggers)

    # WHEN its evaluation is measured for 2 and 8 triggers
    found = evaluation.measure([8, 2], runs=2, environments=("cloud",), progress=lambda _: None, deploy=deploy)
    # THEN the counts, the per-trigger figures (components included, alarms aside, and AWS only) and
    # growth are there
    # (a bus's one-off resource is not a trigger's)
    assert found["evaluation.cloud.2.resources"]["median"] == 5 + 1 + 5 * 2
    assert found["evaluation.cloud.8.resources"]["median"] == 5 + 1 + 5 * 8
    assert found["evaluation.cloud.per_trigger"]["median"] == 5
    assert found["evaluation.cloud.wiring_per_trigger"]["median"] == 3
    assert found["evaluation.cloud.aws_per_trigger"]["median"] == 3
    assert found["evaluation.cloud.per_trigger"]["types"] == {
        "aws:a": 1,
        "aws:b": 1,
        "aws:cloudwatch/metricAlarm:MetricAlarm": 1,
        "event-tasks:index:TriggerAlarms": 1,
        "x:Component": 1,
    }
    assert len(found["evaluation.cloud.8.seconds"]["runs"]) == 2
    assert found["evaluation.cloud.growth"]["settings"] == {"triggers": [2, 8]}


def test_fresh_evaluation_figures_time_the_smallest_and_largest_count_and_their_growth():
    # GIVEN evaluations in new interpreters taking 1 s plus 0.1 s per trigger
    asked = []

    def run(environment, triggers):
        asked.append((environment, triggers))
        return 1.0 + 0.1 * triggers

    # WHEN 10, 50 and 200 triggers are measured twice
    found = evaluation.measure_fresh([50, 200, 10], runs=2, environments=("cloud",), progress=lambda _: None, run=run)
    # THEN only the smallest and largest counts ran, each twice, and the growth is their ratio
    assert sorted(set(asked)) == [("cloud", 10), ("cloud", 200)] and len(asked) == 4
    assert found["evaluation.cloud.fresh.10.seconds"]["median"] == 2.0
    assert found["evaluation.cloud.fresh.200.seconds"]["median"] == 21.0
    assert found["evaluation.cloud.fresh_growth"]["median"] == 10.5
    assert found["evaluation.cloud.fresh_growth"]["settings"] == {"triggers": [10, 200]}


def test_a_fresh_evaluation_runs_the_program_in_a_new_interpreter():
    # WHEN a 2-trigger cloud stack is evaluated in a new interpreter
    seconds = evaluation.fresh_seconds("cloud", 2)
    # THEN it is timed
    assert seconds > 0
    # AND a stack the child cannot evaluate makes the measurement fail, not report a time: the
    # child does evaluate the program
    with pytest.raises(subprocess.CalledProcessError):
        evaluation.fresh_seconds("nowhere", 2)


def test_a_fresh_evaluation_pays_for_the_program_and_the_sdk_not_for_pytest():
    # GIVEN what a fresh evaluation runs, followed by a look at what it imported
    look = "; print(sorted({m.split('.')[0] for m in sys.modules} & {'pytest', '_pytest'}))"
    # WHEN it evaluates a 2-trigger cloud stack in a new interpreter
    done = subprocess.run(
        [sys.executable, "-c", evaluation._FRESH + look, "cloud", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    # THEN the test runner was never imported: a `pulumi preview` does not import it either
    assert done.stdout.splitlines()[-1] == "[]"


# --- the results file -----------------------------------------------------------------------------


def test_a_failed_suite_run_names_its_failed_tests():
    # GIVEN pytest's output of a run with a failure and an error
    output = (
        "....F.E\n=========================== short test summary info ============================\n"
        "FAILED tests/sandbox/test_x.py::test_a - assert 2 == 1\n"
        "ERROR tests/test_y.py::test_b - RuntimeError: boom\n"
        "1 failed, 5 passed, 1 error in 3.00s\n"
    )
    # WHEN its failures are read THEN each failed test is named with pytest's reason
    assert suite.failures(output) == [
        "FAILED tests/sandbox/test_x.py::test_a - assert 2 == 1",
        "ERROR tests/test_y.py::test_b - RuntimeError: boom",
    ]
    assert suite.failures("....\n4 passed in 1.00s\n") == []


def test_the_suite_is_timed_whole_then_its_cold_comparisons_alone_whose_cpu_per_core_is_a_floor(monkeypatch):
    # GIVEN pytest runs that take 200 s (350 CPU-s) whole and 110 s (190 CPU-s) with `-m cold`, one
    # of the cold runs failing a test, on 2 cores
    asked = []

    def run_once(workers, marker=None):
        asked.append((workers, marker))
        if marker is None:
            return 200.0, 350.0, 0, "1100 passed", []
        if len(asked) == 3:
            return 110.0, 186.0, 1, "1 failed, 6 passed", ["FAILED tests/x.py::test_cold - boom"]
        return 110.0, 190.0, 0, "7 passed", []

    monkeypatch.setattr(suite, "run_once", run_once)
    monkeypatch.setattr(suite, "cores", lambda: 2)
    # WHEN the suite is measured twice
    found, problems = suite.measure(2, "auto", progress=lambda _: None)
    # THEN the whole suite ran first, then only the tests marked cold
    assert asked == [("auto", None), ("auto", None), ("auto", "cold"), ("auto", "cold")]
    assert found["tests.seconds"]["median"] == 200.0 and found["tests.cpu"]["median"] == 350.0
    assert found["tests.cold.seconds"]["runs"] == [110.0, 110.0]
    # AND the floor is the cold runs' CPU over the cores, not their wall time
    assert found["tests.cold.floor"]["runs"] == [93.0, 95.0]
    assert found["tests.cold.floor"]["settings"] == {"workers": "auto", "marker": "cold", "cores": 2}
    # AND the failed cold run is a problem that names its test
    assert problems == [
        "make test -m cold run 1 exited 1: 1 failed, 6 passed",
        "make test -m cold run 1: FAILED tests/x.py::test_cold - boom",
    ]


def test_a_marked_run_passes_the_marker_to_pytest(monkeypatch):
    # GIVEN a pytest that only records how it was called
    calls = []
    monkeypatch.setattr(
        suite.subprocess, "run", lambda argv, **_: calls.append(argv) or SimpleNamespace(stdout="", returncode=0)
    )
    # WHEN the suite is run whole and with the cold marker THEN only the second selects by marker
    suite.run_once("2")
    suite.run_once("2", "cold")
    assert "-m" not in calls[0][calls[0].index("pytest") :]
    assert calls[1][-2:] == ["-m", "cold"] and calls[1][calls[1].index("-n") + 1] == "2"


def test_a_floor_needs_a_core():
    assert suite.cold_floor(190.0, 2) == 95.0
    with pytest.raises(ValueError, match="at least one core"):
        suite.cold_floor(190.0, 0)


@pytest.mark.parametrize(
    "cpu, verdict", [(190.0, "floor of ≤ 60: **unreachable**"), (100.0, "floor of ≤ 60: reachable")]
)
def test_the_table_says_whether_the_cold_floor_leaves_the_suites_target_reachable(cpu, verdict):
    # GIVEN the cold comparisons' floor on 2 cores, the fastest of two runs at cpu / 2 seconds
    floor = summarize([cpu / 2, cpu / 2 + 10]) | {"label": "floor", "unit": "s", "better": "lower"}
    # WHEN the table is printed THEN the floor's row says whether `make test` can still meet ≤ 60 s
    (row,) = [
        line
        for line in report.table(results({"tests.cold.floor": floor}) | {"measuredAt": "t"}, []).splitlines()
        if line.startswith("| floor")
    ]
    assert verdict in row


def test_a_partial_run_keeps_the_other_figures_of_the_same_machine_only():
    # GIVEN previous results with two figures, and a run that measured one of them again
    previous = results({"a": figure(1.0), "b": figure(2.0)})
    current = results({"a": figure(1.5)}) | {"measuredAt": "now", "settings": {"runs": 1}}
    # WHEN merged THEN the new figure wins and the other is carried, marked as such
    merged = report.merge(previous, current)
    assert merged["figures"]["a"]["median"] == 1.5 and "carried" not in merged["figures"]["a"]
    assert merged["figures"]["b"]["median"] == 2.0 and merged["figures"]["b"]["carried"] is True
    # AND nothing is carried over from another machine
    other = report.merge(results({"b": figure(2.0)}, MACHINE | {"cores": 8}), current)
    assert set(other["figures"]) == {"a"}


def test_the_results_file_is_read_only_in_its_schema(tmp_path):
    path = tmp_path / "results.json"
    assert report.load(path) is None
    path.write_text("{not json")
    assert report.load(path) is None
    path.write_text(json.dumps({"schema": 0, "figures": {}}))
    assert report.load(path) is None
    path.write_text(json.dumps(results({})))
    assert report.load(path) == results({})


def test_targets_apply_only_to_the_settings_the_issue_names():
    # THEN the sandbox target is for 100 orders from 5 customers, not for a quick 20-order run
    assert report.target_of("sandbox.seconds", figure(30.0, settings={"orders": 100, "customers": 5})) == 25.0
    assert report.target_of("sandbox.seconds", figure(3.0, settings={"orders": 20, "customers": 5})) is None
    # AND the evaluation's time and growth targets are for new interpreters, imports included, as the
    # issue timed them, not for an evaluation after a warm-up
    assert report.target_of("evaluation.cloud.fresh.200.seconds", figure(5.0, settings={"triggers": 200})) == 6.0
    assert report.target_of("evaluation.cloud.200.seconds", figure(5.0, settings={"triggers": 200})) is None
    assert report.target_of("evaluation.local.fresh_growth", figure(9.0, settings={"triggers": [10, 200]})) == 12.0
    assert report.target_of("evaluation.local.growth", figure(9.0, settings={"triggers": [10, 200]})) is None
    # AND the ≤ 7 per trigger is the issue's wiring, alarms aside, not every resource a trigger adds
    assert report.target_of("evaluation.cloud.wiring_per_trigger", figure(7.0, settings={"triggers": 200})) == 7.0
    assert report.target_of("evaluation.cloud.per_trigger", figure(11.0, settings={"triggers": 200})) is None
    # AND whatever else the run set (how many orders at a time, which task runner)
    placed = {"orders": 100, "customers": 5, "concurrency": 10, "runner": "cold"}
    assert report.target_of("sandbox.seconds", figure(30.0, settings=placed)) == 25.0


def test_the_table_marks_targets_and_regressions():
    # GIVEN a slower test suite than before, over its target
    previous = results({"tests.seconds": figure(50.0, settings={"workers": "auto"})})
    current = results({"tests.seconds": figure(70.0, settings={"workers": "auto"}) | {"label": "make test"}}) | {
        "measuredAt": "2026-11-29T12:00:00+00:00",
        "settings": {"runs": 3},
    }
    # WHEN the table is printed
    text = report.table(current, compare(previous, current))
    # THEN its row says the target is missed and flags the regression, and the machine is named
    (row,) = [line for line in text.splitlines() if line.startswith("| make test")]
    assert "≤ 60 **not met**" in row and "**REGRESSION +40% slower**" in row
    assert "Example CPU, 2 cores, 24.0 GiB, Python 3.11.7" in text


# --- command line ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--triggers", "0,10"], r"'0,10': at least one count, each 1 or more"),
        (["--triggers", "ten"], r"'ten': comma-separated trigger counts"),
        (["--only", "sandbox,speed"], r"'sandbox,speed': one or more of sandbox, evaluation, tests"),
        (["--runs", "0"], r"'0': a whole number, 1 or more"),
    ],
)
def test_bad_arguments_are_refused_naming_the_option(capsys, argv, message):
    with pytest.raises(SystemExit) as exited:
        cli.parser().parse_args(argv)
    assert exited.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_show_prints_the_results_file_and_refuses_a_missing_one(capsys, tmp_path):
    # GIVEN a results file with one figure measured earlier
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results({"tests.seconds": figure(42.0) | {"label": "make test"}}) | {"measuredAt": "t"}))
    # WHEN it is shown THEN its figure is printed, with the number of runs
    assert cli.main(["--show", "--results", str(path)]) == 0
    assert "| make test | 42.00 | 42.00 - 42.00 (1) | s |" in capsys.readouterr().out
    # AND without a results file it says what to do
    assert cli.main(["--show", "--results", str(tmp_path / "none.json")]) == 2
    assert "run `make bench` first" in capsys.readouterr().err


def test_nothing_to_measure_is_refused_before_anything_runs(capsys, tmp_path):
    # GIVEN only the tests asked for, and skipped
    results_file = tmp_path / "results.json"
    # WHEN bench runs THEN it refuses, measuring and writing nothing
    assert cli.main(["--only", "tests", "--skip-tests", "--results", str(results_file)]) == 2
    assert "leaves nothing to measure" in capsys.readouterr().err
    assert not results_file.exists()


def test_a_shell_that_forbids_bytecode_is_reported_as_a_problem_of_the_run(capsys, monkeypatch, tmp_path):
    # GIVEN a shell exporting PYTHONDONTWRITEBYTECODE, and an evaluation that measures nothing
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setattr(evaluation, "measure", lambda *a, **k: {})
    monkeypatch.setattr(evaluation, "measure_fresh", lambda *a, **k: {})
    monkeypatch.setattr(machine, "reference_seconds", lambda: [0.1])
    results_file = tmp_path / "results.json"
    # WHEN bench runs strictly
    code = cli.main(["--only", "evaluation", "--strict", "--results", str(results_file)])
    # THEN it warns before measuring, lists the problem with its fix, records it, and fails the run
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.startswith("warning: PYTHONDONTWRITEBYTECODE is set")
    assert "Problems" in captured.out and "compiled what it imported" in captured.out
    assert "run `make bench`, which does not pass it on" in json.loads(results_file.read_text())["problems"][0]
    # AND without it the same run has no problem
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE")
    assert cli.main(["--only", "evaluation", "--strict", "--results", str(results_file)]) == 0
    assert machine.environment_problems({"PYTHONDONTWRITEBYTECODE": ""}) == []


def test_every_figure_of_a_run_records_the_machines_speed_during_it(capsys, monkeypatch, tmp_path):
    # GIVEN an evaluation that measures one figure, and a machine whose reference takes 0.2 s then 0.3 s
    monkeypatch.setattr(evaluation, "measure", lambda *a, **k: {"e": figure(1.0) | {"settings": {}}})
    monkeypatch.setattr(evaluation, "measure_fresh", lambda *a, **k: {})
    speeds = iter([[0.2, 0.2], [0.3, 0.3]])
    monkeypatch.setattr(machine, "reference_seconds", lambda: next(speeds))
    results_file = tmp_path / "results.json"
    # WHEN bench runs
    assert cli.main(["--only", "evaluation", "--results", str(results_file)]) == 0
    # THEN the figure carries the median of the reference before and after, which is also shown
    written = json.loads(results_file.read_text())["figures"]
    assert written["e"]["reference"] == 0.25
    assert written["machine.reference"]["runs"] == [0.2, 0.2, 0.3, 0.3]
    assert "| reference workload" in capsys.readouterr().out
