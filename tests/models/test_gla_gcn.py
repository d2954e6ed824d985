"""GLA-GCN (seed 003 §3): partitions and normalisation of A_k against loops written from the
definitions, the adaptive graph convolution (eqs. 2-3) and the individually connected layer
(eqs. 5-7) against per-joint loops, the strided shrink 243 -> 1, the sequence head wired to
the ``gla_global`` loss, and parameter counts beside Table 5."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from poseviz.losses import build_loss
from poseviz.models import count_parameters, create_model
from poseviz.models.gla_gcn import (
    AdaptiveGraphConv,
    GLAGCNConfig,
    IndividuallyConnected,
    partition_adjacency,
)
from poseviz.skeleton import get_skeleton

H36M = get_skeleton("h36m17")


def _reference_partitions(skeleton, centre, alpha):
    """Loops over joint pairs: hop distances by Floyd-Warshall on the bone graph, subsets
    by comparing the distances, symmetric normalisation by the whole graph's degree."""
    J = skeleton.num_joints
    d = np.full((J, J), np.inf)
    np.fill_diagonal(d, 0)
    for p, c in skeleton.bones:
        d[p, c] = d[c, p] = 1
    for k, i, j in itertools.product(range(J), repeat=3):
        d[i, j] = min(d[i, j], d[i, k] + d[k, j])
    bar = np.zeros((3, J, J))
    for i in range(J):
        for j in range(J):
            if i == j:
                bar[0, i, j] = 1
            elif d[i, j] == 1:
                if d[j, centre] < d[i, centre]:
                    bar[1, i, j] = 1
                elif d[j, centre] > d[i, centre]:
                    bar[2, i, j] = 1
                else:
                    bar[0, i, j] = 1
    out = np.zeros_like(bar)
    degree = [sum(bar[k, i, j] for k in range(3) for j in range(J)) + alpha for i in range(J)]
    for k, i, j in itertools.product(range(3), range(J), range(J)):
        out[k, i, j] = bar[k, i, j] / np.sqrt(degree[i] * degree[j])
    return out


@pytest.mark.parametrize("centre", [0, 7, 8])
def test_partitions_match_the_definition(centre):
    got = partition_adjacency(H36M, centre, alpha=0.001)
    np.testing.assert_allclose(got, _reference_partitions(H36M, centre, 0.001), rtol=1e-6)


def test_root_centre_partitions_are_parents_and_children():
    """Centred on the pelvis, the centripetal neighbour of a joint is its parent and the
    centrifugal ones are its children (the inward/outward split of the authors' code)."""
    bar = partition_adjacency(H36M, 0, alpha=0.0) > 0
    for i, p in enumerate(H36M.parents):
        assert bar[1, i].nonzero()[0].tolist() == ([] if p < 0 else [p])
        children = [c for c, q in enumerate(H36M.parents) if q == i]
        assert bar[2, i].nonzero()[0].tolist() == children
    assert (bar[0] == np.eye(17, dtype=bool)).all()


def test_adaptive_graph_conv_matches_equations_2_and_3():
    """f_out[:, t, i] = sum_k sum_j (A_k + B_k + C_k)[i, j] W_k f_in[:, t, j] + b, with
    C_k = softmax_j(sum_{c,t} theta_k[c, t, i] phi_k[c, t, j] / (e T)), then batch norm,
    the residual and ReLU; written as loops over joints."""
    torch.manual_seed(0)
    A = torch.from_numpy(partition_adjacency(H36M, 0))
    conv = AdaptiveGraphConv(4, 6, A, embedding_ratio=2, dropout=0.0).double()
    with torch.no_grad():
        conv.B.normal_(0, 0.1)
        conv.bn.weight.uniform_(0.5, 1.5)
        conv.bn.bias.normal_()
        conv.bn.running_mean.normal_()
        conv.bn.running_var.uniform_(0.5, 2)
        for m in conv.down:
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.uniform_(0.5, 2)
    conv.eval()
    x = torch.randn(2, 4, 5, 17, dtype=torch.float64)
    with torch.no_grad():
        got = conv(x)
        N, C, T, J = x.shape
        K, e = 3, conv.embedding
        W = conv.weight.weight[:, :, 0, 0].reshape(6, K, C)  # (out, k, in)
        ref = torch.zeros(N, 6, T, J, dtype=torch.float64)
        for n in range(N):
            theta = conv.theta(x[n : n + 1])[0].reshape(K, e, T, J)
            phi = conv.phi(x[n : n + 1])[0].reshape(K, e, T, J)
            for k in range(K):
                S = torch.zeros(J, J, dtype=torch.float64)
                for i, j in itertools.product(range(J), range(J)):
                    S[i, j] = (theta[k, :, :, i] * phi[k, :, :, j]).sum() / (e * T)
                Ck = torch.softmax(S, dim=1)
                adj = conv.A[k] + conv.B[k] + Ck
                for i in range(J):
                    for j in range(J):
                        ref[n, :, :, i] += adj[i, j] * (W[:, k, :] @ x[n, :, :, j])
            ref[n] += conv.weight.bias[:, None, None]
        bn = conv.bn
        ref = (ref - bn.running_mean[None, :, None, None]) / torch.sqrt(
            bn.running_var[None, :, None, None] + bn.eps
        ) * bn.weight[None, :, None, None] + bn.bias[None, :, None, None]
        ref = torch.relu(ref + conv.down(x))
    torch.testing.assert_close(got, ref)


def test_adaptive_graph_conv_initialisation():
    A = torch.from_numpy(partition_adjacency(H36M, 0))
    conv = AdaptiveGraphConv(2, 8, A)
    assert torch.equal(conv.B, torch.zeros(3, 17, 17))  # B_k starts at 0 (paper)
    assert conv.theta.weight.abs().sum() > 0 and conv.phi.weight.abs().sum() > 0
    C = conv.similarity(torch.randn(3, 2, 5, 17))
    assert C.shape == (3, 3, 17, 17)
    torch.testing.assert_close(C.sum(-1), torch.ones(3, 3, 17))


@pytest.mark.parametrize("mix", [0.0, 0.3, 1.0])
def test_individually_connected_layer_matches_equations_5_to_7(mix):
    torch.manual_seed(1)
    layer = IndividuallyConnected(5, 17, mix)
    v = torch.randn(4, 5, 17)
    got = layer(v)
    ref = torch.zeros(4, 17, 3)
    for i in range(17):
        unshared = v[:, :, i] @ layer.unshared_weight[i] + layer.unshared_bias[i]  # eq. 5
        shared = v[:, :, i] @ layer.shared.weight.T + layer.shared.bias  # eq. 6
        ref[:, i] = mix * unshared + (1 - mix) * shared  # eq. 7
    torch.testing.assert_close(got, ref)
    # joint i's output depends on joint i's features only
    v2 = v.clone()
    v2[:, :, 4] += 1
    changed = (layer(v2) - got).abs().sum(dim=(0, 2)).nonzero().flatten().tolist()
    assert changed == [4]


def test_strided_modules_shrink_243_to_1():
    torch.manual_seed(0)
    model = create_model("gla_gcn_t243", channels=8, dropout=0.0).eval()
    lengths = []
    for module in model.strided:
        module.register_forward_hook(lambda m, i, o: lengths.append(o.shape[2]))
    with torch.no_grad():
        out = model(torch.randn(1, 243, 17, 2))
    assert lengths == [81, 27, 9, 3, 1]
    assert out.pose_3d.shape == (1, 1, 17, 3)


def test_sequence_head_feeds_the_global_loss():
    """The reconstructed 3D sequence is aux["sequence_3d"] (B, T, J, 3) and GLA-GCN's
    stage-1 loss (eq. 4 + eq. 8) trains both heads."""
    torch.manual_seed(0)
    model = create_model(
        "gla_gcn_t243_c96_seq", channels=8, filter_widths=(3, 3), global_blocks=1
    ).train()
    x = torch.randn(2, 9, 17, 2)
    out = model(x)
    assert out.aux["sequence_3d"].shape == (2, 9, 17, 3)
    assert torch.equal(out.aux["sequence_3d"][..., 0, :], torch.zeros(2, 9, 3))
    batch = {"pose_3d": torch.randn(2, 1, 17, 3), "pose_3d_sequence": torch.randn(2, 9, 17, 3)}
    result = build_loss("gla_gcn_stage1")(out, batch)
    result.total.backward()
    assert set(result.parts) == {"gla_global", "gla_local"}
    assert model.sequence_head.gcn.weight.weight.grad.abs().sum() > 0
    assert model.head.shared.weight.grad.abs().sum() > 0
    assert (
        "sequence_3d" not in create_model("gla_gcn_t27", channels=8)(torch.randn(2, 27, 17, 2)).aux
    )


def test_centre_joint_changes_the_partitions():
    a = create_model("gla_gcn_t27", channels=8)
    b = create_model("gla_gcn_t27", channels=8, centre_joint="spine")
    assert not torch.equal(a.expand.gcn.A, b.expand.gcn.A)
    with pytest.raises(ValueError, match="no joint 'nope'"):
        create_model("gla_gcn_t27", channels=8, centre_joint="nope")


def test_clip_length_must_be_the_receptive_field():
    model = create_model("gla_gcn_t27", channels=8)
    with pytest.raises(ValueError, match=r"\(B, 27, 17, C\)"):
        model(torch.zeros(1, 26, 17, 2))


# seed 003 Table 5, and the counts of this implementation (see the module docstring for
# the differences: one bias per AGCN weight instead of one per partition, and the unshared
# layer of eq. 5 beside the shared one)
TABLE_5 = {
    "gla_gcn_t27": (0.84e6, 847_679),
    "gla_gcn_t81": (1.10e6, 1_099_685),
    "gla_gcn_t243": (1.35e6, 1_351_691),
    "gla_gcn_t243_c96_seq": (1.88e6, 1_858_709),
    "gla_gcn_t243_c512_seq": (48.64e6, 48_480_706),
}


@pytest.mark.parametrize("name", sorted(TABLE_5))
def test_parameter_counts_beside_table_5(name):
    published, ours = TABLE_5[name]
    with torch.device("meta"):
        model = create_model(name)
    n = count_parameters(model)
    assert n == ours
    assert abs(n - published) / published < 0.012


def test_parameter_count_formula_of_one_block():
    """AGCN(C, C, 1) has B_k (3 J^2), theta and phi (2 x (C e + e) x 3), W (3 C^2 + C), the
    graph BN (2C), the temporal conv (9 C^2 + C) and its BN (2C)."""
    C, J = 96, 17
    e = C // 4
    expected = 3 * J * J + 2 * 3 * (C * e + e) + 3 * C * C + C + 2 * C + 9 * C * C + C + 2 * C
    model = create_model("gla_gcn_t27")
    assert count_parameters(model.strided[0].first) == expected


def test_bad_configs_raise():
    with pytest.raises(ValueError, match="mix"):
        GLAGCNConfig(mix=1.5)
    with pytest.raises(ValueError, match="temporal_kernel"):
        GLAGCNConfig(temporal_kernel=4)
