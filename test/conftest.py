"""Test session setup: keep DDS on this machine, one ROS domain per session."""
import os
from pathlib import Path

# Discovery must not leave the machine; each pytest session gets its own
# domain so parallel sessions (and other developers' runs) do not cross-talk.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
