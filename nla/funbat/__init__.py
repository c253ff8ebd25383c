"""FunBaT: functional Bayesian Tucker decomposition for continuous-indexed tensor data.

Observations ``y`` at arbitrary real coordinates ``(x_1, ..., x_K)`` are modelled by a Tucker
(or CP) product of per-mode latent functions with Matérn GP priors; inference runs a Kalman
filter and RTS smoother per mode over its unique coordinates (Fang et al., ICLR 2024).
"""

from ._funbat import FunBaT

__all__ = ["FunBaT"]
