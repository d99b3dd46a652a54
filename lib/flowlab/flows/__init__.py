"""Every bijection of the lectures, in the normalizing direction x -> z (see ``base``), and the
amortized forms of planar, Sylvester and IAF maps that VAE posteriors use (``amortized``).

The face holds what the notebooks use; the building blocks (``Flow``, the split and flatten layers of
the multi-scale builder, the permutations, the amortized maps, ...) are imported from their modules."""
from flowlab.flows.autoregressive import IAF, MAF
from flowlab.flows.base import Compose, Inverse
from flowlab.flows.checks import autograd_logdet, check_flow, randomize_parameters
from flowlab.flows.continuous import CNF
from flowlab.flows.coupling import AdditiveCoupling, AffineCoupling, realnvp
from flowlab.flows.elementwise import Affine, ElementwiseAffine
from flowlab.flows.glow import ActNorm, InvertibleConv1x1
from flowlab.flows.logit import LogitTransform
from flowlab.flows.masks import channel_mask, checkerboard_mask, half_mask
from flowlab.flows.model import FlowModel, StandardNormal
from flowlab.flows.monotone import invert_increasing
from flowlab.flows.multiscale import (
    COUPLINGS,
    PERMUTATIONS,
    Squeeze,
    hidden_for_budget,
    initialize_actnorm,
    multiscale_model,
)
from flowlab.flows.planar import PlanarFlow, RadialFlow, planar_u_hat
from flowlab.flows.residual import FixedPointError, ResidualFlow
from flowlab.flows.spline import RationalQuadraticSpline
from flowlab.flows.sylvester import SylvesterFlow, dense_logdet, sylvester_logdet

__all__ = [
    "ActNorm", "AdditiveCoupling", "Affine", "AffineCoupling", "CNF", "COUPLINGS", "Compose", "ElementwiseAffine",
    "FixedPointError", "FlowModel", "IAF", "Inverse", "InvertibleConv1x1", "LogitTransform", "MAF", "PERMUTATIONS",
    "PlanarFlow", "RadialFlow", "RationalQuadraticSpline", "ResidualFlow", "Squeeze", "StandardNormal",
    "SylvesterFlow", "autograd_logdet", "channel_mask", "check_flow", "checkerboard_mask", "dense_logdet",
    "half_mask", "hidden_for_budget", "initialize_actnorm", "invert_increasing", "multiscale_model", "planar_u_hat",
    "randomize_parameters", "realnvp", "sylvester_logdet",
]
