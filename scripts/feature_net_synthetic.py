"""Short CPU training of DG-CNN's Feature-Net on synthetic capsule-body crops.

Poses come from real motion capture (anything `poseviz.data.load` reads; by default the CMU
BVH clips in ``../shared/data/cmu_bvh_acrnn`` beside the checkout, or set ``--data``). Each
sample takes a random frame, random bone-length scaling, a random camera (any yaw, -10 to
30 degrees of elevation, 3-6 m away) and renders a person crop with
`poseviz.data.synthetic.render_person_crop`; its 2D joints (heatmap pixels) and
self-occlusion labels are the targets. Train and test sets use disjoint clips.

The small Feature-Net config (2 stacks, 64 channels, 64 x 64 crops -> 16 x 16 heatmaps)
trains with the model's own stage (eq. 8, w_2D = 0.999, w_OC = 0.001) plus the same 2D term
on the first stack's heatmaps (intermediate supervision, Newell et al.), with RMSProp as in
§5.2 (lr 1e-3, cosine-decayed over the wall-clock budget), then reports on the test set:

- 2D error (mean per-joint distance, heatmap and crop pixels; also split into visible and
  occluded joints) against predicting the mean training pose for every image;
- occlusion balanced accuracy ``(TPR + TNR) / 2`` at p = 0.5 against always-visible (0.5).

    PYTHONPATH=. python3 scripts/feature_net_synthetic.py --minutes 4 [--data PATH] [--threads 2]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from poseviz.data import load
from poseviz.data.synthetic import heatmap_coordinates, render_person_crop
from poseviz.geometry import euler_to_matrix
from poseviz.losses import LossStage, integral_2d_loss
from poseviz.models import create_model
from poseviz.structures import Camera

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("POSEVIZ_SHARED_DATA", REPO.parent / "shared" / "data"))
SMALL = dict(
    stacks=2, channels=64, depth=2, image_size=(64, 64), occlusion_pool=4, occlusion_hidden=(128,)
)


def up_axis(joints: np.ndarray) -> np.ndarray:
    """Unit world vector along the body's vertical (the axis of the mean pelvis->head)."""
    v = np.nanmean(joints[:, 10] - joints[:, 0], axis=0)
    axis = np.zeros(3)
    k = int(np.argmax(np.abs(v)))
    axis[k] = np.sign(v[k])
    return axis


def random_view(joints: np.ndarray, up: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(J, 3)`` world joints -> camera frame: pelvis-centred, bones scaled by 0.85-1.15,
    turned to a random yaw and elevation, 3-6 m in front of the camera."""
    body = (joints - joints[0]) * rng.uniform(0.85, 1.15)
    # world -> a frame with y down (OpenCV) and the body's up along -y
    y = -up
    x = np.cross(y, [0, 0, 1.0] if abs(up[2]) < 0.9 else [1.0, 0, 0])
    x /= np.linalg.norm(x)
    z = np.cross(x, y)
    base = np.stack([x, y, z])
    yaw, pitch = rng.uniform(-np.pi, np.pi), np.radians(rng.uniform(-10, 30))
    R = np.asarray(euler_to_matrix(np.array([pitch, yaw, 0.0]), "XYZ", degrees=False))
    cam = body @ (R @ base).T
    return cam + np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.2, 0.2), rng.uniform(3, 6)])


def render_set(frames, n: int, size: tuple[int, int], seed: int, desc: str) -> dict:
    rng = np.random.default_rng(seed)
    camera = Camera(id="cam", width=1000, height=1000, fx=1100, fy=1100, cx=500, cy=500)
    hm = (size[0] // 4, size[1] // 4)
    images, coords, occ = [], [], []
    for _ in tqdm(range(n), desc=desc, leave=False):
        joints, up = frames[int(rng.integers(len(frames)))]
        out = render_person_crop(random_view(joints, up, rng), camera, size=size, rng=rng)
        images.append(out.image)
        coords.append(heatmap_coordinates(out.joints_2d, size, hm))
        occ.append(~out.visible)
    return {
        "image": torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div_(255),
        "keypoints_2d_heatmap": torch.from_numpy(np.stack(coords)).float(),
        "occlusion": torch.from_numpy(np.stack(occ)[:, None].astype(np.float32)),
    }


def pose_frames(sequences) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for seq in sequences:
        if seq.skeleton != "h36m17" or seq.joints_3d is None:
            continue
        up = up_axis(seq.joints_3d)
        for t in range(0, seq.num_frames, 4):
            if np.isfinite(seq.joints_3d[t]).all():
                out.append((seq.joints_3d[t], up))
    return out


def evaluate(model, data: dict, mean_pose: torch.Tensor, batch: int = 100) -> dict:
    model.eval()
    pred, prob = [], []
    with torch.no_grad():
        for i in range(0, len(data["image"]), batch):
            out = model(image=data["image"][i : i + batch])
            pred.append(out.keypoints_2d[:, 0])
            prob.append(out.occlusion)
    pred, prob = torch.cat(pred), torch.cat(prob)
    target, occ = data["keypoints_2d_heatmap"], data["occlusion"].bool()
    dist = (pred - target).norm(dim=-1)
    err = dist.mean()
    mean_err = (mean_pose - target).norm(dim=-1).mean()
    occ_j = occ[:, 0]
    hit = prob > 0.5
    tpr = (hit & occ).sum() / occ.sum().clamp_min(1)
    tnr = (~hit & ~occ).sum() / (~occ).sum().clamp_min(1)
    model.train()
    return {
        "err_2d": float(err),
        "err_mean_pose": float(mean_err),
        "err_visible": float(dist[~occ_j].mean()),
        "err_occluded": float(dist[occ_j].mean()),
        "balanced_accuracy": float((tpr + tnr) / 2),
        "tpr": float(tpr),
        "tnr": float(tnr),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA / "cmu_bvh_acrnn")
    ap.add_argument("--minutes", type=float, default=4.0, help="training wall-clock budget")
    ap.add_argument("--train", type=int, default=4000, help="training images")
    ap.add_argument("--test", type=int, default=500, help="test images")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    sequences = sorted(load(args.data), key=lambda s: s.name)
    test_seqs = sequences[::5]  # every fifth clip held out
    train_seqs = [s for s in sequences if s not in test_seqs]
    size = SMALL["image_size"]
    t0 = time.perf_counter()
    train = render_set(pose_frames(train_seqs), args.train, size, args.seed, "render train")
    test = render_set(pose_frames(test_seqs), args.test, size, args.seed + 1, "render test")
    render_s = time.perf_counter() - t0

    model = create_model("dgcnn_feature_net", **SMALL)
    (stage,) = [LossStage.from_dict(s) for s in model.training_stages()]
    criterion = stage.build()
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-8, weight_decay=1e-4)
    mean_pose = train["keypoints_2d_heatmap"].mean(0)
    print(
        f"data: {len(train_seqs)} train / {len(test_seqs)} test clips, {args.train} / {args.test} "
        f"images of {size[0]}x{size[1]} rendered in {render_s:.0f} s; occluded joints "
        f"{float(train['occlusion'].mean()):.1%} (train), {float(test['occlusion'].mean()):.1%} (test)"
    )
    print(
        f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, "
        f"loss {stage.weights}, {args.threads} thread(s)"
    )
    before = evaluate(model, test, mean_pose)

    steps, epoch_perm, pos = 0, torch.randperm(args.train), 0
    deadline = time.perf_counter() + 60 * args.minutes
    bar = tqdm(desc="train", unit="step")
    while time.perf_counter() < deadline:
        if pos + args.batch > args.train:
            epoch_perm, pos = torch.randperm(args.train), 0
        idx = epoch_perm[pos : pos + args.batch]
        pos += args.batch
        batch = {k: v[idx] for k, v in train.items()}
        frac = 1 - (deadline - time.perf_counter()) / (60 * args.minutes)
        for group in opt.param_groups:
            group["lr"] = 1e-3 * 0.5 * (1 + math.cos(math.pi * min(max(frac, 0.0), 1.0)))
        out = model(image=batch["image"])
        result = criterion(out, batch)
        total = result.total + sum(
            0.999 * integral_2d_loss(h, batch["keypoints_2d_heatmap"])
            for h in out.aux["intermediate_heatmaps"]
        )
        opt.zero_grad()
        total.backward()
        opt.step()
        steps += 1
        bar.update()
        bar.set_postfix({k: f"{float(v):.3f}" for k, v in result.parts.items()})
    bar.close()
    after = evaluate(model, test, mean_pose)
    scale = 4  # crop pixels per heatmap pixel
    print(
        f"trained {steps} steps ({steps * args.batch / args.train:.1f} epochs) in {args.minutes} min"
    )
    print(f"{'':28s}{'before':>10s}{'after':>10s}")
    print(f"{'2D error (heatmap px)':28s}{before['err_2d']:10.2f}{after['err_2d']:10.2f}")
    print(
        f"{'2D error (crop px)':28s}{before['err_2d'] * scale:10.2f}{after['err_2d'] * scale:10.2f}"
    )
    print(f"{'  visible joints':28s}{before['err_visible']:10.2f}{after['err_visible']:10.2f}")
    print(f"{'  occluded joints':28s}{before['err_occluded']:10.2f}{after['err_occluded']:10.2f}")
    print(
        f"{'mean-pose 2D error (hm px)':28s}{after['err_mean_pose']:10.2f}{after['err_mean_pose']:10.2f}"
    )
    print(
        f"{'occlusion balanced acc.':28s}{before['balanced_accuracy']:10.3f}"
        f"{after['balanced_accuracy']:10.3f}   (always-visible: 0.500; "
        f"TPR {after['tpr']:.3f}, TNR {after['tnr']:.3f})"
    )
    print(f"2D error / mean-pose error: {after['err_2d'] / after['err_mean_pose']:.2f}")


if __name__ == "__main__":
    main()
