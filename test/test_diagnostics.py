# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Diagnostics helpers: windowed levels, staleness, and DDS delivery accounting."""
import time

from fusion_nodes.ros.diagnostics import OK, WARN, Delivery, InputMonitor, RecentCount, monitor_status


def test_delivery_counts_sequence_gaps_and_restarts_its_baseline():
    d = Delivery()
    now = time.time_ns()
    for seq in (1, 2, 5, 6, 10):            # 3, 4, 7, 8, 9 never reached the callback
        d.note({"publication_sequence_number": seq, "received_timestamp": now})
    assert d.skipped == 5
    d.note({"publication_sequence_number": 1, "received_timestamp": now})   # the publisher restarted
    d.note({"publication_sequence_number": 2, "received_timestamp": now})
    d.note(None)                                                              # in process: no info
    report = d.report()
    assert report["skipped"] == 5 and report["queue_wait_max_s"] >= 0.0
    assert d.report()["queue_wait_max_s"] == 0.0                              # per report period


def test_skipped_messages_warn_for_one_window_then_clear():
    mon = InputMonitor(window=5.0)
    mon.tick(100.0)
    mon.delivery.note({"publication_sequence_number": 1})
    mon.tick(100.1)
    mon.delivery.note({"publication_sequence_number": 4})
    st = monitor_status("n: imu", "/imu", mon, 100.2)
    assert st.level == WARN and "2 skipped" in st.message
    for t in range(101, 107):
        mon.tick(float(t))
        mon.delivery.note({"publication_sequence_number": 4 + t - 100})
        st = monitor_status("n: imu", "/imu", mon, float(t))
    assert st.level == OK


def test_staleness_is_the_time_since_the_last_message_even_after_the_rate_window():
    mon = InputMonitor(window=5.0)
    mon.tick(10.0)
    assert mon.rate(30.0) == 0.0
    assert mon.staleness(30.0) == 20.0        # was inf once the rate window had emptied
    mon.restart()
    assert mon.staleness(30.0) == float("inf")


def test_recent_count_restarts_after_a_clock_jump_back():
    rc = RecentCount(5.0)
    assert rc.update(100.0, 3) == 3
    assert rc.update(50.0, 4) == 0
    assert rc.update(51.0, 6) == 2


def test_cpu_load_is_cpu_seconds_per_second_of_the_node_clock():
    from fusion_nodes.ros.diagnostics import CpuLoad
    load = CpuLoad()
    assert load.sample(100.0) == 0.0                 # the first sample only sets the baseline
    start = time.process_time()
    while time.process_time() - start < 0.2:         # 0.2 s of CPU while the node clock moves 0.1 s
        pass
    assert load.sample(100.1) > 1.5                  # more than a core's worth: the node cannot keep up
    assert load.sample(100.1) > 1.5                  # a clock that did not advance keeps the last value
    assert load.sample(99.0) > 1.5                   # nor does one that jumped back (bag loop)
    assert load.sample(1099.0) < 0.01                # an offline run far faster than real time is no overload
