# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
