"""Random, non-trivial parameters for harness tests: layers start as the identity (zero-initialised
last layers), where a round-trip or log-det check would pass for any code."""
import torch


def randomize_parameters(module, std=0.3, seed=0, add=False):
    """Set every parameter to N(0, std^2) draws (or, with ``add``, add them) from a seeded generator."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            noise = std * torch.randn(p.shape, generator=g, dtype=p.dtype)
            p.add_(noise) if add else p.copy_(noise)
    return module
