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
    (wheel speed, gyro, GPS; no orientation input), its initial_estimate_covariance removed or set."""
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
    default (1e-9 everywhere, yaw = 0 east) on the same drive north is far off."""
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
    import yaml
    kw = dict(imu_declared_scale=0.25, odom_declared_scale=0.25, gps_declared_scale=4.0) if misdeclared else {}
    cfg = sim.SimConfig(seed=5, duration=190.0, **kw)
    sim.write(cfg, tmp_path / "sim.mcap")
    params = yaml.safe_load((REPO / "config" / "demo_sim.yaml").read_text())
    if adaptive:
        params["kalman_fusion_node"]["ros__parameters"].update(
            {f"{s}_adaptive_noise": True for s in ("odom0", "imu0", "odom1")})
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    run_offline(tmp_path / "sim.mcap", tmp_path / "p.yaml", tmp_path / "out.mcap")
    _, _, errs, s = evaluate.evaluate(tmp_path / "out.mcap", demo.TRUTH, {"fused": demo.FILTERED})
    gps = evaluate.last_diagnostics(tmp_path / "out.mcap", "kalman_fusion_node: odom1")["kalman_fusion_node: odom1"]
    return float(np.sqrt(np.mean(errs["fused"].pos ** 2))), s["fused"]["nees_in_band"], gps


def test_adaptive_noise_recovers_from_misdeclared_covariances(tmp_path):
    """The IMU and wheel odometry declare 1/4 of their variances, the GPS 4 times its own: with
    <sensor>_adaptive_noise the position RMSE is within 10 % of the honest drive's, the GPS's scale
    found near 1/4, and the NEES inside its band for most of the drive."""
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
