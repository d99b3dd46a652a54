"""Every bijection of the lectures, in the normalizing direction x -> z (see ``base``), and the
amortized forms of planar, Sylvester and IAF maps that VAE posteriors use (``amortized``)."""
from flowlab.flows.amortized import (
                                     AMORTIZED_FLOWS,
                                     AmortizedFlow,
                                     AmortizedIAF,
                                     AmortizedPlanar,
                                     AmortizedSylvester,
                                     amortized_flow,
)
from flowlab.flows.autoregressive import IAF, MAF, iaf, maf
from flowlab.flows.base import Compose, Flow, Inverse
from flowlab.flows.checks import autograd_logdet, check_flow, randomize_parameters
from flowlab.flows.continuous import CNF
from flowlab.flows.coupling import AdditiveCoupling, AffineCoupling, Coupling, realnvp
from flowlab.flows.elementwise import Affine, ElementwiseAffine
from flowlab.flows.glow import ActNorm, InvertibleConv1x1
from flowlab.flows.logit import LogitTransform
from flowlab.flows.masks import alternating_mask, channel_mask, checkerboard_mask, half_mask
from flowlab.flows.model import FlowModel, StandardNormal
from flowlab.flows.multiscale import (
                                     COUPLINGS,
                                     PERMUTATIONS,
                                     Flatten,
                                     Split,
                                     Squeeze,
                                     glow_step,
                                     hidden_for_budget,
                                     initialize_actnorm,
                                     multiscale_flow,
                                     multiscale_model,
)
from flowlab.flows.permutations import Permutation, RandomPermutation, ReversePermutation
from flowlab.flows.planar import PlanarFlow, RadialFlow, planar_map, planar_u_hat
from flowlab.flows.residual import FixedPointError, ResidualFlow
from flowlab.flows.spline import RationalQuadraticSpline
from flowlab.flows.sylvester import (
                                     SylvesterFlow,
                                     dense_logdet,
                                     householder_q,
                                     orthogonalize,
                                     sylvester_logdet,
                                     sylvester_map,
                                     triangle,
)

__all__ = [
    "FixedPointError", "ResidualFlow",
    "AMORTIZED_FLOWS", "ActNorm", "AmortizedFlow", "AmortizedIAF", "AmortizedPlanar", "AmortizedSylvester",
    "AdditiveCoupling", "Affine", "AffineCoupling", "CNF", "COUPLINGS", "Compose", "Coupling",
    "ElementwiseAffine", "Flatten", "Flow", "FlowModel", "IAF", "Inverse", "InvertibleConv1x1",
    "LogitTransform", "MAF", "PERMUTATIONS", "Permutation", "PlanarFlow", "RadialFlow", "RandomPermutation",
    "RationalQuadraticSpline", "ReversePermutation", "Split", "Squeeze", "StandardNormal", "SylvesterFlow",
    "alternating_mask", "amortized_flow", "autograd_logdet", "channel_mask", "check_flow",
    "checkerboard_mask", "dense_logdet", "glow_step", "half_mask", "hidden_for_budget", "householder_q",
    "iaf", "initialize_actnorm", "maf", "multiscale_flow", "multiscale_model", "orthogonalize",
    "planar_map", "planar_u_hat", "randomize_parameters", "realnvp", "sylvester_logdet", "sylvester_map",
    "triangle"
]
