"""fastnn's subject as experiments: the claims about initialization and BatchNorm.

``init_experiments`` (claims 1-6 and 14) and ``batchnorm_experiments``
(claims 7-13) hold one function per claim, returning plain data; ``claims``
states each claim with its verdict rule; ``plots`` draws the figures (needs
matplotlib); ``report.run_study`` runs them and writes ``report.md``;
``cli`` is the ``fastnn study`` subcommand.  ``data`` picks the task and
``nets`` has the shared MLP builder, training loop and layer probes.
"""

from fastnn.study.batchnorm_experiments import (
    claim_7_bn_speed,
    claim_8_input_distribution,
    claim_9_learning_rates,
    claim_10_init_sensitivity,
    claim_11_placement,
    claim_12_parameters,
    claim_13_regularization,
)
from fastnn.study.init_experiments import (
    claim_1_zero_init,
    claim_2_constant_init,
    claim_3_small_init,
    claim_4_large_init,
    claim_5_variance_preserving,
    claim_6_init_comparison,
    claim_14_deep_relu,
)

__all__ = [
    "claim_1_zero_init",
    "claim_2_constant_init",
    "claim_3_small_init",
    "claim_4_large_init",
    "claim_5_variance_preserving",
    "claim_6_init_comparison",
    "claim_7_bn_speed",
    "claim_8_input_distribution",
    "claim_9_learning_rates",
    "claim_10_init_sensitivity",
    "claim_11_placement",
    "claim_12_parameters",
    "claim_13_regularization",
    "claim_14_deep_relu",
]
