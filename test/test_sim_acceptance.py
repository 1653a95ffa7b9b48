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
