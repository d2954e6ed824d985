"""PSIM+: the perceptual pose similarity of seed ``000_f1d3e10faaa5ea8f`` §3.

Every similarity has the form of SSIM's luminance term (the paper's [25])::

    sim(a, b) = 2 <a, b> / (|a|^2 + |b|^2) = 1 - |a - b|^2 / (|a|^2 + |b|^2)

which is 1 for identical vectors, lies in [-1, 1], and is taken as 1 when both vectors are
zero. On root-relative poses ``R`` (reference, ground truth) and ``T`` (target, prediction):

* positional ``P`` (eq. 1): ``sim`` of the flattened root-relative joint vectors ``(3J,)``;
* structural ``S`` (eq. 2): for each body part with origin ``o`` and joints ``j_1..j_n`` the
  hop vectors ``l_h = j_h - o``, each divided by ``u = |l_1|`` (the part's first hop, so the
  pose's own scale cancels); the five parts (left arm 8 -> 11, 12, 13; right arm
  8 -> 14, 15, 16; left leg 0 -> 4, 5, 6; right leg 0 -> 1, 2, 3; spine 0 -> 7, 8, 9, 10 in
  ``h36m17``) are concatenated into one ``(48,)`` vector per pose and compared with ``sim``;
* sensitivity ``V`` (eq. 3): per frame the joints whose error ``e_k = |R_k - T_k|`` is at
  least the frame's MPJPE ``delta = mean_k e_k`` (all J joints, the root's zero error
  included, as MPJPE counts it) form the sensitive set ``A``; ``V`` is ``P`` on the joints in
  ``A`` only. ``A`` is returned as ``sensitive_mask``; it is a hard selection, so gradients
  flow through the selected joints' positions, not through the selection;
* ``PSIM+ = w_p P + w_s S + w_v V`` (eq. 4), weights ``(0.6, 0.15, 0.25)`` (§5.2).

Temporal PSIM+ (eq. 5) on sequences ``(..., T, J, 3)``: a window ``Z(t)`` of ``window``
frames centred on frame ``t``; at the sequence edges the window is truncated to the frames
that exist (``|Z(t)|`` counts only those). Within it the root-relative poses are
mean-subtracted, ``D(z) = X(z) - mean_{z' in Z(t)} X(z')``, and::

    w_t(t) = 1 - (1 / |Z(t)|) sum_{z in Z(t)} |D_R(z) - D_T(z)|_2        (metres)
    PSIM+_temporal = (1 / |T|) sum_t w_t(t) * PSIM+(R(t), T(t))

where ``|.|_2`` is the norm of the whole flattened ``(3J,)`` pose difference and
``PSIM+(R(t), T(t))`` is the spatial PSIM+ of frame ``t``. ``w_t`` is not clipped: it is at
most 1 and drops below 0 only when the poses' motion within a window differs by more than
1 m on average. The paper gives no window length; the default is 9 frames (0.18 s at
Human3.6M's 50 fps: short enough that ``D`` isolates tremor and jitter).

Variants. Written literally (``variant="literal"``, the default) each similarity pools all
coordinates before dividing, so typical errors leave it close to 1 (50 mm everywhere on a
body of ~0.5 m joints gives ``P ~ 0.995``). ``variant="per_joint"`` averages the same
``sim`` over joints instead: ``P`` = mean over non-root joints of ``sim(R_k, T_k)``; ``S`` =
mean over the 16 normalised hop vectors of ``sim``; ``V`` = mean of the per-joint ``sim``
over the sensitive non-root joints; ``w_t`` = 1 - the window mean of the mean per-joint
norm ``|D_R,k - D_T,k|``. Which variant agrees best with people is for the MOS study to
decide.

The seeds do not define the earlier PSIM of [4]; nothing here pretends to. The P+S
ablation of PSIM+ (Table 1, ``PSIM+ (P+S)``) stands in for it, labelled as such:
``ps_ablation = (w_p P + w_s S) / (w_p + w_s)``, pooled over time like the score.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch

from poseviz.metrics.functional._common import (
    chunked,
    pose_pair,
    resolve_layout,
    to_output,
)
from poseviz.skeleton import Skeleton

__all__ = [
    "DEFAULT_WEIGHTS",
    "DEFAULT_WINDOW",
    "VARIANTS",
    "PSIMPlusResult",
    "psim_plus",
]

DEFAULT_WEIGHTS = (0.6, 0.15, 0.25)
DEFAULT_WINDOW = 9
VARIANTS = ("literal", "per_joint")
# frames per chunk: temporaries stay in the CPU cache, and each call's fixed cost is spread
# over more frames (8192 was ~25 % slower for spatial PSIM+ on 2 cores)
_CHUNK_FRAMES = 16384


@dataclass(frozen=True)
class PSIMPlusResult:
    """The output of `psim_plus` (torch tensors, or numpy arrays for numpy input).

    Shapes for spatial input ``(..., J, 3)``: every field ``(...,)`` (one value per pose)
    except ``sensitive_mask`` ``(..., J)``. For temporal input ``(..., T, J, 3)``: ``score``,
    ``ps_ablation`` and ``avg_pool`` are ``(...,)`` (one value per sequence), the per-frame
    fields are ``(..., T)`` and ``sensitive_mask`` is ``(..., T, J)``.

    Attributes:
        score: PSIM+ (eq. 4 per pose; eq. 5 per sequence when temporal).
        positional, structural, sensitivity: per-frame P (eq. 1), S (eq. 2), V (eq. 3).
        sensitive_mask: per-frame sensitive joints (error >= the frame's MPJPE), bool.
        frame_score: per-frame spatial PSIM+ ``w_p P + w_s S + w_v V``.
        ps_ablation: the P+S ablation ``(w_p P + w_s S) / (w_p + w_s)`` (Table 1's
            ``PSIM+ (P+S)``), pooled like ``score``; it stands in for the earlier PSIM, which
            the seeds do not define.
        temporal_weight: per-frame ``w_t`` (eq. 5), ``None`` for spatial input.
        avg_pool: temporal only: the plain frame average of ``frame_score`` (Table 1's
            ``avg. pool`` row), ``None`` for spatial input.
        weights, variant, window: the settings used (``window`` is ``None`` when spatial).
    """

    score: Any
    positional: Any
    structural: Any
    sensitivity: Any
    sensitive_mask: Any
    frame_score: Any
    ps_ablation: Any
    temporal_weight: Any = None
    avg_pool: Any = None
    weights: tuple[float, float, float] = DEFAULT_WEIGHTS
    variant: str = "literal"
    window: int | None = None

    def _replace(self, **changes: Any) -> PSIMPlusResult:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return PSIMPlusResult(**values)


_PART_CACHE: dict[tuple, dict[str, Any]] = {}


def _part_indices(skeleton: Skeleton, fn: str) -> dict[str, Any]:
    """Hop layout of ``skeleton``'s body parts: the hop joints, for each origin other than
    the root a 0/1 mask of the hops that start there, the part of each hop and the index of
    each part's first hop."""
    key = (skeleton.name, tuple(skeleton.body_parts.items()))
    if key not in _PART_CACHE:
        if not skeleton.body_parts:
            raise ValueError(
                f"{fn}: layout {skeleton.name!r} defines no body parts; convert the poses to "
                "'h36m17' (poseviz.skeleton.convert) first"
            )
        origins, joints, part_of, first = [], [], [], []
        for p, name in enumerate(skeleton.body_parts):
            first.append(len(joints))
            for o, j in skeleton.hops(name):
                origins.append(o)
                joints.append(j)
                part_of.append(p)
        # Root-relative hops from the root are the joints themselves; hops from another
        # origin subtract that origin's position (one masked subtraction per origin).
        masks = {
            o: torch.tensor([float(x == o) for x in origins])
            for o in sorted(set(origins))
            if o != skeleton.root
        }
        lo = joints[0]
        contiguous = joints == list(range(lo, lo + len(joints)))
        _PART_CACHE[key] = {
            "joints": torch.tensor(joints),
            "slice": slice(lo, lo + len(joints)) if contiguous else None,
            "origin_masks": masks,
            "part_of": torch.tensor(part_of),
            "first": torch.tensor(first),
        }
    return _PART_CACHE[key]


def _sim(half_num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``2 * half_num / den``, and 1 where ``den == 0`` (both vectors zero)."""
    tiny = torch.finfo(den.dtype).tiny
    return torch.where(den > 0, 2 * half_num / den.clamp_min(tiny), torch.ones_like(den))


def _check_weights(weights: Any, fn: str) -> tuple[float, float, float]:
    try:
        w = tuple(float(v) for v in weights)
    except (TypeError, ValueError):
        raise ValueError(
            f"{fn}: weights must be three numbers (w_p, w_s, w_v), got {weights!r}"
        ) from None
    if len(w) != 3 or not all(torch.isfinite(torch.tensor(w))):
        raise ValueError(
            f"{fn}: weights must be three finite numbers (w_p, w_s, w_v), got {weights!r}"
        )
    return w  # type: ignore[return-value]


def _planes(x: torch.Tensor) -> torch.Tensor:
    """``(N, J, 3)`` -> contiguous coordinate planes ``(3, N, J)``: per-joint sums over the
    three coordinates become elementwise adds, much faster on a CPU than reducing a
    trailing axis of size 3."""
    return x.permute(2, 0, 1).contiguous()


def _csum(p: torch.Tensor) -> torch.Tensor:
    """Sum of a ``(3, ...)`` plane stack over its coordinates."""
    return p[0] + p[1] + p[2]


def _frame_components(
    ref: torch.Tensor,
    tgt: torch.Tensor,
    *,
    parts: dict[str, Any],
    root: int,
    variant: str,
    weights: tuple[float, float, float],
) -> tuple[torch.Tensor, ...]:
    """Per-pose P, S, V, mask, PSIM+ and P+S ablation for ``(N, J, 3)`` poses."""
    R, T = _planes(ref), _planes(tgt)
    r = R - R[..., root : root + 1]
    t = T - T[..., root : root + 1]
    with torch.no_grad():  # the sensitive set is a hard selection
        err = _csum((r - t).square()).sqrt()
        mask = err >= err.mean(-1, keepdim=True)
    dot = _csum(r * t)
    norms = _csum(r * r + t * t)

    if parts["slice"] is not None:
        h_r, h_t = r[..., parts["slice"]], t[..., parts["slice"]]
    else:
        idx = parts["joints"].to(ref.device)
        h_r, h_t = r.index_select(-1, idx), t.index_select(-1, idx)
    for o, m in parts["origin_masks"].items():
        m = m.to(ref)
        h_r = h_r - m * r[..., o : o + 1]
        h_t = h_t - m * t[..., o : o + 1]
    h_dot = _csum(h_r * h_t)
    h_nr = _csum(h_r * h_r)
    h_nt = _csum(h_t * h_t)
    part_of, first = parts["part_of"].to(ref.device), parts["first"].to(ref.device)
    eps2 = torch.finfo(ref.dtype).eps ** 2  # guards a zero-length first hop
    u_r2 = h_nr.index_select(-1, first).clamp_min(eps2).index_select(-1, part_of)
    u_t2 = h_nt.index_select(-1, first).clamp_min(eps2).index_select(-1, part_of)
    h_dot = h_dot / (u_r2 * u_t2).sqrt()
    h_norms = h_nr / u_r2 + h_nt / u_t2

    m = mask.to(ref.dtype)
    if variant == "literal":
        P = _sim(dot.sum(-1), norms.sum(-1))
        S = _sim(h_dot.sum(-1), h_norms.sum(-1))
        V = _sim((dot * m).sum(-1), (norms * m).sum(-1))
    else:
        nonroot = torch.ones(ref.shape[1], dtype=ref.dtype, device=ref.device)
        nonroot[root] = 0
        per_joint = _sim(dot, norms)
        P = (per_joint * nonroot).sum(-1) / nonroot.sum()
        S = _sim(h_dot, h_norms).mean(-1)
        mv = m * nonroot
        V = (per_joint * mv).sum(-1) / mv.sum(-1).clamp_min(1)
    w_p, w_s, w_v = weights
    score = w_p * P + w_s * S + w_v * V
    ps = (w_p * P + w_s * S) / (w_p + w_s) if w_p + w_s != 0 else (P + S) / 2
    return P, S, V, mask, score, ps


def _temporal_weight(
    ref: torch.Tensor, tgt: torch.Tensor, *, root: int, window: int, variant: str
) -> torch.Tensor:
    """``w_t`` (eq. 5) for ``(B, T, J, 3)`` sequences -> ``(B, T)``."""
    B, T, J = ref.shape[:3]
    e = (ref - ref[..., root : root + 1, :]) - (tgt - tgt[..., root : root + 1, :])
    e = e.reshape(B, T, J * 3)  # literal: one norm over the whole flattened pose
    h = window // 2
    e_pad = torch.nn.functional.pad(e, (0, 0, h, h)) if h else e
    idx = torch.arange(T, device=ref.device)
    count = ((idx + h).clamp_max(T - 1) - (idx - h).clamp_min(0) + 1).to(ref.dtype)  # |Z(t)|
    mean = e_pad[:, 0:T].clone()
    for o in range(1, 2 * h + 1):
        mean = mean + e_pad[:, o : o + T]
    mean = mean / count[:, None]
    tiny = torch.finfo(ref.dtype).tiny  # sqrt'(0) is infinite; a tiny floor keeps grads finite
    total = ref.new_zeros((B, T))
    for o in range(-h, h + 1):
        d = e_pad[:, h + o : h + o + T] - mean
        if variant == "literal":
            n = d.square().sum(-1).clamp_min(tiny).sqrt()
        else:
            n = _csum(d.reshape(B, T, J, 3).permute(3, 0, 1, 2).square())
            n = n.clamp_min(tiny).sqrt().mean(-1)
        lo = min(T, max(0, -o))  # frames t in [lo, hi) have a frame t + o
        hi = max(lo, min(T, T - o))
        if lo == 0 and hi == T:
            total = total + n
        else:
            total = total + torch.nn.functional.pad(n[:, lo:hi], (lo, T - hi))
    return 1 - total / count


def psim_plus(
    reference: Any,
    target: Any,
    *,
    weights: tuple[float, float, float] = DEFAULT_WEIGHTS,
    temporal: bool = False,
    window: int | None = None,
    variant: str = "literal",
    layout: str | Skeleton = "h36m17",
) -> PSIMPlusResult:
    """PSIM+ between reference (ground-truth) and target (predicted) poses, with every
    component (seed 000 §3; formulas in this module's docstring).

    Args:
        reference, target: ``(..., J, 3)`` poses in metres (any origin: each pose is made
            root-relative), or ``(..., T, J, 3)`` sequences when ``temporal``. Torch in ->
            torch out (differentiable, any device); numpy in -> numpy out.
        weights: ``(w_p, w_s, w_v)``, default ``(0.6, 0.15, 0.25)`` (§5.2).
        temporal: pool over time with the weight ``w_t`` of eq. 5; axis -3 is time.
        window: temporal window length in frames, odd (default 9). Only with ``temporal``.
        variant: ``"literal"`` (the paper's pooled form) or ``"per_joint"`` (similarities
            averaged per joint / per hop; see the module docstring).
        layout: joint layout with the five body parts (``"h36m17"``).

    Returns:
        `PSIMPlusResult` with ``.score``, ``.positional``, ``.structural``,
        ``.sensitivity``, ``.sensitive_mask``, ``.frame_score``, ``.ps_ablation`` and, when
        temporal, ``.temporal_weight`` and ``.avg_pool``. Scores are dimensionless, 1 for
        identical poses.

    Example:
        >>> import torch
        >>> gt = torch.randn(4, 17, 3)
        >>> r = psim_plus(gt, gt)
        >>> bool((r.score == 1).all()), r.sensitive_mask.shape
        (True, torch.Size([4, 17]))
    """
    fn = "psim_plus"
    if variant not in VARIANTS:
        raise ValueError(f"{fn}: variant must be one of {VARIANTS}, got {variant!r}")
    w = _check_weights(weights, fn)
    if not temporal and window is not None:
        raise ValueError(f"{fn}: window is only used with temporal=True")
    if temporal:
        window = DEFAULT_WINDOW if window is None else window
        if isinstance(window, bool) or not isinstance(window, int) or window < 1 or window % 2 == 0:
            raise ValueError(
                f"{fn}: window must be a positive odd number of frames, got {window!r}"
            )
    R, T, numpy_out = pose_pair(
        reference,
        target,
        fn,
        names=("reference", "target"),
        min_frames_axis=-3 if temporal else None,
    )
    J = R.shape[-2]
    skeleton = resolve_layout(layout, J, fn)
    parts = _part_indices(skeleton, fn)
    root = skeleton.root
    kw = dict(parts=parts, root=root, variant=variant, weights=w)

    if not temporal:
        lead = R.shape[:-2]
        out = chunked(
            lambda a, b: _frame_components(a, b, **kw),
            (R.reshape(-1, J, 3), T.reshape(-1, J, 3)),
            _CHUNK_FRAMES,
        )
        P, S, V, mask, score, ps = out
        result = PSIMPlusResult(
            score=score.reshape(lead),
            positional=P.reshape(lead),
            structural=S.reshape(lead),
            sensitivity=V.reshape(lead),
            sensitive_mask=mask.reshape(*lead, J),
            frame_score=score.reshape(lead),
            ps_ablation=ps.reshape(lead),
            weights=w,
            variant=variant,
        )
    else:
        lead, nT = R.shape[:-3], R.shape[-3]
        seqs = (R.reshape(-1, nT, J, 3), T.reshape(-1, nT, J, 3))

        def per_sequences(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, ...]:
            comps = _frame_components(a.reshape(-1, J, 3), b.reshape(-1, J, 3), **kw)
            P, S, V, mask, score, ps = (c.reshape(a.shape[0], nT, *c.shape[1:]) for c in comps)
            wt = _temporal_weight(a, b, root=root, window=window, variant=variant)
            return P, S, V, mask, score, ps, wt

        P, S, V, mask, score, ps, wt = chunked(per_sequences, seqs, max(1, _CHUNK_FRAMES // nT))
        result = PSIMPlusResult(
            score=(wt * score).mean(-1).reshape(lead),
            positional=P.reshape(*lead, nT),
            structural=S.reshape(*lead, nT),
            sensitivity=V.reshape(*lead, nT),
            sensitive_mask=mask.reshape(*lead, nT, J),
            frame_score=score.reshape(*lead, nT),
            ps_ablation=(wt * ps).mean(-1).reshape(lead),
            temporal_weight=wt.reshape(*lead, nT),
            avg_pool=score.mean(-1).reshape(lead),
            weights=w,
            variant=variant,
            window=window,
        )
    if numpy_out:
        result = result._replace(
            **{
                f.name: to_output(getattr(result, f.name), True)
                for f in fields(result)
                if isinstance(getattr(result, f.name), torch.Tensor)
            }
        )
    return result
