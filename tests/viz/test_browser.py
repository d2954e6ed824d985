"""What a person sees: the compare app served live, driven in headless Chromium.

Marked slow (each test starts a server and a browser). Skipped where Chromium or the
playwright package is missing.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from poseviz.data.keypoints import write_keypoints
from tests.viz.browser import (
    JS_DRAWN_VIEWS,
    REPO,
    browser_missing,
    chromium,
    drawn_fraction,
    served_app,
    view_locator,
    wait_for_views,
    warm,
)
from tests.viz.conftest import synthetic_motion

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing())),
]

APP = REPO / "apps" / "compare.py"
BLUE = np.array([66, 133, 244])  # left joints in "left / right" colours


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The compare app on a synthetic walk with the two stand-in models shown first (no
    trained models: an empty models folder)."""
    tmp = tmp_path_factory.mktemp("app")
    data = tmp / "walk.npz"
    write_keypoints(data, synthetic_motion(120, z_up=True), "h36m17", fps=25)
    (tmp / "models").mkdir()
    args = ["--source", str(data), "--models", str(tmp / "models")]
    args += ["--model", "perturbed GT: bias 40 mm", "--model", "perturbed GT: jitter 25 mm"]
    with served_app(APP, args, log=tmp / "serve.log") as url:
        warm(url)
        yield url


def _blue_share(png: bytes) -> float:
    import cv2

    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[..., ::-1].astype(int)
    return float((np.abs(img - BLUE).sum(-1) < 60).mean())


def _frame_of(view) -> int:
    return int(view.get_attribute("data-frame"))


def test_page_loads_and_draws_skeletons(app_url):
    with chromium() as page:
        page.goto(app_url)
        wait_for_views(page, 3)
        views = view_locator(page)
        assert views.count() == 3
        for i in range(3):
            assert drawn_fraction(views.nth(i).screenshot()) > 0.01, f"view {i} is empty"
        assert page.errors == []


def test_scrubbing_and_keys_change_the_picture(app_url):
    with chromium() as page:
        page.goto(app_url)
        wait_for_views(page, 3)
        view = view_locator(page).nth(1)
        before = view.screenshot()
        assert _frame_of(view) == 0
        slider = page.locator("input.poseviz-slider")
        slider.fill("60")  # scrub (a range input's value, as dragging sets it)
        page.wait_for_function(
            "() => window.__poseviz.frames && Object.values(window.__poseviz.frames).includes(60)"
        )
        assert _frame_of(view) == 60
        assert view.screenshot() != before
        page.locator(".poseviz-frame-label").click()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        assert all(_frame_of(view_locator(page).nth(i)) == 63 for i in range(3))
        page.keyboard.press("Shift+ArrowLeft")
        assert _frame_of(view) == 53
        assert page.locator(".poseviz-frame-label").inner_text() == "frame 53 / 119"
        assert page.errors == []


def test_colour_mode_changes_joint_colours(app_url):
    with chromium() as page:
        page.goto(app_url)
        wait_for_views(page, 3)
        view = view_locator(page).nth(1)  # a model's view
        error_mode = _blue_share(view.screenshot())
        page.locator("select").filter(has_text="per-joint error").select_option(
            label="left / right"
        )
        page.wait_for_timeout(1500)
        side_mode = _blue_share(view.screenshot())
        assert error_mode < 1e-4 < side_mode  # blue left limbs appear only in left/right mode
        assert page.errors == []


def test_a_model_can_be_added(app_url):
    with chromium() as page:
        page.goto(app_url)
        wait_for_views(page, 3)
        page.locator("select").filter(has_text="perturbed GT: bias 40 mm").first.select_option(
            label="perturbed GT: depth 80 mm + noise"
        )
        page.get_by_role("button", name="Add model").click()
        wait_for_views(page, 4)
        assert page.evaluate(JS_DRAWN_VIEWS) == 4
        assert page.get_by_text("perturbed GT: depth 80 mm + noise").count() >= 1
        assert page.errors == []


def test_a_malformed_path_shows_a_message_and_the_page_stays_usable(app_url, tmp_path):
    bad = tmp_path / "broken.c3d"
    bad.write_bytes(b"this is not a c3d file")
    with chromium() as page:
        page.goto(app_url)
        wait_for_views(page, 3)
        page.locator("input[placeholder='/path/to/data.c3d']").fill(str(bad))
        page.get_by_role("button", name="Open", exact=True).click()
        message = page.get_by_text("could not open broken.c3d").first
        message.wait_for(timeout=30000)
        assert message.is_visible()
        # still usable: the views step and a model can be added
        page.locator(".poseviz-frame-label").click()
        page.keyboard.press("ArrowRight")
        assert _frame_of(view_locator(page).nth(0)) == 1
        page.locator("select").filter(has_text="perturbed GT: bias 40 mm").first.select_option(
            label="perturbed GT: depth 80 mm + noise"
        )
        page.get_by_role("button", name="Add model").click()
        wait_for_views(page, 4)
        # an upload of a malformed file: a clear message too
        page.locator("input[type=file]").set_input_files(
            files=[{"name": "walk.bvh", "mimeType": "text/plain", "buffer": b"HIERARCHY\nROOT"}]
        )
        page.get_by_text("could not read upload 'walk.bvh'").first.wait_for(timeout=30000)
        assert [e for e in page.errors if "broken" not in e and "walk.bvh" not in e] == []


def test_vtk_renderer_draws_too(tmp_path):
    """The optional vtk.js (WebGL) backend of the same views."""
    data = tmp_path / "walk.npz"
    write_keypoints(data, synthetic_motion(60, z_up=True), "h36m17", fps=25)
    (tmp_path / "models").mkdir()
    args = ["--source", str(data), "--models", str(tmp_path / "models"), "--renderer", "vtk"]
    args += ["--model", "perturbed GT: bias 40 mm"]
    with served_app(APP, args, log=tmp_path / "serve.log") as url, chromium() as page:
        page.goto(url)
        wait_for_views(page, 2, timeout_ms=120000)
        views = view_locator(page)
        assert views.first.get_attribute("data-renderer") == "vtk"
        page.wait_for_timeout(1000)
        assert drawn_fraction(views.nth(1).screenshot()) > 0.01
        assert page.errors == []


@pytest.mark.skipif(
    importlib.util.find_spec("mediapipe") is None,
    reason="MediaPipe (the [video] extra, scripts/setup.sh) is not installed",
)
def test_a_video_is_detected_lifted_and_drawn(shared_data, tmp_path, monkeypatch):
    """The Sports2D demo video typed into the source box: detection with a progress
    caption, MediaPipe's own 3D drawn, the no-ground-truth notes, the video frame."""
    video = shared_data / "sports2d_demo" / "demo.mp4"
    data = tmp_path / "walk.npz"
    write_keypoints(data, synthetic_motion(60, z_up=True), "h36m17", fps=25)
    (tmp_path / "models").mkdir()
    monkeypatch.setenv("POSEVIZ_CACHE_DIR", str(tmp_path / "cache"))  # detection runs
    args = ["--source", str(data), "--models", str(tmp_path / "models"), "--max-frames", "45"]
    args += ["--model", "perturbed GT: bias 40 mm"]
    with served_app(APP, args, log=tmp_path / "serve.log") as url, chromium() as page:
        page.goto(url)
        wait_for_views(page, 2)
        page.locator("input[placeholder='/path/to/data.c3d']").fill(str(video))
        page.get_by_role("button", name="Open", exact=True).click()
        page.get_by_text("detecting people in demo.mp4").first.wait_for(timeout=60000)
        # the stand-in needs ground truth and gives way to MediaPipe's own 3D
        page.wait_for_function(f"() => ({JS_DRAWN_VIEWS})() === 1", timeout=180000)
        page.get_by_text("No 3D ground truth").first.wait_for(timeout=30000)
        view = view_locator(page).first
        page.wait_for_timeout(1000)
        assert drawn_fraction(view.screenshot()) > 0.01, "the video's 3D view is empty"
        assert page.locator(".poseviz-frame-label").inner_text() == "frame 0 / 44"
        page.locator(".bk-tab", has_text="Image").click()  # Bokeh's tab headers have no ARIA role
        page.get_by_text("video (video").first.wait_for(timeout=30000)  # the panel's caption
        assert page.locator("img").count() >= 1
        assert page.errors == []
