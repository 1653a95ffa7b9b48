# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Algorithm core: numpy, scipy and filterpy only (no rclpy, no *_msgs).

A test enforces that nothing here imports ROS, so the core can be used and
tested without a ROS installation.
"""
