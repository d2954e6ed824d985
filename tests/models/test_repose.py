"""RePOSE dual-stream transformer (seed 001 §3.2): parameter count and MACs against formulas
written from the architecture (and Table 2), attention against a per-head loop, which axis
each attention mixes, attention maps for the app, stream fusion."""

from __future__ import annotations

import pytest
import torch

from poseviz.models import count_macs, count_parameters, create_model
from poseviz.models.repose import RePOSEConfig, STAttention


def _parameters(D=256, depth=5, r=4, rep=512, T=243, J=17, C=3):
    """Per stream and axis: qkv (3D^2 + 3D), projection (D^2 + D), MLP (2 r D^2 + r D + D),
    two layer norms (4D); two axes per stream, two streams and a fusion (2D*2 + 2) per
    layer; plus embeddings, final norm, representation and head."""
    axis = (3 * D * D + 3 * D) + (D * D + D) + (2 * r * D * D + r * D + D) + 4 * D
    layer = 2 * 2 * axis + (2 * D * 2 + 2)
    return (C * D + D) + J * D + T * D + depth * layer + 2 * D + (D * rep + rep) + (rep * 3 + 3)


def _macs(D=256, depth=5, r=4, rep=512, T=243, J=17, C=3):
    """Linear layers: tokens x in x out; attention: QK^T and AV, 2 * S * N^2 * D for S
    sequences of N tokens (spatial: T frames of J joints; temporal: J joints of T frames)."""
    N = T * J
    per_axis = N * (4 * D * D + 2 * r * D * D)
    attention = 2 * T * J * J * D + 2 * J * T * T * D
    layer = 2 * 2 * per_axis + 2 * attention + N * 2 * D * 2
    return N * C * D + depth * layer + N * D * rep + N * rep * 3


def test_paper_configuration_size_and_cost():
    with torch.device("meta"):
        model = create_model("repose")
    n = count_parameters(model)
    assert n == _parameters() == 16_001_549
    assert round(n / 1e6, 1) == 16.0  # Table 2
    macs = count_macs(model)
    assert macs == _macs()
    assert round(macs / 1e9, 1) == 71.0  # Table 2 says 43.7 G: see the report


def test_small_configuration_size_and_cost():
    with torch.device("meta"):
        model = create_model("repose_small")
    assert count_parameters(model) == _parameters(D=64, depth=4, r=2, rep=128)
    assert count_macs(model) == _macs(D=64, depth=4, r=2, rep=128)


@pytest.mark.parametrize("axis", ["spatial", "temporal"])
def test_attention_matches_a_per_head_loop(axis):
    torch.manual_seed(0)
    attn = STAttention(8, 2, axis).double().eval()
    x = torch.randn(2, 5, 4, 8, dtype=torch.float64)  # (B, T, J, D)
    y, w = attn(x, need_weights=True)
    y_fast, none = attn(x)
    assert none is None
    torch.testing.assert_close(y, y_fast)
    ref = torch.zeros_like(x)
    weights = []
    seqs = x if axis == "spatial" else x.transpose(1, 2)  # (B, S, N, D)
    for b in range(2):
        rows = []
        for s in range(seqs.shape[1]):
            tokens = seqs[b, s]  # (N, D)
            q, k, v = (tokens @ attn.qkv.weight.T + attn.qkv.bias).split(8, dim=-1)
            heads, maps = [], []
            for h in range(2):
                sl = slice(4 * h, 4 * h + 4)
                a = torch.softmax(q[:, sl] @ k[:, sl].T / 2.0, dim=-1)  # sqrt(4) = 2
                heads.append(a @ v[:, sl])
                maps.append(a)
            rows.append(torch.cat(heads, -1) @ attn.proj.weight.T + attn.proj.bias)
            weights.append(sum(maps) / 2)
        out = torch.stack(rows)
        ref[b] = out if axis == "spatial" else out.transpose(0, 1)
    torch.testing.assert_close(y, ref)
    torch.testing.assert_close(w.reshape(-1, *w.shape[-2:]), torch.stack(weights))


def test_each_attention_mixes_only_its_axis():
    """Changing one token (frame 2, joint 3) changes the spatial attention's output on all of
    frame 2 only, and the temporal attention's output on all of joint 3 only."""
    torch.manual_seed(0)
    x = torch.randn(1, 6, 5, 8)
    x2 = x.clone()
    x2[0, 2, 3] += 1.0
    with torch.no_grad():
        spatial = STAttention(8, 2, "spatial").eval()
        temporal = STAttention(8, 2, "temporal").eval()
        ds = (spatial(x2)[0] - spatial(x)[0]).abs().sum(-1)[0] > 0  # (T, J)
        dt = (temporal(x2)[0] - temporal(x)[0]).abs().sum(-1)[0] > 0
    expected_s = torch.zeros(6, 5, dtype=torch.bool)
    expected_s[2] = True
    expected_t = torch.zeros(6, 5, dtype=torch.bool)
    expected_t[:, 3] = True
    assert torch.equal(ds, expected_s) and torch.equal(dt, expected_t)


def test_attention_maps_and_stream_weights_in_aux():
    torch.manual_seed(0)
    model = create_model(
        "repose", dim=16, depth=2, num_heads=2, dim_rep=16, max_frames=12, mlp_ratio=2.0
    ).eval()
    x = torch.randn(2, 7, 17, 3)
    with torch.no_grad():
        plain = model(x)
        full = model(x, return_attention=True)
    torch.testing.assert_close(plain.pose_3d, full.pose_3d)
    assert "spatial_attention" not in plain.aux
    s, t = full.aux["spatial_attention"], full.aux["temporal_attention"]
    assert s.shape == (2, 2, 2, 7, 17, 17) and t.shape == (2, 2, 2, 17, 7, 7)
    torch.testing.assert_close(s.sum(-1), torch.ones(s.shape[:-1]))
    torch.testing.assert_close(t.sum(-1), torch.ones(t.shape[:-1]))
    w = plain.aux["stream_weights"]
    assert w.shape == (2, 2, 7, 17, 2)
    torch.testing.assert_close(w, torch.full_like(w, 0.5))  # fusion starts at the mean


def test_shorter_clips_and_missing_confidence():
    torch.manual_seed(0)
    model = create_model("repose_small", max_frames=20, depth=1).eval()
    xy = torch.randn(1, 9, 17, 2)
    with torch.no_grad():
        a = model(xy).pose_3d
        b = model(torch.cat([xy, torch.ones(1, 9, 17, 1)], -1)).pose_3d
    assert a.shape == (1, 9, 17, 3)
    torch.testing.assert_close(a, b)  # no confidence channel = confidence 1
    with pytest.raises(ValueError, match=r"T <= 20"):
        model(torch.zeros(1, 21, 17, 3))


def test_mean_fusion_option_has_no_fusion_weights():
    model = create_model("repose_small", learned_fusion=False, depth=1, max_frames=4)
    assert all(layer.fuse is None for layer in model.layers)
    w = model(torch.randn(1, 4, 17, 3)).aux["stream_weights"]
    assert torch.equal(w, torch.full_like(w, 0.5))


def test_bad_configs_raise():
    with pytest.raises(ValueError, match="divide"):
        RePOSEConfig(dim=30, num_heads=8)
    with pytest.raises(ValueError, match="in_channels"):
        RePOSEConfig(in_channels=5)
