"""flowlab.coding.bitsback: bit-exact round trips, clear errors on damaged messages, and the rate
the information terms predict."""
import numpy as np
import pytest
import torch

from flowlab.coding import MessageError
from flowlab.coding.bitsback import BitsBackCodec, standard_normal_prior
from flowlab.coding.latent import LatentGrid

from .conftest import LATENT, D, ToyModel


def codec_for(model, batch=50, **kw):
    return BitsBackCodec(model.posterior, model.likelihood, standard_normal_prior(LATENT), latent_dim=LATENT,
                         shape=(D,), levels=model.levels, batch=batch, **kw)


@pytest.fixture(scope="module")
def coded(toy):
    x = toy.sample(300)
    codec = codec_for(toy)
    message, report = codec.encode(x)
    return toy, codec, x, message, report


def test_three_hundred_images_round_trip_bit_exactly(coded):
    _, codec, x, message, report = coded
    assert torch.equal(codec.decode(message), x)
    assert report.items == 300 and report.net_bits == report.total_bits - report.initial_bits


def test_images_shaped_and_chunk_not_dividing(toy):
    x = toy.sample(37).reshape(37, 1, 8, 8)
    codec = BitsBackCodec(lambda v: toy.posterior(v.reshape(len(v), -1)),
                          lambda z: toy.likelihood(z).reshape(-1, 1, 8, 8),
                          standard_normal_prior(LATENT), latent_dim=LATENT, shape=(1, 8, 8), batch=16)
    assert torch.equal(codec.decode(codec.encode(x)[0]), x)


def test_categorical_likelihood_round_trip():
    model = ToyModel(seed=2, levels=5)
    x = model.sample(120)
    codec = codec_for(model, batch=40)
    message, report = codec.encode(x)
    assert torch.equal(codec.decode(message), x)
    assert abs(report.net_bits - report.information_bits) <= 64 + 0.01 * report.information_bits


def test_a_flipped_bit_anywhere_gives_the_clear_error(coded):
    _, codec, _, message, _ = coded
    rng = np.random.default_rng(0)
    for i in rng.choice(8 * len(message), size=40, replace=False):
        bad = bytearray(message)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(MessageError, match="corrupted|truncated|magic|version|kind"):
            codec.decode(bytes(bad))


@pytest.mark.parametrize("keep", [0, 10, 60, -4, -1])
def test_a_truncated_message_gives_the_clear_error(coded, keep):
    _, codec, _, message, _ = coded
    with pytest.raises(MessageError, match="truncated"):
        codec.decode(message[:keep])


def test_a_different_model_is_caught_not_decoded_wrongly(coded):
    toy, _, _, message, _ = coded
    other = ToyModel(seed=0)
    other.W = toy.W * 1.001
    with pytest.raises(MessageError, match="differs from the sender"):
        codec_for(other).decode(message)


def test_net_rate_is_the_information_content(coded):
    *_, report = coded
    # ANS: a few bits of state per message; fixed-point (24-bit) probabilities change each term slightly
    assert abs(report.net_bits - report.information_bits) <= 32 + 1e-3 * report.information_bits


def test_naive_coding_pays_the_posterior_bits(coded):
    toy, codec, x, message, report = coded
    naive_msg, naive = codec.encode_naive(x, 0)
    assert torch.equal(codec.decode(naive_msg), x)
    assert naive.initial_bits <= 32  # just the seal word: naive coding needs no initial bits
    # Bits-back saves exactly the bits it pops, -log2 Q(z|x), evaluated at its own draws
    saved = naive.information_bits - report.information_bits
    diff_x = naive.x_bits.sum() + naive.z_prior_bits.sum() - report.x_bits.sum() - report.z_prior_bits.sum()
    assert saved == pytest.approx(report.z_posterior_bits.sum() + diff_x, rel=1e-9)
    # and on average that is the entropy of the discretised posterior: 3 standard errors over items
    per_item = naive.z_posterior_bits - naive.posterior_entropy_bits
    assert abs(per_item.mean()) <= 3 * per_item.std(ddof=1) / np.sqrt(len(per_item))


def test_initial_bits_cover_the_first_pop_and_come_back(coded):
    _, codec, _, _, report = coded
    assert report.initial_bits >= 50 * LATENT * 24  # every pop takes <= 24 bits
    first_pop = report.z_posterior_bits[:50].sum()
    assert first_pop < report.initial_bits


def test_bad_inputs(toy):
    """What a reader hands a codec (vae_codec builds its callables): the grid, the seed, items, messages."""
    codec = codec_for(toy)
    with pytest.raises(ValueError, match="shape"):
        codec.encode(torch.zeros(3, D + 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        codec.encode(torch.full((3, D), 2))
    with pytest.raises(TypeError, match="grid must be a LatentGrid"):
        codec_for(toy, grid=0.01)
    with pytest.raises(ValueError, match="seed"):
        codec_for(toy, seed=-1)
    diverged = BitsBackCodec(lambda x: (torch.full((len(x), LATENT), float("nan")), torch.ones(len(x), LATENT)),
                             toy.likelihood, standard_normal_prior(LATENT), latent_dim=LATENT, shape=(D,))
    with pytest.raises(ValueError, match="posterior.*non-finite"):
        diverged.encode(toy.sample(4))
    with pytest.raises(ValueError, match="width"):
        LatentGrid(width=2.0, bound=1.0)
    with pytest.raises(ValueError, match="too many"):
        LatentGrid(width=2.0 ** -12, bound=8.0)
    with pytest.raises(MessageError, match="chunks"):
        codec_for(toy, batch=7).decode(codec.encode(toy.sample(4))[0])


@pytest.mark.parametrize("message, says", [
    ("not a message", r"got str; a str is text"),
    (None, r"got NoneType"),
    (12, r"got int"),
], ids=["str", "none", "int"])
def test_decode_of_something_not_a_message_says_what_it_got_and_expects(coded, message, says):
    _, codec, *_ = coded
    with pytest.raises(TypeError, match=r"^BitsBackCodec\.decode expects the message bytes that "
                                        r"BitsBackCodec\.encode or encode_naive returned .*" + says) as info:
        codec.decode(message)
    assert "unpack" not in str(info.value)


def test_decode_of_the_whole_encode_result_says_to_pass_its_first_element(coded):
    _, codec, x, message, _ = coded
    with pytest.raises(TypeError, match=r"BitsBackCodec\.decode .*got tuple.*\(message, report\).*first element"):
        codec.decode(codec.encode(x[:3]))
