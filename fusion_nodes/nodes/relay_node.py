"""relay_node: republishes one topic unchanged; the same-run baseline for benchmarks."""
from __future__ import annotations

import sys

from rclpy.node import Node
from sensor_msgs.msg import Imu

from fusion_nodes.ros.params import ParamSpec, declare
from fusion_nodes.ros.qos import sensor_qos
from fusion_nodes.ros.runner import run_node


class RelayNode(Node):
    """Subscribe to ``input`` (sensor_msgs/Imu) and publish each message on ``output``."""

    def __init__(self, **kwargs):
        super().__init__("relay_node", **kwargs)
        p = declare(self, [ParamSpec("input", "imu/data", "Input topic.", read_only=True),
                           ParamSpec("output", "imu/relayed", "Output topic.", read_only=True),
                           ParamSpec("queue_size", 1000, "Depth.", 1, 100000, read_only=True)])
        self.pub = self.create_publisher(Imu, p["output"], sensor_qos(p["queue_size"]))
        self.create_subscription(Imu, p["input"], self.pub.publish, sensor_qos(p["queue_size"]))


def main(args=None) -> int:
    return run_node(RelayNode, args)


if __name__ == "__main__":
    sys.exit(main())
