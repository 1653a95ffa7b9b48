# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""QoS profiles.

Sensor subscriptions are best-effort, volatile, keep-last: a best-effort
reader matches both reliable and best-effort writers, so drivers with either
setting connect (a reliable reader would not match a best-effort driver).
"""
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy


def sensor_qos(depth: int = 10) -> QoSProfile:
    """Sensor-data QoS (like ``qos_profile_sensor_data``) with a chosen depth."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=max(1, int(depth)),
                      reliability=ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.VOLATILE)


def output_qos(depth: int = 10) -> QoSProfile:
    """Reliable keep-last QoS for estimates that downstream nodes must not miss."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def latched_qos(depth: int = 1) -> QoSProfile:
    """Reliable transient-local QoS for what a late joiner must still get (a class list, static TF)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)
