"""Every bijection of the lectures, in the normalizing direction x -> z (see ``base``)."""
from flowlab.flows.base import Compose, Flow, Inverse, check_shape
from flowlab.flows.model import FlowModel, StandardNormal
from flowlab.flows.elementwise import Affine, ElementwiseAffine

# Layer families register themselves below, one import line each.
from flowlab.flows.autoregressive import IAF, MADE, MAF, iaf, maf
from flowlab.flows.coupling import (AdditiveCoupling, AffineCoupling, ConvConditioner, MLPConditioner, alternating_mask, channel_mask, checkerboard_mask, half_mask, realnvp)
from flowlab.flows.permutations import Permutation, RandomPermutation, ReversePermutation
from flowlab.flows.glow import ActNorm, InvertibleConv1x1
from flowlab.flows.multiscale import Flatten, Split, Squeeze, glow_step, initialize_actnorm, multiscale_flow, multiscale_model
from flowlab.flows.spline import RationalQuadraticSpline
from flowlab.flows.continuous import CNF, TimeConcatMLP, divergence_exact, divergence_hutchinson, field_jacobian
from flowlab.flows.planar import PlanarFlow, RadialFlow, planar_u_hat
from flowlab.flows.sylvester import SylvesterFlow, dense_logdet, sylvester_logdet
