"""The attention panel for Lifting by Image (seed ``004_55c22f0de0f62747``): where a
keypoint looks in the person crop, which image tokens the adaptive feature selection kept,
and how much attention goes to the background.

Inputs come from a `Prediction`'s ``aux`` (written by the model, see
`poseviz.models.lifting_by_image`): ``"attention"`` ``(T, J, h, w)`` per-keypoint attention
over the ``h x w`` image-token grid (each map sums to one), optionally ``"kept_tokens"``
``(T, h, w)`` bool (or ``(T, h * w)``) and ``"crop_box"`` ``(T, 4)`` ``x0, y0, x1, y1``
pixels of the crop in the camera image. Without ``crop_box`` the crop is the keypoints'
box as the model's crops are made (`poseviz.data.synthetic.person_box`, padding 0.25, the
input's aspect).

Background (the seed's appendix, "Definition of Background"): the crop area outside
circles of 30 pixels around every keypoint, in the model's input crop (``input_size``,
256 x 192 pixels in the paper; a prediction may record its own as ``aux["crop_size"]``
``(T, 2)``, and for other sizes the radius scales with the crop's height). The ratio is
`poseviz.metrics.functional.background_attention_ratio`; the seed reports its mean over
keypoints (73-75% for a plain transformer, 60-63% with pose-guided layers).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import panel as pn
import param

from poseviz.data.synthetic import person_box
from poseviz.metrics.functional import background_attention_ratio
from poseviz.skeleton import get_skeleton
from poseviz.viz.analysis import SequenceAnalysis
from poseviz.viz.image_panel import draw_keypoints, encode_jpeg

__all__ = ["INPUT_SIZE", "AttentionPanel", "kept_token_mask", "synthetic_crop_fn", "to_crop"]

INPUT_SIZE = (256, 192)  # the paper's person crop, (height, width) pixels
BACKGROUND_RADIUS = 30.0  # pixels of the crop (the seed's appendix)


def synthetic_crop_fn(sequence, camera_id: str, *, seed: int = 0):
    """``(frame, (height, width)) -> (H, W, 3) uint8 RGB``: the synthetic person crop an image
    model gets for that frame (`poseviz.data.synthetic.render_sample`, same seed, padding and
    size), so the attention is drawn over the very pixels the model saw."""
    from poseviz.data.synthetic import render_sample

    def crop(frame: int, size: tuple[int, int] = INPUT_SIZE) -> np.ndarray:
        img = render_sample(sequence, camera_id, int(frame), size=tuple(size), seed=seed)
        return (img["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)

    return crop


def kept_token_mask(kept: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """One frame's kept tokens as an ``(h, w)`` bool mask, from an ``(h, w)`` or ``(h * w,)``
    bool mask or an array of kept flat token indices."""
    k = np.asarray(kept)
    h, w = grid
    if k.dtype == bool:
        if k.size != h * w:
            raise ValueError(
                f"kept_tokens: expected {h * w} flags for a {h}x{w} grid, got {k.shape}"
            )
        return k.reshape(h, w)
    mask = np.zeros(h * w, dtype=bool)
    idx = k.astype(np.int64).ravel()
    if idx.size and (idx.min() < 0 or idx.max() >= h * w):
        raise ValueError(f"kept_tokens: token index outside 0..{h * w - 1}")
    mask[idx] = True
    return mask.reshape(h, w)


def to_crop(points: np.ndarray, box: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """``(..., 2)`` image pixels -> crop pixels for the crop ``box`` ``(x0, y0, x1, y1)``
    (pixel edges) resized to ``input_size`` ``(height, width)``: ``sx * (x - x0) - 0.5``
    with ``sx = width / (x1 - x0)`` (the convention of `poseviz.data.synthetic`)."""
    x0, y0, x1, y1 = np.asarray(box, dtype=np.float64)
    H, W = input_size
    scale = np.array([W / (x1 - x0), H / (y1 - y0)])
    return (np.asarray(points, dtype=np.float64) - [x0, y0]) * scale - 0.5


def _crop_image(image: np.ndarray, box: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    H, W = input_size
    sx, sy = W / (x1 - x0), H / (y1 - y0)
    A = np.array([[sx, 0, -x0 * sx - 0.5], [0, sy, -y0 * sy - 0.5]])
    return cv2.warpAffine(image, A, (W, H), flags=cv2.INTER_LINEAR, borderValue=(30, 30, 30))


class AttentionPanel(pn.viewable.Viewer):
    """A keypoint's attention over the person crop, the kept tokens and the background
    attention ratio, for the models whose predictions carry ``aux["attention"]``.

    Params:
        analysis: the `SequenceAnalysis`.
        frame: index into the analysed frames.
        model: a model with attention (None when no model has any).
        keypoint: the joint whose attention is shown (h36m17 name).
        show_kept: outline the kept tokens and dim the pruned ones.
    """

    analysis = param.ClassSelector(class_=SequenceAnalysis)
    frame = param.Integer(default=0, bounds=(0, None))
    model = param.Selector(default=None, objects=[], allow_None=True)
    keypoint = param.Selector(default="r_wrist", objects=list(get_skeleton("h36m17").names))
    show_kept = param.Boolean(default=True)
    image_fn = param.Callable(default=None, allow_None=True)
    crop_fn = param.Callable(
        default=None,
        allow_None=True,
        doc="(frame, (height, width)) -> the model's own uint8 input crop; else cut from image_fn",
    )
    input_size = param.Tuple(default=INPUT_SIZE, length=2, doc="the model's crop (height, width)")
    scale = param.Integer(default=2, bounds=(1, 4))

    def __init__(self, analysis: SequenceAnalysis, **params: Any) -> None:
        super().__init__(analysis=analysis, **params)
        self._pane = pn.pane.JPG(None, width=self.input_size[1] * self.scale)
        self._text = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._ready = False
        self._update_models()
        self._ready = True
        self._render()

    @property
    def models_with_attention(self) -> list[str]:
        return [n for n, r in self.analysis.models.items() if "attention" in r.aux]

    def _update_models(self) -> None:
        names = self.models_with_attention
        self.param.model.objects = names
        self.param.frame.bounds = (0, self.analysis.num_frames - 1)
        if self.model not in names:
            self.model = names[0] if names else None

    def frame_state(self) -> dict[str, Any] | None:
        """What the panel shows at ``frame``: ``attention`` ``(h, w)`` of the keypoint,
        ``kept`` ``(h, w)`` bool or None, ``box`` ``(4,)``, ``keypoints_crop`` ``(J, 2)``,
        ``ratio`` ``(J,)`` background ratios; None without a model."""
        if self.model is None:
            return None
        a = self.analysis
        aux = a.models[self.model].aux
        att = np.asarray(aux["attention"][self.frame], dtype=np.float64)
        if att.ndim == 4:  # (1, J, h, w): a model's single-frame axis
            att = att[0]
        J = get_skeleton("h36m17").num_joints
        if att.ndim != 3 or att.shape[0] != J:
            raise ValueError(
                f"model {self.model!r}: aux['attention'] must be (T, {J}, h, w), got "
                f"{np.shape(aux['attention'])}"
            )
        kp = a.keypoints_2d[self.frame]
        size = self.input_size
        if "crop_size" in aux:  # the model's input size, when its predictor recorded it
            size = tuple(int(v) for v in np.asarray(aux["crop_size"][self.frame]))
        H, W = size
        box = (
            np.asarray(aux["crop_box"][self.frame], dtype=np.float64)
            if "crop_box" in aux
            else person_box(kp, aspect=W / H)
        )
        kp_crop = to_crop(kp, box, size)
        radius = BACKGROUND_RADIUS * H / INPUT_SIZE[0]  # 30 px at the paper's 256 rows
        kept = None
        if "kept_tokens" in aux:
            kept = kept_token_mask(aux["kept_tokens"][self.frame], att.shape[1:])
        j = get_skeleton("h36m17").index(self.keypoint)
        return {
            "attention": att[j],
            "kept": kept,
            "box": box,
            "keypoints_crop": kp_crop,
            "ratio": background_attention_ratio(
                att, kp_crop, radius=radius, image_size=size
            ).per_keypoint,
            "size": size,
            "radius": radius,
            "joint": j,
        }

    def image(self) -> np.ndarray | None:
        """``(H, W, 3)`` uint8 RGB: the crop with the attention overlay, or None."""
        st = self.frame_state()
        if st is None:
            return None
        a = self.analysis
        seq_frame = int(a.frames[self.frame])
        H, W = st["size"]
        if self.crop_fn is not None:
            crop = np.asarray(self.crop_fn(seq_frame, (H, W)), np.uint8)
            if crop.shape[:2] != (H, W):
                crop = cv2.resize(crop, (W, H), interpolation=cv2.INTER_AREA)
        elif self.image_fn is not None:
            crop = _crop_image(np.asarray(self.image_fn(seq_frame), np.uint8), st["box"], (H, W))
        else:
            crop = np.full((H, W, 3), 40, np.uint8)
        att = st["attention"]
        heat = cv2.resize(
            (att / max(att.max(), 1e-12)).astype(np.float32),
            (W, H),
            interpolation=cv2.INTER_NEAREST,
        )
        color = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1]
        out = (0.45 * crop + 0.55 * color).astype(np.uint8)
        if self.show_kept and st["kept"] is not None:
            kept = cv2.resize(
                st["kept"].astype(np.uint8), (W, H), interpolation=cv2.INTER_NEAREST
            ).astype(bool)
            out[~kept] = (out[~kept] * 0.35).astype(np.uint8)
        for p in st["keypoints_crop"]:
            if np.isfinite(p).all():
                cv2.circle(
                    out,
                    tuple(int(v) for v in np.rint(p)),
                    int(round(st["radius"])),
                    (90, 90, 90),
                    1,
                    cv2.LINE_AA,
                )
        out = draw_keypoints(out, st["keypoints_crop"], thickness=2)
        x, y = np.rint(st["keypoints_crop"][st["joint"]]).astype(int)
        cv2.drawMarker(out, (int(x), int(y)), (0, 255, 255), cv2.MARKER_SQUARE, 14, 2)
        s = max(self.scale, round(2 * INPUT_SIZE[0] / H))  # small crops are shown larger
        return cv2.resize(out, (W * s, H * s), interpolation=cv2.INTER_NEAREST)

    def _render(self) -> None:
        try:
            img = self.image()
        except Exception as err:  # malformed aux arrays: say so, keep the page
            self._pane.object = None
            self._text.object = f"**attention unavailable:** {err}"
            return
        if img is None:
            self._pane.object = None
            self._text.object = (
                "No model here returns attention maps (Lifting by Image does: `aux['attention']`)."
            )
            return
        st = self.frame_state()
        self._pane.object = encode_jpeg(img, max_width=img.shape[1])
        kept = (
            "" if st["kept"] is None else f", kept tokens {int(st['kept'].sum())}/{st['kept'].size}"
        )
        self._text.object = (
            f"**{self.model}**, {self.keypoint}: background attention "
            f"**{100 * st['ratio'][st['joint']]:.0f}%** (mean over keypoints "
            f"{100 * st['ratio'].mean():.0f}%){kept}"
        )

    @param.depends(
        "frame", "model", "keypoint", "show_kept", "image_fn", "crop_fn", "input_size", watch=True
    )
    def _changed(self) -> None:
        if self._ready:
            self._render()

    @param.depends("analysis", watch=True)
    def _analysis_changed(self) -> None:
        self._ready = False
        self._update_models()
        self._ready = True
        self.frame = min(self.frame, self.analysis.num_frames - 1)
        self._render()

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(
                pn.widgets.Select.from_param(self.param.model, label="model", width=200),
                pn.widgets.Select.from_param(self.param.keypoint, label="keypoint", width=130),
                pn.widgets.Checkbox.from_param(self.param.show_kept, label="kept tokens"),
            ),
            self._text,
            self._pane,
        )
