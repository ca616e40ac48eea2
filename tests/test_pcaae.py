"""PCAAE: earlier encoders stay frozen, the covariance term, a decoder per width."""

import torch

from tridrop.families.autoencoder.pcaae import PCAAE, cov_loss, pcaae_mse, train_stage
from tridrop.families.autoencoder.specs import AutoencoderModel, PCAAETrain
from tridrop.specs import TrainSpec


def naive_cov(z: torch.Tensor) -> torch.Tensor:
    """The authors' loop: mean over i < k of (batch mean of z_i z_k)^2, k the last column."""
    k = z.shape[1]
    if k == 1:
        return torch.zeros(())
    return sum(((z[:, i] * z[:, -1]).mean()) ** 2 for i in range(k - 1)) / (k - 1)


def test_cov_loss_matches_a_naive_loop():
    g = torch.Generator().manual_seed(0)
    for k in (1, 2, 5):
        z = torch.randn(33, k, generator=g)
        assert torch.allclose(cov_loss(z), naive_cov(z), atol=1e-7)


def test_a_stage_leaves_the_earlier_encoders_unchanged():
    torch.manual_seed(0)
    x = torch.rand(40, 1, 4, 4)
    spec = PCAAETrain("x", AutoencoderModel(hidden=8), TrainSpec(epochs=2, batch_size=16,
                      device="cpu"), widths=3)  # fmt: skip
    model = PCAAE((1, 4, 4), 8, 3)
    train_stage(model, x, spec, 1)
    first = {k: v.clone() for k, v in model.encoders[0].state_dict().items()}
    second = {k: v.clone() for k, v in model.encoders[1].state_dict().items()}
    history = train_stage(model, x, spec, 2)
    assert len(history) == 2 and {r["stage"] for r in history} == {2}
    # Weights and BatchNorm running statistics of E_1 are untouched; E_2 has learned.
    for k, v in model.encoders[0].state_dict().items():
        assert torch.equal(v, first[k]), k
    assert not torch.equal(model.encoders[1][1].weight, second["1.weight"])
    # The BatchNorm has no affine parameters: z is only normalised over the batch.
    assert model.encoders[1][-1].weight is None


def test_each_width_is_decoded_by_its_own_decoder():
    torch.manual_seed(0)
    model = PCAAE((1, 4, 4), 8, 3).eval()
    x = torch.rand(10, 1, 4, 4)
    mse = pcaae_mse(model, x)
    z = model.encode(x)
    expected = ((model.decoders[1](z[:, :2]) - x) ** 2).mean()
    assert mse.shape == (3,) and torch.isclose(mse[1], expected.double(), atol=1e-6)
    assert model.decoders[2][0].in_features == 3
