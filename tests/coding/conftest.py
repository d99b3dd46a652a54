"""A small fixed latent variable model for the coding tests (random weights, no training)."""
import pytest
import torch

D, LATENT = 64, 4


class ToyModel:
    """q(z|x) = N(A x, diag softplus(B x)), p(x|z) = Bernoulli(sigmoid(W z)), p(z) = N(0, I)."""

    def __init__(self, seed=0, levels=2):
        g = torch.Generator().manual_seed(seed)
        self.W = torch.randn(LATENT, D * (1 if levels == 2 else levels), generator=g)
        self.enc = torch.randn(D, 2 * LATENT, generator=g) * 0.1
        self.levels = levels

    def posterior(self, x):
        h = x.reshape(len(x), -1) / (self.levels - 1) @ self.enc
        return h[:, :LATENT], torch.nn.functional.softplus(h[:, LATENT:]) * 0.3 + 0.05

    def likelihood(self, z):
        logits = z @ self.W
        if self.levels == 2:
            return torch.sigmoid(logits)
        return torch.softmax(logits.reshape(len(z), D, self.levels), -1)

    def sample(self, n, seed=1):
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, LATENT, generator=g)
        p = self.likelihood(z)
        if self.levels == 2:
            return torch.bernoulli(p, generator=g).long()
        return torch.multinomial(p.reshape(-1, self.levels), 1, generator=g).reshape(n, D)


@pytest.fixture(scope="module")
def toy():
    return ToyModel()
