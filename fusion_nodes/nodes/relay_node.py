# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""relay_node: republishes one topic unchanged; the same-run baseline for benchmarks."""
from __future__ import annotations

import sys

from rclpy.node import Node
from sensor_msgs.msg import Imu, PointCloud2

from fusion_nodes.ros.params import ParamSpec, declare, one_of
from fusion_nodes.ros.qos import sensor_qos
from fusion_nodes.ros.runner import run_node


TYPES = {"sensor_msgs/msg/Imu": Imu, "sensor_msgs/msg/PointCloud2": PointCloud2}


class RelayNode(Node):
    """Subscribe to ``input`` (``message_type``) and publish each message on ``output``."""

    def __init__(self, **kwargs):
        super().__init__("relay_node", **kwargs)
        self.p = declare(self, [ParamSpec("input", "imu/data", "Input topic.", read_only=True),
                                ParamSpec("output", "imu/relayed", "Output topic.", read_only=True),
                                ParamSpec("queue_size", 1000, "Depth.", 1, 100000, read_only=True),
                                ParamSpec("message_type", "sensor_msgs/msg/Imu", "Message type relayed.",
                                          check=one_of(*TYPES), read_only=True)])
        msg_type = TYPES[self.p.message_type]
        self.pub = self.create_publisher(msg_type, self.p.output, sensor_qos(self.p.queue_size))
        self.create_subscription(msg_type, self.p.input, self.pub.publish, sensor_qos(self.p.queue_size))


def main(args=None) -> int:
    return run_node(RelayNode, args)


if __name__ == "__main__":
    sys.exit(main())
