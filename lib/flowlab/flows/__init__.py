"""Every bijection of the lectures, in the normalizing direction x -> z (see ``base``)."""
from flowlab.flows.base import Compose, Flow, Inverse, check_shape
from flowlab.flows.model import FlowModel, StandardNormal
from flowlab.flows.elementwise import Affine, ElementwiseAffine

# Layer families register themselves below, one import line each.
