// A 3D skeleton player on the vtk.js that Panel bundles (window.vtk).
//
// The whole sequence arrives once: `positions` (L, T, J, 3) float32 and `colors` (L, T, J, 3)
// uint8 for L layers (the skeleton and optional reference ghosts). Showing frame f copies
// nothing: each layer's points and colours become views into those arrays at offset
// f * J * 3, then one render. So a frame change costs O(J), whatever T is.
//
// Frames come from `model.frame` (a standalone view) or, when `group` is set, from
// `poseviz-frame` window events sent by the group's playback controls in the browser (no
// round trip to the server). Cameras with the same `link` follow each other in the browser
// and report to Python (`model.camera`) when an interaction ends.

// window.__poseviz: frames per group, draws per view (counts), firstDraw per view
// (performance.now() of its first picture), shared by tests and benchmarks/app.py.
const REGISTRY = (window.__poseviz = window.__poseviz || { frames: {}, draws: {}, cameras: {} });
REGISTRY.firstDraw = REGISTRY.firstDraw || {};

function whenVtk(timeoutMs) {
  return new Promise((resolve, reject) => {
    const ready = () => window.vtk && window.vtk.Rendering && window.vtk.Rendering.Misc;
    if (ready()) return resolve(window.vtk);
    const t0 = performance.now();
    const timer = setInterval(() => {
      if (ready()) {
        clearInterval(timer);
        resolve(window.vtk);
      } else if (performance.now() - t0 > timeoutMs) {
        clearInterval(timer);
        reject(new Error("vtk.js is not loaded: call pn.extension('vtk') before showing the view"));
      }
    }, 25);
  });
}

// Bokeh's NDArray subclasses break TypedArray.subarray (their constructor differs): view the
// same memory through plain typed arrays instead.
function plain(arr, Type) {
  if (!arr || arr.length === 0) return new Type(0);
  if (arr.buffer) return new Type(arr.buffer, arr.byteOffset, arr.length);
  return Type.from(arr);
}

function cellArray(edges, count) {
  // vtk cell layout: [2, a, b, 2, c, d, ...]
  const out = new Uint32Array(count * 3);
  for (let e = 0; e < count; e++) {
    out[3 * e] = 2;
    out[3 * e + 1] = edges[2 * e];
    out[3 * e + 2] = edges[2 * e + 1];
  }
  return out;
}

export function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "poseviz-skeleton";
  root.style.cssText = "position:relative;width:100%;height:100%;min-height:120px;overflow:hidden";
  const title = document.createElement("div");
  title.className = "poseviz-skeleton-title";
  title.style.cssText =
    "position:absolute;left:8px;top:6px;z-index:2;font:600 13px sans-serif;pointer-events:none;" +
    "color:#e8e8e8;text-shadow:0 0 3px #000";
  const container = document.createElement("div");
  container.style.cssText = "position:absolute;inset:0";
  root.append(container, title);
  el.appendChild(root);

  const state = { grw: null, layers: [], scene: null, shown: -1, numFrames: 0, joints: 0 };
  let disposed = false;
  const key = model.view_id;

  function setTitle() {
    title.textContent = model.title;
  }
  setTitle();

  whenVtk(20000)
    .then((vtk) => {
      if (disposed) return;
      build(vtk);
    })
    .catch((err) => {
      title.textContent = String(err.message || err);
      console.error(err);
    });

  function build(vtk) {
    const bg = model.background.map((c) => c / 255);
    const grw = vtk.Rendering.Misc.vtkGenericRenderWindow.newInstance({
      background: bg,
      listenWindowResize: false,
    });
    grw.setContainer(container);
    grw.resize();
    state.grw = grw;
    state.vtk = vtk;
    const renderer = grw.getRenderer();
    const interactor = grw.getInteractor();
    rebuildLayers();
    rebuildScene();
    applyCamera(model.camera, true);
    showFrame(currentFrame(), true);

    interactor.onAnimation(() => broadcastCamera(false));
    interactor.onEndAnimation(() => broadcastCamera(true));
    interactor.onMouseWheel(() => broadcastCamera(true));
    state.renderer = renderer;
  }

  function rebuildLayers() {
    const vtk = state.vtk;
    const renderer = state.grw.getRenderer();
    for (const layer of state.layers) {
      renderer.removeActor(layer.joints);
      renderer.removeActor(layer.bones);
    }
    state.layers = [];
    const shape = model.positions_shape; // [L, T, J]
    const [L, T, J] = shape;
    state.numFrames = T;
    state.joints = J;
    const edges = cellArray(model.edges, model.edges.length / 2);
    for (let l = 0; l < L; l++) {
      const poly = vtk.Common.DataModel.vtkPolyData.newInstance();
      const xyz = new Float32Array(J * 3);
      poly.getPoints().setData(xyz, 3);
      poly.getLines().setData(edges);
      const rgb = new Uint8Array(J * 3);
      const colors = vtk.Common.Core.vtkDataArray.newInstance({
        name: "colors",
        numberOfComponents: 3,
        values: rgb,
      });
      poly.getPointData().setScalars(colors);
      const style = model.layer_style[l] || {};
      const boneMapper = vtk.Rendering.Core.vtkMapper.newInstance({
        colorMode: 0,
        scalarVisibility: true,
      });
      boneMapper.setColorModeToDirectScalars();
      boneMapper.setInputData(poly);
      const bones = vtk.Rendering.Core.vtkActor.newInstance();
      bones.setMapper(boneMapper);
      bones.getProperty().setLineWidth(style.line_width || 4);
      bones.getProperty().setOpacity(style.opacity == null ? 1 : style.opacity);
      bones.getProperty().setLighting(false);
      const jointMapper = vtk.Rendering.Core.vtkSphereMapper.newInstance({
        radius: style.radius || 0.03,
        scalarVisibility: true,
      });
      jointMapper.setColorModeToDirectScalars();
      jointMapper.setInputData(poly);
      const joints = vtk.Rendering.Core.vtkActor.newInstance();
      joints.setMapper(jointMapper);
      joints.getProperty().setOpacity(style.opacity == null ? 1 : style.opacity);
      joints.setVisibility(style.radius !== 0);
      renderer.addActor(bones);
      renderer.addActor(joints);
      state.layers.push({ poly, xyz, rgb, colors, bones, joints });
    }
    state.shown = -1;
  }

  function rebuildScene() {
    const vtk = state.vtk;
    const renderer = state.grw.getRenderer();
    if (state.scene) renderer.removeActor(state.scene);
    state.scene = null;
    const pts = model.scene_points;
    if (!pts || pts.length === 0) return;
    const poly = vtk.Common.DataModel.vtkPolyData.newInstance();
    poly.getPoints().setData(Float32Array.from(pts), 3);
    poly.getLines().setData(cellArray(model.scene_lines, model.scene_lines.length / 2));
    poly.getPointData().setScalars(
      vtk.Common.Core.vtkDataArray.newInstance({
        name: "colors",
        numberOfComponents: 3,
        values: Uint8Array.from(model.scene_colors),
      })
    );
    const mapper = vtk.Rendering.Core.vtkMapper.newInstance();
    mapper.setColorModeToDirectScalars();
    mapper.setInputData(poly);
    const actor = vtk.Rendering.Core.vtkActor.newInstance();
    actor.setMapper(mapper);
    actor.getProperty().setLighting(false);
    actor.getProperty().setLineWidth(1);
    actor.setPickable(false);
    renderer.addActor(actor);
    state.scene = actor;
  }

  function currentFrame() {
    if (model.group && REGISTRY.frames[model.group] != null) return REGISTRY.frames[model.group];
    return model.frame;
  }

  function showFrame(frame, force) {
    if (!state.grw) return;
    const T = state.numFrames;
    const f = Math.max(0, Math.min(T - 1, frame | 0));
    if (f === state.shown && !force) return;
    const J = state.joints;
    const positions = plain(model.positions, Float32Array);
    const colors = plain(model.colors, Uint8Array);
    for (let l = 0; l < state.layers.length; l++) {
      const layer = state.layers[l];
      const off = ((l * T + f) * J) * 3;
      // copy J * 3 values into the arrays vtk.js owns (a subarray view would upload the
      // whole sequence's buffer)
      layer.xyz.set(positions.subarray(off, off + J * 3));
      layer.rgb.set(colors.subarray(off, off + J * 3));
      layer.poly.getPoints().modified();
      layer.colors.modified();
      layer.poly.modified();
    }
    state.shown = f;
    root.dataset.frame = String(f);
    state.grw.getRenderWindow().render();
    REGISTRY.draws[key] = (REGISTRY.draws[key] || 0) + 1;
    if (REGISTRY.firstDraw[key] == null) REGISTRY.firstDraw[key] = performance.now();
  }

  function cameraState() {
    const cam = state.grw.getRenderer().getActiveCamera();
    return {
      position: Array.from(cam.getPosition()),
      focal_point: Array.from(cam.getFocalPoint()),
      view_up: Array.from(cam.getViewUp()),
      view_angle: cam.getViewAngle(),
    };
  }

  function applyCamera(c, initial) {
    if (!state.grw || !c || !c.position) return;
    const renderer = state.grw.getRenderer();
    const cam = renderer.getActiveCamera();
    cam.setPosition(...c.position);
    cam.setFocalPoint(...c.focal_point);
    cam.setViewUp(...c.view_up);
    if (c.view_angle) cam.setViewAngle(c.view_angle);
    renderer.resetCameraClippingRange();
    if (!initial) state.grw.getRenderWindow().render();
  }

  function broadcastCamera(final) {
    if (!state.grw) return;
    const c = cameraState();
    if (model.link) {
      REGISTRY.cameras[model.link] = c;
      window.dispatchEvent(
        new CustomEvent("poseviz-camera", { detail: { link: model.link, source: key, camera: c } })
      );
    }
    if (final) model.camera = c;
  }

  const onFrameEvent = (ev) => {
    if (model.group && ev.detail.group === model.group) showFrame(ev.detail.frame);
  };
  const onCameraEvent = (ev) => {
    if (model.link && ev.detail.link === model.link && ev.detail.source !== key) {
      applyCamera(ev.detail.camera, false);
    }
  };
  window.addEventListener("poseviz-frame", onFrameEvent);
  window.addEventListener("poseviz-camera", onCameraEvent);

  model.on("frame", () => {
    if (!model.group) showFrame(model.frame);
  });
  model.on("group", () => showFrame(currentFrame()));
  model.on("title", setTitle);
  model.on(["positions", "positions_shape", "edges", "layer_style"], () => {
    if (!state.grw) return;
    rebuildLayers();
    showFrame(currentFrame(), true);
  });
  model.on("colors", () => showFrame(state.shown, true));
  model.on(["scene_points", "scene_lines", "scene_colors"], () => {
    if (!state.grw) return;
    rebuildScene();
    state.grw.getRenderWindow().render();
  });
  model.on("camera", () => {
    const c = model.camera;
    if (!state.grw || !c || !c.position) return;
    const now = cameraState();
    const same = ["position", "focal_point", "view_up"].every((k) =>
      now[k].every((v, i) => Math.abs(v - c[k][i]) < 1e-6)
    );
    if (!same) applyCamera(c, false);
  });
  model.on("background", () => {
    if (!state.grw) return;
    state.grw.getRenderer().setBackground(model.background.map((c) => c / 255));
    state.grw.getRenderWindow().render();
  });
  model.on("resize", () => {
    if (!state.grw) return;
    state.grw.resize();
    state.grw.getRenderWindow().render();
  });
  model.on("after_layout", () => {
    if (!state.grw) return;
    state.grw.resize();
    showFrame(currentFrame(), true);
  });
  model.on("remove", () => {
    disposed = true;
    window.removeEventListener("poseviz-frame", onFrameEvent);
    window.removeEventListener("poseviz-camera", onCameraEvent);
    if (state.grw) {
      state.grw.delete();
      state.grw = null;
    }
  });
}
