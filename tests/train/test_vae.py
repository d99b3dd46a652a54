"""VAE training and evaluation: the loop lowers the -ELBO, the decoder starts at the pixel marginals,
evaluation reports nats and the matching bits/dim, with the NLL below the -ELBO."""
import math

import torch

from flowlab.data import binarize, load_images
from flowlab.models import VAE, Bernoulli
from flowlab.models.likelihoods import DiscretizedLogistic
from flowlab.train import evaluate_vae, fit_vae
from tests.train.interrupt import interrupt_and_resume


def test_fit_vae_lowers_the_bound_on_binarized_digits():
    digits = load_images("digits")
    vae = VAE(digits.shape, Bernoulli(), latent=4, hidden=32, layers=1, context=32)
    g = torch.Generator().manual_seed(0)
    x = binarize(digits.train[:300], digits.levels, torch.Generator().manual_seed(1))
    def bound():
        return -vae.elbo(x, 20, generator=torch.Generator().manual_seed(2)).mean().item()
    vae.initialize_decoder(digits.train[:300], digits.levels)
    before = bound()                     # the pixel marginals alone
    fit_vae(vae, digits.train[:300], steps=300, generator=g, lr=3e-3, warmup_steps=60, binarize_levels=digits.levels)
    assert bound() < before - 1.0, (before, bound())  # 300 steps: a start, well beyond seed noise


def test_decoder_starts_at_the_pixel_marginals():
    x = torch.randint(0, 256, (50, 1, 3, 2), generator=torch.Generator().manual_seed(1))
    vae = VAE((1, 3, 2), DiscretizedLogistic(256), latent=2, hidden=4, layers=1, context=4)
    vae.initialize_decoder(x)
    bias = vae.decoder[-1].bias.reshape(6, 2)
    centred = 2 * x.reshape(50, 6).double() / 255 - 1
    assert torch.allclose(bias[:, 0].double(), centred.mean(0), atol=1e-6)
    assert torch.allclose(bias[:, 1].double().exp() * math.pi / math.sqrt(3), centred.std(0), atol=1e-5)
    grey = torch.randint(0, 17, (40, 1, 2, 2), generator=torch.Generator().manual_seed(2))
    binary = VAE((1, 2, 2), Bernoulli(), latent=2, hidden=4, layers=1, context=4).initialize_decoder(grey, 17)
    p = (grey.reshape(40, 4).double() / 16).mean(0).clamp(1e-3, 1 - 1e-3)
    assert torch.allclose(binary.decoder[-1].bias.double(), torch.logit(p), atol=1e-6)


def test_evaluate_vae_reports_matching_units():
    x = torch.randint(0, 256, (6, 1, 3, 2), generator=torch.Generator().manual_seed(3))
    vae = VAE((1, 3, 2), DiscretizedLogistic(256), latent=2, hidden=8, layers=1, context=8).initialize_decoder(x)
    r = evaluate_vae(vae, x, generator=torch.Generator().manual_seed(4), elbo_samples=50, importance_samples=500)
    def same(nats, bpd):
        return abs(bpd - nats / (6 * math.log(2))) < 1e-5 * bpd  # float32 evaluation
    assert same(r["neg_elbo"], r["neg_elbo_bpd"]) and same(r["nll"], r["nll_bpd"])
    assert r["nll"] < r["neg_elbo"]


def test_a_vae_run_stopped_mid_warmup_resumes_to_the_uninterrupted_weights(tmp_path, monkeypatch):
    """The warm-up follows fit's step, and the minibatch generator is saved with the run: a resumed run
    takes the steps the uninterrupted one takes, so it ends with the same weights, bit for bit."""
    import flowlab.train.vae as train_vae

    digits = load_images("digits")
    images = digits.train[:100]

    def run(checkpoint=None):
        torch.manual_seed(0)
        vae = VAE(digits.shape, Bernoulli(), latent=2, hidden=8, layers=1, context=8)
        history = fit_vae(vae, images, steps=8, generator=torch.Generator().manual_seed(1), batch_size=16,
                          warmup_steps=6, binarize_levels=digits.levels, checkpoint=checkpoint, checkpoint_every=2)
        return vae, history

    whole, whole_history = run()
    (resumed, history), taken = interrupt_and_resume(monkeypatch, train_vae, "binarize", run, tmp_path / "vae.pt")
    assert taken == [5, 6, 7, 8]  # one binarize a step: it resumed after the last save, not from the start
    assert history.losses == whole_history.losses
    assert all(torch.equal(a, b) for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()))
