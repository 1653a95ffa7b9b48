"""The fusion command line end to end: sim -> offline -> eval, as a user runs it."""
import subprocess

from fusion_nodes.tools.paths import executable


def run(*args, timeout=300):
    r = subprocess.run([executable("fusion"), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_sim_offline_eval(tmp_path):
    from conftest import REPO
    sim = tmp_path / "drive.mcap"
    out = tmp_path / "fused.mcap"
    assert "wrote" in run("sim", "--out", sim, "--duration", "30", "--seed", "7")
    text = run("offline", sim, "--params", REPO / "config" / "demo_sim.yaml", "--out", out)
    assert "/odometry/filtered" in text and out.exists()
    table = run("eval", out, "--truth", "/ground_truth/odom", "--estimate", "/odometry/filtered",
                "--estimate", "/wheel/odom", "--label", "EKF", "--label", "DR", "--plot", tmp_path / "p.png")
    rows = {line.split()[0]: line.split() for line in table.splitlines()[2:] if not line.startswith("plot:")}
    assert set(rows) == {"EKF", "DR"}
    assert float(rows["EKF"][1].rstrip("m")) < 2.0
    assert (tmp_path / "p.png").stat().st_size > 10_000
