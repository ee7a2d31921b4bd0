"""The benchmark's own arithmetic and parsing: if these are wrong, every figure is."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.load import parse_pgbench_logs, parse_pgbench_summary, parse_wrk, percentile
from bench.phases import max_in_window, rate_cap_failures
from bench.sqlcapture import Statement, _split_placeholders, render_pgbench


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) == 0.0


def test_max_in_window_counts_a_sliding_second():
    # 10 calls in the first 0.9 s, 4 more soon after: no second ever holds more than 10
    times = [i / 10 for i in range(10)] + [1.15, 1.25, 1.35, 1.45]
    assert max_in_window(times) == 10
    # ... but an 11th call at 0.95 s makes 11 within the first second
    assert max_in_window([*times, 0.95]) == 11
    assert max_in_window([0.0, 0.999, 1.0]) == 2
    assert max_in_window([]) == 0


def test_the_rate_cap_check_fails_when_it_saw_no_provider_call():
    assert rate_cap_failures(calls=[], orders=80, completed=80, limit=10) == [
        "the fake eSIM Go saw no provider call"
    ]
    assert rate_cap_failures(calls=[], orders=0, completed=0, limit=10)


def test_the_rate_cap_check_holds_only_when_pressed_and_never_exceeded():
    at_the_cap = [i / 9 for i in range(160)]  # 9 a second for ~18 s
    assert rate_cap_failures(calls=at_the_cap, orders=80, completed=80, limit=10) == []
    assert rate_cap_failures(calls=at_the_cap, orders=80, completed=79, limit=10) == [
        "1 of 80 orders not completed"
    ]
    trickle = [float(i) for i in range(20)]  # 1 a second: the cap was never tested
    assert rate_cap_failures(calls=trickle, orders=10, completed=10, limit=10) == [
        "the calls never pressed the cap (mean 1.1/s)"
    ]
    burst = [i / 12 for i in range(120)]  # 12 a second
    (failure,) = rate_cap_failures(calls=burst, orders=60, completed=60, limit=10)
    assert failure.endswith("calls in one 1 s window, over the cap")


def test_parse_wrk_reads_the_lua_summary_line():
    out = (
        "Running 8s test @ http://127.0.0.1:1\n"
        'BENCH {"requests": 800, "duration_us": 8000000, "p50_us": 1500, "p99_us": 9000, '
        '"status_errors": 3, "socket_errors": 1}\n'
    )
    fig = parse_wrk("x", 8, out)
    assert fig.per_second == 100.0
    assert (fig.p50_ms, fig.p99_ms, fig.errors) == (1.5, 9.0, 4)


def test_parse_pgbench_summary_counts_failures_and_aborted_clients():
    text = (
        "number of transactions actually processed: 1234\n"
        "number of failed transactions: 2 (0.1%)\n"
        "pgbench: error: client 3 aborted in command 5\n"
    )
    assert parse_pgbench_summary(text) == (1234, 3)


def test_parse_pgbench_logs_reads_microseconds(tmp_path: Path):
    log = tmp_path / "tx.1"
    log.write_text("0 0 1500 0 1700000000 1\n0 1 2500 0 1700000000 2\n")
    assert parse_pgbench_logs([log]) == [1.5, 2.5]


def test_split_placeholders_keeps_literal_percent():
    assert _split_placeholders("a = %s AND b LIKE '%%x' OR c = %s") == [
        "a = ",
        " AND b LIKE '%x' OR c = ",
        "",
    ]


def test_render_pgbench_turns_request_values_into_variables():
    statements = [
        Statement(sql="BEGIN"),
        Statement(
            sql='INSERT INTO "orders_order" ("vendor_id", "total") VALUES (%s, %s) RETURNING "orders_order"."id"',
            literals=["1000007", "199"],
            raw=[1000007, 199],
            returning_table="orders_order",
            returned={"id": 100000042},
        ),
        Statement(
            sql='INSERT INTO "ledger_hold" ("reference", "order_id", "account_id") VALUES (%s, %s, %s)',
            literals=["'order:100000042:reserve'", "100000042", "2000013"],
            raw=["order:100000042:reserve", 100000042, 2000013],
        ),
        Statement(
            sql='INSERT INTO "ttelgo_idempotencykey" ("key", "scope") VALUES (%s, %s)',
            literals=["'capture-key-1'", "'vendor:1000007'"],
            raw=["capture-key-1", "vendor:1000007"],
        ),
        Statement(sql="COMMIT"),
    ]
    script = render_pgbench(
        statements,
        vendor_values={"1000007": "id", "2000013": "wallet"},
        idempotency_key="capture-key-1",
        vendor_choice="random(1, 1000)",
    )
    assert "\\set vn random(1, 1000)" in script
    assert "SELECT * FROM bench_vendor WHERE n = :vn \\gset v_" in script
    assert 'VALUES (:v_id, 199) RETURNING "orders_order"."id" \\gset orders_order_' in script
    assert "(('order:' || :orders_order_id || ':reserve'), :orders_order_id, :v_wallet);" in script
    assert "(':ikey', ('vendor:' || :v_id));" in script
    assert script.count("BEGIN;") == 1 and script.count("COMMIT;") == 1
    assert "100000042" not in script and "1000007" not in script


def test_render_pgbench_leaves_lookalike_numbers_alone():
    statements = [
        Statement(
            sql="SELECT %s, %s",
            literals=["'ab1000007cd'", "'x 10000070'"],
            raw=["ab1000007cd", "x 10000070"],
        ),
    ]
    script = render_pgbench(
        statements, vendor_values={"1000007": "id"}, idempotency_key="k-1", vendor_choice="1"
    )
    assert "SELECT 'ab1000007cd', 'x 10000070';" in script


def test_the_order_bound_adds_the_bare_view_and_the_sql_per_request():
    from bench.phases import _bound

    # A bare view at 1,200/s and SQL at 800/s on the same CPUs: at best 1/(1/1200 + 1/800)
    # = 480 orders/s, 0.6 of the ceiling.
    assert _bound(1200.0, 800.0) == pytest.approx(0.6)
    assert _bound(0.0, 800.0) == 0.0


def test_the_orders_own_cpu_is_what_is_left_after_a_bare_answer_and_its_sql(monkeypatch):
    from bench.phases import _own_cpu_ms

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    # 200 orders/s against a bare view at 1,000/s and SQL at 500/s: each order takes 5 ms of
    # the 2 cores, 1 ms + 2 ms of which the bare answer and the SQL cost: 2 ms x 2 cores.
    # At 0.5 (250/s, 4 ms) the order's own work would have 4 - 2 - 1 = 1 ms x 2 cores.
    figures = _own_cpu_ms(200.0, 1000.0, 500.0)
    assert figures == {"own_cpu_ms": pytest.approx(4.0), "own_cpu_budget_ms": pytest.approx(2.0)}
    assert _own_cpu_ms(0.0, 1000.0, 500.0) == {"own_cpu_ms": 0.0, "own_cpu_budget_ms": 0.0}


@pytest.mark.postgres
def test_capture_records_the_connection_health_check(db):
    """Django runs CONN_HEALTH_CHECKS' SELECT 1 on the driver's cursor, outside
    execute_wrapper: the captured script must still replay it."""
    from django.db import connection

    from bench.sqlcapture import capture_sql

    with capture_sql() as statements:
        assert connection.is_usable()
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s", [2])
    assert [s.sql for s in statements] == ["SELECT 1", "SELECT %s"]
