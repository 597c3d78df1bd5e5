"""MoSS's shortcut for ``elbo_complete_path=False`` (decode only the weighted step of each window) gives
the loss of decoding every step, and draws the same random numbers."""

from __future__ import annotations

import torch

from methods.moss.config import MossConfig
from methods.moss.encoder import Posterior
from methods.moss.inference import TaskInference


def test_last_step_reconstruction_matches_every_step() -> None:
    torch.manual_seed(0)
    cfg = MossConfig(num_classes=3, latent_dim=4, embed_dim=16, gru_hidden=16, decoder_hidden=(32,))
    inf = TaskInference(5, 2, cfg, contrastive=False, device=torch.device("cpu"))
    m, w = 6, 9
    feats = torch.randn(m, w, 2 * 5 + 2 + 1)
    post = Posterior(torch.randn(m, w, 3, 4), torch.randn(m, w, 3, 4).clamp(-3, 3), torch.randn(m, w, 3))
    at = torch.tensor([0, 8, 3, 5, 8, 1])
    torch.manual_seed(1)
    full = inf._reconstruction(feats, post)
    state_full = torch.get_rng_state()
    torch.manual_seed(1)
    short = inf._reconstruction(feats, post, at)
    assert torch.equal(torch.get_rng_state(), state_full)
    rows = torch.arange(m)
    torch.testing.assert_close(short[rows, at], full[rows, at], rtol=1e-5, atol=1e-6)
    mask = torch.ones(m, w, dtype=torch.bool)
    mask[rows, at] = False
    assert torch.all(short[mask] == 0)
