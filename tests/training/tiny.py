"""A tiny registered model and a tiny dataset that follow the batch contract, for the
training-engine tests (importable as the config plugin ``tests.training.tiny``)."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import torch
from torch import nn
from torch.utils.data import Dataset

from poseviz.data.batch import check_batch
from poseviz.models.registry import _REGISTRY, LiftingModel, LiftOutput, register_model
from poseviz.training.data import derive_seed

J = 17


@dataclass
class TinyConfig:
    num_joints: int = J
    hidden: int = 32
    dropout: float = 0.0
    batchnorm: bool = False


class TinyLifter(LiftingModel):
    """Per-frame MLP: (B, T, J, 2) normalised 2D -> (B, T, J, 3) root-relative metres."""

    receptive_field = 1
    predicts = "sequence"

    def __init__(self, config: TinyConfig) -> None:
        super().__init__(config)
        h = config.hidden
        layers: list[nn.Module] = [nn.Linear(J * 2, h)]
        if config.batchnorm:
            layers.append(nn.BatchNorm1d(h))
        layers += [nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(h, J * 3)]
        self.encoder = nn.Sequential(*layers[:-1])
        self.head = layers[-1]

    def forward(self, keypoints_2d: torch.Tensor, **inputs: torch.Tensor) -> LiftOutput:
        self.check_keypoints(keypoints_2d)
        B, T = keypoints_2d.shape[:2]
        x = keypoints_2d[..., :2].reshape(B * T, -1)
        y = self.head(self.encoder(x)).reshape(B, T, J, 3)
        return LiftOutput(y - y[:, :, :1], {})


class TinyEnergyLifter(LiftingModel):
    """A pose-net plus a critic trained in alternation, following the contract of
    `poseviz.models.scotl` (``training_steps`` / ``step_loss``) with a plain energy."""

    receptive_field = 1
    predicts = "sequence"

    def __init__(self, config: TinyConfig) -> None:
        super().__init__(config)
        self.pose_net = TinyLifter(config)
        self.critic = nn.Sequential(nn.Linear(J * 5, 16), nn.Tanh(), nn.Linear(16, 1))
        self.critic_calls = 0

    def forward(self, keypoints_2d: torch.Tensor, **inputs: torch.Tensor) -> LiftOutput:
        return self.pose_net(keypoints_2d)

    def energy(self, keypoints_2d: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        self.critic_calls += 1
        z = torch.cat([keypoints_2d[..., :2], pose], dim=-1).flatten(2)
        return self.critic(z).squeeze(-1).mean(-1)  # (B,)

    def training_steps(self) -> tuple[dict, ...]:
        return (
            {"name": "critic", "train": ["critic"], "repeat": 2},
            {"name": "pose", "train": ["pose_net"]},
        )

    def step_loss(self, name: str, batch: dict, criterion=None):
        x, gt = batch["keypoints_2d"], batch["pose_3d"]
        if name == "critic":
            with torch.no_grad():
                output = self.pose_net(x)
            pred = output.pose_3d
            task = (pred - gt).norm(dim=-1).mean((1, 2))
            margin = torch.relu(task - (self.energy(x, pred) - self.energy(x, gt))).mean()
            return SimpleNamespace(total=margin, parts={"margin": margin.detach()}, output=output)
        output = self.pose_net(x)
        task = criterion(output, batch).total
        energy = self.energy(x, output.pose_3d).mean()
        return SimpleNamespace(
            total=task + 0.01 * energy,
            parts={"task": task.detach(), "energy": energy.detach()},
            output=output,
        )


class TinyStaged(TinyLifter):
    """TinyLifter declaring its own two-stage schedule (as Lifting by Image does)."""

    def training_stages(self) -> tuple[dict, ...]:
        return (
            {"name": "a", "steps": 2, "weights": {"mpjpe": 1.0}},
            {"name": "b", "steps": 3, "weights": {"velocity": 1.0}, "freeze": ["encoder"]},
        )


@dataclass
class WindowConfig:
    num_joints: int = J
    frames: int = 5
    centre: bool = True


class WindowProbe(LiftingModel):
    """Deterministic probes of the sliding window (no parameters that matter):

    centre mode: pose = (mean over the window of x, y; the window's x at its first frame)
    plus aux ``occlusion_logits`` (B, 1, J) and ``attention`` (B, J, 4, 4);
    sequence mode: pose = (x, y, position of the frame in its window).
    """

    def __init__(self, config: WindowConfig) -> None:
        super().__init__(config)
        self.scale = nn.Parameter(torch.ones(()))
        self.receptive_field = config.frames
        self.predicts = "centre" if config.centre else "sequence"

    def forward(self, keypoints_2d: torch.Tensor, **inputs: torch.Tensor) -> LiftOutput:
        self.check_keypoints(keypoints_2d)
        B, T, _, _ = keypoints_2d.shape
        x = keypoints_2d[..., :2] * self.scale
        if self.predicts == "centre":
            pose = torch.cat([x.mean(1, keepdim=True), x[:, :1, :, :1]], -1)
            aux = {
                "occlusion_logits": x[:, :1, :, 0],
                "attention": x[:, 0, :, :1, None].expand(B, J, 4, 4),
            }
            return LiftOutput(pose, aux)
        pos = torch.arange(T, dtype=x.dtype).view(1, T, 1, 1).expand(B, T, J, 1)
        return LiftOutput(torch.cat([x, pos], -1), {"position": pos[..., 0]})


def _register() -> None:
    # kind "test": list_models() (and so the registry-parametrised model tests) skip them
    if "tiny_lifter" not in _REGISTRY:
        register_model("window_probe", config=WindowConfig(), kind="test")(WindowProbe)
        register_model("tiny_staged", config=TinyConfig(), kind="test")(TinyStaged)
        register_model("tiny_lifter", config=TinyConfig(), kind="test")(TinyLifter)
        register_model("tiny_energy", config=TinyConfig(), kind="test")(TinyEnergyLifter)
        register_model("tiny_lifter_bn", config=TinyConfig(batchnorm=True), kind="test")(TinyLifter)


_register()


def _bone_pose(g: torch.Generator) -> torch.Tensor:
    """A random root-relative (J, 3) pose in metres (random walk along the h36m17 tree)."""
    parents = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
    pose = torch.zeros(J, 3)
    for j in range(1, J):
        step = torch.randn(3, generator=g) * 0.1
        pose[j] = pose[parents[j]] + step
    return pose


class TinyDataset(Dataset):
    """``n`` clips of ``frames`` frames: 3D root-relative poses and their perspective
    projection (camera 4 m away), with per-(seed, epoch, index) 2D jitter as augmentation."""

    def __init__(self, n: int, frames: int = 4, *, seed: int = 0, jitter: float = 0.01) -> None:
        g = torch.Generator().manual_seed(1000 + seed)
        base = torch.stack([_bone_pose(g) for _ in range(n)])  # (n, J, 3)
        drift = torch.randn(n, frames, J, 3, generator=g) * 0.01
        self.pose = base[:, None] + drift
        self.pose = self.pose - self.pose[:, :, :1]
        self.seed, self.jitter, self.epoch = seed, jitter, 0

    def __len__(self) -> int:
        return len(self.pose)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, i: int) -> dict:
        pose = self.pose[i]
        cam = pose + torch.tensor([0.0, 0.0, 4.0])
        kp = cam[..., :2] / cam[..., 2:] * 2.0
        if self.jitter:
            g = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch, i))
            kp = kp + torch.randn(kp.shape, generator=g) * self.jitter
        return {"keypoints_2d": kp, "pose_3d": pose, "action": f"act{i % 3}"}


def make_datasets(config, *, model, seed):
    """Data source ``tests.training.tiny:make_datasets`` (options n_train, n_val, frames)."""
    o = config.options
    train = TinyDataset(o.get("n_train", 128), o.get("frames", 4), seed=seed)
    val = TinyDataset(o.get("n_val", 32), o.get("frames", 4), seed=seed + 1, jitter=0.0)
    return train, val


def check_item(item: dict) -> None:
    batch = {k: v[None] if isinstance(v, torch.Tensor) else [v] for k, v in item.items()}
    check_batch(batch)
