"""Parameters and FLOPs of the Models II families at their paper configs, beside the papers.

FLOPs come from `torch.utils.flop_counter.FlopCounterMode` on the meta device (shapes only,
nothing is computed), which counts a multiply-add as 2 FLOPs; papers often quote
multiply-adds as "FLOPs", so the MAC column (FLOPs / 2) is shown too.

- DG-CNN Lifting-Net: one input set of 40 frames (§5.5: ~1.5M parameters, ~2.5 GFLOPs).
- DG-CNN Feature-Net: one 256 x 256 crop (§5.5: ~32M parameters, ~45 GFLOPs).
- Lifting by Image: one 256 x 192 crop plus its 2D pose (the paper gives no cost; its
  HRNet-w32 encoder is replaced by Feature-Net's backbone).
- SCoTL-pose: the wrapper's inference cost minus the bare pose-net's (the paper: none).

    PYTHONPATH=. python3 benchmarks/model_costs.py
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from poseviz.models import create_model


def cost(name: str, inputs: dict, **overrides) -> tuple[float, float, float]:
    """(parameters in millions, GFLOPs, parameters of the inference path in millions)."""
    model = create_model(name, **overrides).eval().to("meta")
    meta = {k: torch.empty(v, device="meta") for k, v in inputs.items()}
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(**meta)
    total = sum(p.numel() for p in model.parameters()) / 1e6
    inference = getattr(model, "export_pose_net", lambda: model)()
    used = sum(p.numel() for p in inference.parameters()) / 1e6
    return total, counter.get_total_flops() / 1e9, used


def main() -> None:
    lift = {"keypoints_2d": (1, 40, 17, 2), "occlusion": (1, 40, 17)}
    rows = [
        ("DG-CNN Lifting-Net (40 frames)", "dgcnn_lifting_net", lift, (1.5, 2.5)),
        (
            "DG-CNN Feature-Net (256x256)",
            "dgcnn_feature_net",
            {"image": (1, 3, 256, 256)},
            (32, 45),
        ),
        (
            "Lifting by Image (256x192)",
            "lifting_by_image",
            {"keypoints_2d": (1, 1, 17, 2), "image": (1, 3, 256, 192)},
            None,
        ),
        ("SCoTL + DG-CNN Lifting-Net", "scotl+dgcnn_lifting_net", lift, None),
    ]
    header = f"{'model':38s}{'params (M)':>12s}{'GFLOPs':>10s}{'GMACs':>9s}   paper"
    print(header)
    print("-" * len(header))
    results = {}
    for label, name, inputs, paper in rows:
        params, gflops, used = cost(name, inputs)
        results[name] = (params, gflops, used)
        ref = f"~{paper[0]}M params, ~{paper[1]} GFLOPs" if paper else "not reported"
        print(f"{label:38s}{params:12.3f}{gflops:10.2f}{gflops / 2:9.2f}   {ref}")
    feat, lifting = results["dgcnn_feature_net"], results["dgcnn_lifting_net"]
    print(
        f"{'DG-CNN total (Feature-Net + Lifting)':38s}{feat[0] + lifting[0]:12.3f}"
        f"{feat[1] + lifting[1]:10.2f}{(feat[1] + lifting[1]) / 2:9.2f}   ~35M params, ~51 GFLOPs"
    )
    scotl = results["scotl+dgcnn_lifting_net"]
    print(
        f"\nSCoTL extra inference cost: {scotl[1] - lifting[1]:+.3f} GFLOPs, "
        f"{scotl[2] - lifting[0]:+.3f}M parameters on the inference path "
        f"(loss-net, training only: {scotl[0] - scotl[2]:.3f}M)"
    )


if __name__ == "__main__":
    main()
