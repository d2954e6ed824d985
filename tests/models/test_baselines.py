"""Martinez et al. and VideoPose3D: published parameter counts, the strided and dilated
forms agreeing (also against a sliding loop over windows), causality, frame independence."""

from __future__ import annotations

import pytest
import torch

from poseviz.models import count_macs, count_parameters, create_model
from poseviz.models.baselines import MartinezConfig, VideoPose3D, VideoPose3DConfig


def _videopose3d_parameters(widths, channels=1024, J=17, C=2):
    """VideoPose3D's parameter count written out from its architecture: expand conv (no
    bias) + BN, per later layer a dilated conv and a 1x1 conv (no bias) each with BN, and a
    1x1 shrink conv with bias."""
    n = J * C * widths[0] * channels + 2 * channels
    for w in widths[1:]:
        n += channels * channels * w + 2 * channels + channels * channels + 2 * channels
    return n + channels * J * 3 + J * 3


@pytest.mark.parametrize(
    ("name", "widths", "published"),
    [
        ("videopose3d_t27", (3, 3, 3), "8.56M"),
        ("videopose3d_t81", (3, 3, 3, 3), "12.75M"),
        ("videopose3d_t243", (3, 3, 3, 3, 3), "16.95M"),
    ],
)
def test_videopose3d_parameter_counts_equal_table_5(name, widths, published):
    with torch.device("meta"):
        model = create_model(name)
    n = count_parameters(model)
    assert n == _videopose3d_parameters(widths)
    assert f"{n / 1e6:.2f}M" == published  # seed 003 Table 5 (Pavllo et al.)
    assert model.receptive_field == 3 ** len(widths)


def test_videopose3d_pinned_counts():
    counts = {}
    for name in ("videopose3d_t27", "videopose3d_t81", "videopose3d_t243"):
        with torch.device("meta"):
            counts[name] = count_parameters(create_model(name))
    assert counts == {
        "videopose3d_t27": 8_555_571,
        "videopose3d_t81": 12_753_971,
        "videopose3d_t243": 16_952_371,
    }


def test_martinez_parameter_count():
    with torch.device("meta"):
        model = create_model("martinez_baseline")
    h, J = 1024, 17
    linear = (J * 2 * h + h) + 4 * (h * h + h) + (h * J * 3 + J * 3)
    batch_norm = 5 * 2 * h
    assert count_parameters(model) == linear + batch_norm == 4_296_755


def _trained_bn(model, T, steps=2):
    """Move batch-norm statistics away from (0, 1) so the eval checks see real statistics."""
    model.train()
    form = getattr(model, "form", None)
    for seed in range(steps):
        g = torch.Generator().manual_seed(seed)
        model(torch.randn(3, T, 17, 2, generator=g))
    if form is not None:
        model.form = form
    return model.eval()


@pytest.mark.parametrize("causal", [False, True])
def test_strided_and_dilated_forms_share_weights_and_agree(causal):
    torch.manual_seed(0)
    model = VideoPose3D(VideoPose3DConfig(filter_widths=(3, 5, 3), channels=24, causal=causal))
    _trained_bn(model, model.receptive_field)
    x = torch.randn(4, 45, 17, 2)
    with torch.no_grad():
        model.form = "strided"
        strided = model(x).pose_3d
        model.form = "dilated"
        dilated = model(x).pose_3d
    assert strided.shape == dilated.shape == (4, 1, 17, 3)
    torch.testing.assert_close(strided, dilated, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_dilated_form_equals_sliding_the_strided_form_over_windows(causal):
    """Evaluation on a long sequence (one dilated pass) equals a plain loop that runs the
    strided form on every receptive-field window."""
    torch.manual_seed(1)
    model = VideoPose3D(VideoPose3DConfig(filter_widths=(3, 3, 3), channels=16, causal=causal))
    _trained_bn(model, 27)
    x = torch.randn(2, 40, 17, 2)
    with torch.no_grad():
        model.form = "dilated"
        whole = model(x).pose_3d
        model.form = "strided"
        windows = torch.cat([model(x[:, t : t + 27]).pose_3d for t in range(40 - 27 + 1)], dim=1)
    assert whole.shape == (2, 14, 17, 3)
    torch.testing.assert_close(whole, windows, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("causal", "frame"), [(False, 13), (True, 26)])
def test_output_tracks_the_centre_or_last_frame(causal, frame):
    """With every convolution but the first tap-selected expand layer zeroed, only the
    residual path is left: the output then depends on the window's centre frame, or on its
    last frame when causal."""
    model = VideoPose3D(VideoPose3DConfig(filter_widths=(3, 3, 3), channels=8, causal=causal))
    model.eval()
    with torch.no_grad():
        for conv in (*model.convs, *model.pointwise):
            conv.weight.zero_()
        model.expand.weight.zero_()
        tap = 2 if causal else 1  # the last / centre tap of the width-3 expand layer
        model.expand.weight[:, :, tap] = torch.randn(8, 34)
    for form in ("strided", "dilated"):
        model.form = form
        x = torch.randn(1, 27, 17, 2, requires_grad=True)
        model(x).pose_3d.square().sum().backward()
        touched = x.grad.abs().sum(dim=(0, 2, 3)).nonzero().flatten().tolist()
        assert touched == [frame], form


def test_videopose3d_clip_length_errors():
    model = create_model("videopose3d_t27", channels=8).eval()
    with pytest.raises(ValueError, match=r"T >= 27"):
        model(torch.zeros(1, 26, 17, 2))
    model.form = "strided"
    with pytest.raises(ValueError, match=r"exactly the receptive field, \(B, 27, J, C\)"):
        model(torch.zeros(1, 30, 17, 2))
    model.form = "sideways"
    with pytest.raises(ValueError, match="form"):
        model(torch.zeros(1, 27, 17, 2))


def test_auto_form_picks_strided_only_on_receptive_field_clips(monkeypatch):
    model = create_model("videopose3d_t27", channels=8).eval()
    assert model._use_strided(27) and not model._use_strided(28)
    assert not create_model("videopose3d_t27", channels=8, strided_clips=False)._use_strided(27)


def test_martinez_lifts_every_frame_on_its_own():
    torch.manual_seed(0)
    model = create_model("martinez_baseline", hidden=32)
    _trained_bn(model, 5)
    x = torch.randn(2, 5, 17, 2)
    with torch.no_grad():
        base = model(x).pose_3d
        x2 = x.clone()
        x2[:, 3] += 1.0
        changed = model(x2).pose_3d
        single = model(x[:, 2:3]).pose_3d
    assert base.shape == (2, 5, 17, 3)
    frames_changed = (changed - base).abs().sum(dim=(0, 2, 3)).nonzero().flatten().tolist()
    assert frames_changed == [3]
    torch.testing.assert_close(single[:, 0], base[:, 2])


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (VideoPose3DConfig, {"filter_widths": (3, 4)}, "odd"),
        (VideoPose3DConfig, {"filter_widths": ()}, "odd"),
        (VideoPose3DConfig, {"dropout": 1.0}, "dropout"),
        (VideoPose3DConfig, {"in_channels": 4}, "in_channels"),
        (MartinezConfig, {"hidden": 0}, "hidden"),
    ],
)
def test_bad_configs_raise(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


@pytest.mark.parametrize(
    ("name", "mflops"),
    [("videopose3d_t27", 17.09), ("videopose3d_t81", 25.48), ("videopose3d_t243", 33.87)],
)
def test_videopose3d_cost_per_frame_matches_the_paper(name, mflops):
    """Sliding over a long sequence (dilated form), each extra frame costs one column of every
    layer; Pavllo et al. (2019) give 17.09 / 25.48 / 33.87 MFLOPs (2 x MACs) per frame."""
    with torch.device("meta"):
        model = create_model(name)
    T = model.receptive_field + 50
    macs = [
        count_macs(model, {"keypoints_2d": torch.empty(1, t, 17, 2, device="meta")})
        for t in (T, T + 1)
    ]
    per_frame = macs[1] - macs[0]
    layers = len(model.config.filter_widths) - 1
    assert per_frame == 34 * 3 * 1024 + layers * 4 * 1024 * 1024 + 1024 * 51
    assert round(2 * per_frame / 1e6, 2) == mflops
