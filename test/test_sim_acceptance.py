# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The simulated drive end to end: EKF and UKF against GPS only and dead reckoning.

One seeded drive (GPS outage 120-135 s, multipath jump 175-177 s) runs through
imu_gps_node + kalman_fusion_node with each filter. Thresholds:
* fusion must beat both single sources on position RMSE (the claim);
* NEES of the 2-D position inside the two-sided 95 % chi-square band for at
  least 70 % of the drive ("most"; a perfectly consistent filter gives 95 %);
* through the outage the error must grow (to at least twice its level
  before) and be back under 1 m within 5 s of the GPS returning;
* the 14 m multipath jump must be rejected: every one of its fixes counted as
  a Mahalanobis rejection and the estimate kept within 1.5 m meanwhile.
"""
import numpy as np
import pytest

from conftest import REPO
from fusion_nodes.core.latency import lag_cramer_rao
from fusion_nodes.tools import demo, evaluate, sim
from fusion_nodes.tools.offline import run_offline


@pytest.fixture(scope="module")
def drive(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    cfg = sim.SimConfig(seed=3, duration=190.0)
    sim.write(cfg, out / "sim.mcap")
    return cfg, out


@pytest.mark.parametrize("kind", ["ekf", "ukf"])
def test_fusion_beats_single_sensors_and_survives_outage_and_multipath(drive, kind):
    cfg, out = drive
    bag = out / f"{kind}.mcap"
    run_offline(out / "sim.mcap", REPO / "config" / "demo_sim.yaml", bag, extra_params=[f"filter_type:={kind}"])
    est, truth, errs, s = evaluate.evaluate(bag, demo.TRUTH, {"gps": demo.GPS, "dr": demo.DR,
                                                              "fused": demo.FILTERED})
    print(evaluate.format_table(s, position_only=("gps",)))
    assert s["fused"]["pos"][0] < s["gps"]["pos"][0]
    assert s["fused"]["pos"][0] < s["dr"]["pos"][0]
    assert s["fused"]["nees_in_band"] > 0.70
    ev = demo._events(errs["fused"], truth.t[0], cfg)
    print(ev)
    assert ev["outage_max"] > 2 * ev["before_median"]
    assert ev["recovered"] < 1.0
    assert ev["multipath_max"] < 1.5
    gps_mp = demo._window(errs["gps"], truth.t[0], cfg.multipath[0] + cfg.gps_latency,
                          cfg.multipath[1] + cfg.gps_latency)
    assert np.median(gps_mp) > 10.0  # the jump is really there in the input
    diag = evaluate.last_diagnostics(bag, "kalman_fusion_node: odom1")["kalman_fusion_node: odom1"]
    n_jump = int(round((cfg.multipath[1] - cfg.multipath[0]) * cfg.gps_rate))
    assert int(diag["dropped.mahalanobis_pose"]) >= n_jump - 1


def _north_start(tmp_path, initial_covariance):
    """A 40 s drive that starts heading north, through imu_gps_node + kalman_fusion_node with demo_sim.yaml
    (wheel speed, gyro, GPS; no orientation input), its initial_estimate_covariance removed or set.
    """
    import yaml
    cfg = sim.SimConfig(seed=4, duration=40.0, start_yaw=np.pi / 2, gps_outage=(0.0, 0.0), multipath=(0.0, 0.0))
    sim.write(cfg, tmp_path / "sim.mcap")
    params = yaml.safe_load((REPO / "config" / "demo_sim.yaml").read_text())
    kalman = params["kalman_fusion_node"]["ros__parameters"]
    kalman.pop("initial_estimate_covariance")
    if initial_covariance is not None:
        kalman["initial_estimate_covariance"] = initial_covariance
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    run_offline(tmp_path / "sim.mcap", tmp_path / "p.yaml", tmp_path / "out.mcap")
    est, truth, errs, _ = evaluate.evaluate(tmp_path / "out.mcap", demo.TRUTH, {"fused": demo.FILTERED,
                                                                                "gps": demo.GPS})
    # where the robot has moved 10 m from its start
    moved = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(truth.xy, axis=0).T))])
    t10 = truth.t[np.searchsorted(moved, 10.0)]
    return errs["fused"].pos[errs["fused"].t > t10], errs["gps"].pos, cfg


def test_an_unknown_start_heading_is_not_asserted_and_gps_sets_it_once_the_robot_moves(tmp_path):
    """No initial_estimate_covariance and no orientation input: the heading starts unknown (yaw variance
    pi^2), and once the robot has moved 10 m the error is bounded by the GPS's. robot_localization's
    default (1e-9 everywhere, yaw = 0 east) on the same drive north is far off.
    """
    (tmp_path / "unknown").mkdir()
    (tmp_path / "asserted").mkdir()
    fused, gps, cfg = _north_start(tmp_path / "unknown", None)
    print(f"unknown heading: error after 10 m median {np.median(fused):.2f} max {fused.max():.2f} m; "
          f"GPS median {np.median(gps):.2f} p95 {np.percentile(gps, 95):.2f} m")
    assert fused.max() < np.percentile(gps, 95) + cfg.gps_sigma and np.median(fused) < np.median(gps)
    asserted, _, _ = _north_start(tmp_path / "asserted", [1e-9] * 15)
    print(f"yaw = 0 asserted (P0 1e-9): error after 10 m median {np.median(asserted):.2f} max {asserted.max():.2f} m")
    assert asserted.max() > 3 * fused.max()


def _rmse_with_declared(tmp_path, misdeclared: bool, adaptive: bool):
    kw = dict(imu_declared_scale=0.25, odom_declared_scale=0.25, gps_declared_scale=4.0) if misdeclared else {}
    cfg = sim.SimConfig(seed=5, duration=190.0, **kw)
    return _drive(tmp_path, cfg, {f"{s}_adaptive_noise": True for s in ("odom0", "imu0", "odom1")} if adaptive
                  else {})


def _drive(out, cfg, kalman_params: dict):
    """``cfg``'s drive through demo_sim.yaml with ``kalman_params`` on top: (position RMSE, NEES share in
    band, odom1 diagnostics).
    """
    import yaml
    sim.write(cfg, out / "sim.mcap")
    p = yaml.safe_load((REPO / "config" / "demo_sim.yaml").read_text())
    p["kalman_fusion_node"]["ros__parameters"].update(kalman_params)
    (out / "p.yaml").write_text(yaml.safe_dump(p))
    run_offline(out / "sim.mcap", out / "p.yaml", out / "out.mcap")
    _, _, errs, s = evaluate.evaluate(out / "out.mcap", demo.TRUTH, {"fused": demo.FILTERED})
    gps = evaluate.last_diagnostics(out / "out.mcap", "kalman_fusion_node: odom1")["kalman_fusion_node: odom1"]
    return float(np.sqrt(np.mean(errs["fused"].pos ** 2))), s["fused"]["nees_in_band"], gps


def test_adaptive_noise_recovers_from_misdeclared_covariances(tmp_path):
    """The IMU and wheel odometry declare 1/4 of their variances, the GPS 4 times its own: with
    <sensor>_adaptive_noise the position RMSE is within 10 % of the honest drive's, the GPS's scale
    found near 1/4, and the NEES inside its band for most of the drive.
    """
    runs = {}
    for label, mis, adaptive in (("honest", False, False), ("misdeclared", True, False), ("adaptive", True, True)):
        (tmp_path / label).mkdir()
        runs[label] = _rmse_with_declared(tmp_path / label, mis, adaptive)
        print(f"{label}: position RMSE {runs[label][0]:.3f} m, NEES in band {runs[label][1]:.2f}, "
              f"GPS scale {runs[label][2].get('adaptive_scale', 'n/a')}")
    honest, adaptive = runs["honest"][0], runs["adaptive"][0]
    assert adaptive < 1.1 * honest and runs["misdeclared"][0] > adaptive
    assert 0.15 < float(runs["adaptive"][2]["adaptive_scale"]) < 0.4
    assert runs["adaptive"][1] > 0.7


def _offset_drive(tmp_path, label: str, misdeclared: bool, params: dict, **sim_kw):
    """A drive with the GPS stamping 0.1 s late (honest wheels), through demo_sim.yaml with its hand-set
    odom1_time_offset replaced by ``params``: (position RMSE, NEES share in band, odom1 diagnostics).
    """
    out = tmp_path / label
    out.mkdir()
    kw = dict(imu_declared_scale=0.25, odom_declared_scale=0.25, gps_declared_scale=4.0) if misdeclared else {}
    cfg = sim.SimConfig(**{**dict(seed=17, duration=240.0, gps_outage=(0.0, 0.0), multipath=(0.0, 0.0),
                                  odom_speed_scale=1.0, odom_yaw_rate_scale=1.0), **kw, **sim_kw})
    return _drive(out, cfg, params)


def test_the_gps_latency_and_the_noise_are_estimated_online(tmp_path):
    """Issue 12's acceptance drive: the GPS stamps 0.1 s late, the IMU and wheels declare 1/4 of their
    variances, the GPS 4 times its own. With odom1_estimate_time_offset and adaptive noise on and no
    hand-set offset, the position RMSE is within 10 % of the run given the true offset and honest
    covariances; the estimated offset is within 3 sigma of -0.1 s with sigma under 20 ms; estimation off
    (today's behaviour) is measured beside it.

    The wheels are honest here: with a wheel reading 2 % high the filter, which has no wheel-scale
    state, runs ahead of the truth and a GPS lag happens to pull it back, so the true offset is not the
    best one for the fused output (sim seed 3: 0.29 m RMSE at offset 0, 0.38 m at the true -0.1 s).
    """
    adaptive = {f"{s}_adaptive_noise": True for s in ("odom0", "imu0", "odom1")}
    runs = {"true offset, honest": _offset_drive(tmp_path, "a", False, {"odom1_time_offset": -0.1}),
            "estimation off": _offset_drive(tmp_path, "b", True, {"odom1_time_offset": 0.0}),
            "estimated": _offset_drive(tmp_path, "c", True, {"odom1_time_offset": 0.0,
                                                             "odom1_estimate_time_offset": True, **adaptive})}
    for label, (rmse, nees, gps) in runs.items():
        print(f"{label}: position RMSE {rmse:.3f} m, NEES in band {nees:.2f}, "
              f"offset {gps.get('time_offset_estimate_s', 'n/a')} +- {gps.get('time_offset_sigma_s', 'n/a')} s")
    best, off, est = (runs[k][0] for k in ("true offset, honest", "estimation off", "estimated"))
    assert est < 1.1 * best and off > 1.2 * est
    gps = runs["estimated"][2]
    offset, sigma = float(gps["time_offset_estimate_s"]), float(gps["time_offset_sigma_s"])
    assert sigma < 0.02 and abs(offset + 0.1) < 3 * sigma
    assert "time offset estimated" in gps["message"]
    assert runs["estimated"][1] > 0.7


def _lag_bound(cfg, skip: float = 2.0) -> float:
    """The Cramér-Rao bound (s) of the lag from ``cfg``'s fixes once the drive has started."""
    traj = sim.trajectory(cfg)
    t = np.arange(1, int(cfg.duration * cfg.gps_rate)) / cfg.gps_rate + 0.0047 - cfg.gps_latency
    t = t[t >= skip]
    i = np.round(t / 1e-3).astype(int)
    v = np.column_stack([traj["v"][i] * np.cos(traj["yaw"][i]), traj["v"][i] * np.sin(traj["yaw"][i])])
    return lag_cramer_rao(t, v, cfg.gps_sigma)


def test_after_30_s_at_a_cars_speed_the_offset_is_as_close_as_the_fixes_allow(tmp_path):
    """Issue 12's "within 10 ms after 30 s": the fixes of 30 s of driving hold the lag to 11 ms (1 sigma,
    Cramér-Rao: 1 m fixes at 10 Hz, 12 +- 4.5 m/s), so no estimator meets 10 ms on every drive. Checked
    instead: the estimate within 3 bounds of the truth and its own sigma not below the bound.
    """
    adaptive = {f"{s}_adaptive_noise": True for s in ("odom0", "imu0", "odom1")}
    cfg = dict(duration=32.0, cruise_speed=12.0)
    _, _, gps = _offset_drive(tmp_path, "car", True, {"odom1_time_offset": 0.0, "odom1_estimate_time_offset": True,
                                                      **adaptive}, **cfg)
    bound = _lag_bound(sim.SimConfig(seed=17, **cfg))
    offset, sigma = float(gps["time_offset_estimate_s"]), float(gps["time_offset_sigma_s"])
    print(f"offset {offset:.4f} +- {sigma:.4f} s, Cramér-Rao bound {bound:.4f} s")
    assert 0.008 < bound < 0.015
    assert abs(offset + 0.1) < 3 * bound and sigma >= bound


def test_a_standing_robot_holds_the_time_offset_prior_and_says_so(tmp_path):
    """The heading is given well (so the estimator runs on every fix): standing still, the fixes carry no
    lag and the offset stays at its prior.
    """
    import yaml
    p0 = yaml.safe_load((REPO / "config" / "demo_sim.yaml").read_text())["kalman_fusion_node"]["ros__parameters"]
    P0 = list(p0["initial_estimate_covariance"])
    P0[5] = 1e-4
    rmse, _, gps = _offset_drive(tmp_path, "still", False, {"odom1_time_offset": -0.05,
                                                            "odom1_estimate_time_offset": True,
                                                            "initial_estimate_covariance": P0},
                                 duration=40.0, drive_from=100.0)
    print(gps)
    assert "time offset -0.050 +- 0.250 s, prior -0.050 s: not observable" in gps["message"]
    assert float(gps["time_offset_estimate_s"]) == -0.05 and gps["time_offset_observed"] == "False"
    assert int(gps["time_offset_fixes_used"]) > 300 and rmse < 1.0
