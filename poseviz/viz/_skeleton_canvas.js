// A 3D skeleton player. The whole sequence arrives once: `positions` (L, T, J, 3) float32 and
// `colors` (L, T, J, 3) uint8 for L layers (the skeleton and an optional reference ghost).
// Showing frame f copies J * 3 values per layer out of those arrays, then draws: O(J) per
// frame change, whatever T is.
//
// Two drawing backends share everything else (`model.renderer`):
// - "canvas" (default): a 2D canvas with a perspective camera, depth-sorted bones and
//   joints. Without a GPU (headless or remote browsers, CI) it is several times faster than
//   WebGL, whose software rasteriser and per-canvas read-back dominate (benchmarks/app.py
//   measures both in the same run).
// - "vtk": the vtk.js that Panel bundles (window.vtk): lit sphere joints and wide lines.
//
// Frames come from `model.frame` (a standalone view) or, when `group` is set, from
// `poseviz-frame` window events sent by the group's playback controls in the browser (no
// round trip to the server). Cameras with the same `link` follow each other in the browser
// and report to Python (`model.camera`) when an interaction ends.

// window.__poseviz: frames per group, draws per view (counts), firstDraw per view
// (performance.now() of its first picture), shared by tests and benchmarks/app.py.
const REGISTRY = (window.__poseviz = window.__poseviz || { frames: {}, draws: {}, cameras: {} });
REGISTRY.firstDraw = REGISTRY.firstDraw || {};

// Bokeh's NDArray subclasses break TypedArray.subarray (their constructor differs): view the
// same memory through plain typed arrays instead.
function plain(arr, Type) {
  if (!arr || arr.length === 0) return new Type(0);
  if (arr.buffer) return new Type(arr.buffer, arr.byteOffset, arr.length);
  return Type.from(arr);
}

// ---------------------------------------------------------------------------------------
// small vector helpers
const sub = (a, b) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const add = (a, b) => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
const mul = (a, s) => [a[0] * s, a[1] * s, a[2] * s];
const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const norm = (a) => Math.sqrt(dot(a, a));
const unit = (a) => mul(a, 1 / (norm(a) || 1));
function rotate(v, axis, angle) {
  // Rodrigues' rotation of v about the unit axis
  const c = Math.cos(angle), s = Math.sin(angle);
  return add(add(mul(v, c), mul(cross(axis, v), s)), mul(axis, dot(axis, v) * (1 - c)));
}

// ---------------------------------------------------------------------------------------
// 2D canvas backend
function canvasBackend(container, model, hooks) {
  const canvas = document.createElement("canvas");
  canvas.style.cssText = "position:absolute;inset:0;width:100%;height:100%;touch-action:none";
  container.appendChild(canvas);
  const ctx = canvas.getContext("2d", { alpha: false });
  let cam = { position: [0, 1, 4], focal_point: [0, 1, 0], view_up: [0, 1, 0], view_angle: 30 };
  let layers = [];
  let styles = [];
  let edges = [];
  let scene = { points: new Float32Array(0), lines: [], colors: new Uint8Array(0) };
  let W = 1, H = 1, dpr = 1;
  const bg = () => `rgb(${model.background.join(",")})`;

  function basis() {
    const f = unit(sub(cam.focal_point, cam.position));
    const r = unit(cross(f, cam.view_up));
    const u = cross(r, f);
    const scale = H / 2 / Math.tan(((cam.view_angle || 30) * Math.PI) / 360);
    return { f, r, u, scale };
  }

  function toView(p, b) {
    const d = [p[0] - cam.position[0], p[1] - cam.position[1], p[2] - cam.position[2]];
    return [dot(d, b.r), dot(d, b.u), dot(d, b.f)];
  }

  const NEAR = 0.05;
  function screen(v, b) {
    return [W / 2 + (v[0] * b.scale) / v[2], H / 2 - (v[1] * b.scale) / v[2]];
  }

  function clipped(a, c, b) {
    // segment a-c in view coordinates, clipped to z >= NEAR; screen points or null
    if (a[2] < NEAR && c[2] < NEAR) return null;
    if (a[2] < NEAR || c[2] < NEAR) {
      const t = (NEAR - a[2]) / (c[2] - a[2]);
      const m = [a[0] + t * (c[0] - a[0]), a[1] + t * (c[1] - a[1]), NEAR];
      if (a[2] < NEAR) a = m;
      else c = m;
    }
    return [screen(a, b), screen(c, b)];
  }

  function rgb(c, i, alpha) {
    return alpha == null || alpha >= 1
      ? `rgb(${c[3 * i]},${c[3 * i + 1]},${c[3 * i + 2]})`
      : `rgba(${c[3 * i]},${c[3 * i + 1]},${c[3 * i + 2]},${alpha})`;
  }

  // The static lines (ground grid, frustum) only change with the camera or the size: draw
  // them once into an offscreen canvas and copy that in every frame.
  const backdrop = document.createElement("canvas");
  let backdropKey = "";
  function paintBackdrop(b) {
    const key = JSON.stringify([cam, W, H, dpr, scene.lines.length, model.background]);
    if (key === backdropKey) return;
    backdropKey = key;
    backdrop.width = canvas.width;
    backdrop.height = canvas.height;
    const bctx = backdrop.getContext("2d", { alpha: false });
    bctx.setTransform(1, 0, 0, 1, 0, 0);
    bctx.fillStyle = bg();
    bctx.fillRect(0, 0, backdrop.width, backdrop.height);
    bctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    bctx.lineWidth = 1;
    const sp = scene.points;
    const byColor = new Map();
    for (let e = 0; e < scene.lines.length; e += 2) {
      const i = scene.lines[e], j = scene.lines[e + 1];
      const seg = clipped(
        toView([sp[3 * i], sp[3 * i + 1], sp[3 * i + 2]], b),
        toView([sp[3 * j], sp[3 * j + 1], sp[3 * j + 2]], b),
        b
      );
      if (!seg) continue;
      const color = rgb(scene.colors, i);
      if (!byColor.has(color)) byColor.set(color, []);
      byColor.get(color).push(seg);
    }
    for (const [color, segs] of byColor) {
      bctx.strokeStyle = color;
      bctx.beginPath();
      for (const seg of segs) {
        bctx.moveTo(seg[0][0], seg[0][1]);
        bctx.lineTo(seg[1][0], seg[1][1]);
      }
      bctx.stroke();
    }
  }

  function draw() {
    const b = basis();
    paintBackdrop(b);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(backdrop, 0, 0);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    // skeleton layers, each depth-sorted (far first)
    ctx.lineCap = "round";
    for (let l = 0; l < layers.length; l++) {
      const { xyz, rgb: col } = layers[l];
      const st = styles[l] || {};
      const alpha = st.opacity == null ? 1 : st.opacity;
      const J = xyz.length / 3;
      const v = [];
      for (let j = 0; j < J; j++) v.push(toView([xyz[3 * j], xyz[3 * j + 1], xyz[3 * j + 2]], b));
      const items = [];
      for (let e = 0; e < edges.length; e += 2) {
        const p = edges[e], c = edges[e + 1];
        items.push({ z: (v[p][2] + v[c][2]) / 2 + 1e-4, bone: [p, c] });
      }
      const radius = st.radius == null ? 0.03 : st.radius;
      if (radius > 0) for (let j = 0; j < J; j++) items.push({ z: v[j][2], joint: j });
      items.sort((a, c) => c.z - a.z);
      for (const it of items) {
        if (it.bone) {
          const [p, c] = it.bone;
          const seg = clipped(v[p], v[c], b);
          if (!seg) continue;
          ctx.strokeStyle = rgb(col, c, alpha);
          ctx.lineWidth = st.line_width || 4;
          ctx.beginPath();
          ctx.moveTo(seg[0][0], seg[0][1]);
          ctx.lineTo(seg[1][0], seg[1][1]);
          ctx.stroke();
        } else {
          const j = it.joint;
          if (v[j][2] < NEAR) continue;
          const [x, y] = screen(v[j], b);
          const r = Math.max(2, (radius * b.scale) / v[j][2]);
          ctx.fillStyle = rgb(col, j, alpha);
          ctx.beginPath();
          ctx.arc(x, y, r, 0, 2 * Math.PI);
          ctx.fill();
          ctx.lineWidth = 1;
          ctx.strokeStyle = "rgba(0,0,0,0.45)";
          ctx.stroke();
        }
      }
    }
  }

  // -- interaction: turntable orbit (left drag), pan (right or shift drag), dolly (wheel)
  let drag = null;
  let pending = false;
  function changed(final) {
    if (!pending) {
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        draw();
      });
    }
    hooks.onCamera(api.getCamera(), final);
  }
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  canvas.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, pan: e.button === 2 || e.shiftKey };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    drag.x = e.clientX;
    drag.y = e.clientY;
    const b = basis();
    if (drag.pan) {
      const dist = norm(sub(cam.focal_point, cam.position));
      const k = (dist / b.scale) * 1.0;
      const shift = add(mul(b.r, -dx * k), mul(b.u, dy * k));
      cam.position = add(cam.position, shift);
      cam.focal_point = add(cam.focal_point, shift);
    } else {
      const up = unit(cam.view_up);
      let off = sub(cam.position, cam.focal_point);
      off = rotate(off, up, (-dx * Math.PI) / 300);
      const right = unit(cross(up, off));
      const turned = rotate(off, right, (dy * Math.PI) / 300);
      const elev = Math.acos(Math.max(-1, Math.min(1, dot(unit(turned), up))));
      if (elev > 0.08 && elev < Math.PI - 0.08) off = turned;
      cam.position = add(cam.focal_point, off);
    }
    changed(false);
  });
  const end = (e) => {
    if (!drag) return;
    drag = null;
    if (canvas.hasPointerCapture(e.pointerId)) canvas.releasePointerCapture(e.pointerId);
    changed(true);
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener(
    "wheel",
    (e) => {
      e.preventDefault();
      const off = sub(cam.position, cam.focal_point);
      cam.position = add(cam.focal_point, mul(off, Math.exp(e.deltaY * 0.001)));
      changed(true);
    },
    { passive: false }
  );

  const api = {
    ready: Promise.resolve(),
    setLayers(L, J, edgeList, styleList) {
      layers = [];
      for (let l = 0; l < L; l++) layers.push({ xyz: new Float32Array(J * 3), rgb: new Uint8Array(J * 3) });
      edges = Array.from(edgeList);
      styles = styleList;
      return layers;
    },
    setScene(points, lines, colors) {
      scene = { points: Float32Array.from(points || []), lines: Array.from(lines || []), colors: Uint8Array.from(colors || []) };
      backdropKey = "";
    },
    render: draw,
    getCamera() {
      return {
        position: cam.position.slice(),
        focal_point: cam.focal_point.slice(),
        view_up: cam.view_up.slice(),
        view_angle: cam.view_angle,
      };
    },
    setCamera(c) {
      cam = {
        position: c.position.slice(),
        focal_point: c.focal_point.slice(),
        view_up: c.view_up.slice(),
        view_angle: c.view_angle || 30,
      };
    },
    setBackground() {},
    resize() {
      dpr = window.devicePixelRatio || 1;
      W = Math.max(1, container.clientWidth);
      H = Math.max(1, container.clientHeight);
      canvas.width = Math.round(W * dpr);
      canvas.height = Math.round(H * dpr);
    },
    dispose() {
      canvas.remove();
    },
  };
  return api;
}

// ---------------------------------------------------------------------------------------
// vtk.js backend
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

function cellArray(edges) {
  // vtk cell layout: [2, a, b, 2, c, d, ...]
  const count = edges.length / 2;
  const out = new Uint32Array(count * 3);
  for (let e = 0; e < count; e++) {
    out[3 * e] = 2;
    out[3 * e + 1] = edges[2 * e];
    out[3 * e + 2] = edges[2 * e + 1];
  }
  return out;
}

function vtkBackend(container, model, hooks) {
  let vtk = null, grw = null, renderer = null;
  let actors = [];
  let sceneActor = null;
  const api = {
    ready: whenVtk(20000).then((v) => {
      vtk = v;
      grw = vtk.Rendering.Misc.vtkGenericRenderWindow.newInstance({
        background: model.background.map((c) => c / 255),
        listenWindowResize: false,
      });
      grw.setContainer(container);
      grw.resize();
      renderer = grw.getRenderer();
      const interactor = grw.getInteractor();
      interactor.onAnimation(() => hooks.onCamera(api.getCamera(), false));
      interactor.onEndAnimation(() => hooks.onCamera(api.getCamera(), true));
      interactor.onMouseWheel(() => hooks.onCamera(api.getCamera(), true));
    }),
    setLayers(L, J, edgeList, styleList) {
      for (const a of actors) renderer.removeActor(a);
      actors = [];
      const layers = [];
      const cells = cellArray(edgeList);
      for (let l = 0; l < L; l++) {
        const poly = vtk.Common.DataModel.vtkPolyData.newInstance();
        const xyz = new Float32Array(J * 3);
        poly.getPoints().setData(xyz, 3);
        poly.getLines().setData(cells);
        const rgb = new Uint8Array(J * 3);
        const colors = vtk.Common.Core.vtkDataArray.newInstance({ name: "colors", numberOfComponents: 3, values: rgb });
        poly.getPointData().setScalars(colors);
        const style = styleList[l] || {};
        const opacity = style.opacity == null ? 1 : style.opacity;
        const boneMapper = vtk.Rendering.Core.vtkMapper.newInstance({ scalarVisibility: true });
        boneMapper.setColorModeToDirectScalars();
        boneMapper.setInputData(poly);
        const bones = vtk.Rendering.Core.vtkActor.newInstance();
        bones.setMapper(boneMapper);
        bones.getProperty().setLineWidth(style.line_width || 4);
        bones.getProperty().setOpacity(opacity);
        bones.getProperty().setLighting(false);
        renderer.addActor(bones);
        actors.push(bones);
        if (style.radius !== 0) {
          const jointMapper = vtk.Rendering.Core.vtkSphereMapper.newInstance({
            radius: style.radius || 0.03,
            scalarVisibility: true,
          });
          jointMapper.setColorModeToDirectScalars();
          jointMapper.setInputData(poly);
          const joints = vtk.Rendering.Core.vtkActor.newInstance();
          joints.setMapper(jointMapper);
          joints.getProperty().setOpacity(opacity);
          renderer.addActor(joints);
          actors.push(joints);
        }
        layers.push({
          xyz,
          rgb,
          modified() {
            poly.getPoints().modified();
            colors.modified();
            poly.modified();
          },
        });
      }
      return layers;
    },
    setScene(points, lines, colors) {
      if (sceneActor) renderer.removeActor(sceneActor);
      sceneActor = null;
      if (!points || points.length === 0) return;
      const poly = vtk.Common.DataModel.vtkPolyData.newInstance();
      poly.getPoints().setData(Float32Array.from(points), 3);
      poly.getLines().setData(cellArray(lines));
      poly.getPointData().setScalars(
        vtk.Common.Core.vtkDataArray.newInstance({ name: "colors", numberOfComponents: 3, values: Uint8Array.from(colors) })
      );
      const mapper = vtk.Rendering.Core.vtkMapper.newInstance();
      mapper.setColorModeToDirectScalars();
      mapper.setInputData(poly);
      sceneActor = vtk.Rendering.Core.vtkActor.newInstance();
      sceneActor.setMapper(mapper);
      sceneActor.getProperty().setLighting(false);
      sceneActor.setPickable(false);
      renderer.addActor(sceneActor);
    },
    render() {
      grw.getRenderWindow().render();
    },
    getCamera() {
      const cam = renderer.getActiveCamera();
      return {
        position: Array.from(cam.getPosition()),
        focal_point: Array.from(cam.getFocalPoint()),
        view_up: Array.from(cam.getViewUp()),
        view_angle: cam.getViewAngle(),
      };
    },
    setCamera(c) {
      const cam = renderer.getActiveCamera();
      cam.setPosition(...c.position);
      cam.setFocalPoint(...c.focal_point);
      cam.setViewUp(...c.view_up);
      if (c.view_angle) cam.setViewAngle(c.view_angle);
      renderer.resetCameraClippingRange();
    },
    setBackground(rgb) {
      renderer.setBackground(rgb.map((c) => c / 255));
    },
    resize() {
      grw.resize();
    },
    dispose() {
      grw.delete();
    },
  };
  return api;
}

// ---------------------------------------------------------------------------------------
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

  const key = model.view_id;
  const state = { ready: false, layers: [], shown: -1, numFrames: 0, joints: 0 };
  let disposed = false;

  const hooks = {
    onCamera(c, final) {
      if (model.link) {
        REGISTRY.cameras[model.link] = c;
        window.dispatchEvent(new CustomEvent("poseviz-camera", { detail: { link: model.link, source: key, camera: c } }));
      }
      if (final) model.camera = c;
    },
  };
  const backend = (model.renderer === "vtk" ? vtkBackend : canvasBackend)(container, model, hooks);
  root.dataset.renderer = model.renderer;

  const setTitle = () => (title.textContent = model.title);
  setTitle();

  backend.ready
    .then(() => {
      if (disposed) return;
      backend.resize();
      rebuildLayers();
      backend.setScene(model.scene_points, model.scene_lines, model.scene_colors);
      if (model.camera && model.camera.position) backend.setCamera(model.camera);
      state.ready = true;
      showFrame(currentFrame(), true);
    })
    .catch((err) => {
      title.textContent = String(err.message || err);
      console.error(err);
    });

  function rebuildLayers() {
    const [L, T, J] = model.positions_shape;
    state.numFrames = T;
    state.joints = J;
    state.layers = backend.setLayers(L, J, model.edges, model.layer_style);
    state.shown = -1;
  }

  function currentFrame() {
    if (model.group && REGISTRY.frames[model.group] != null) return REGISTRY.frames[model.group];
    return model.frame;
  }

  function showFrame(frame, force) {
    if (!state.ready || disposed) return;
    const T = state.numFrames;
    const f = Math.max(0, Math.min(T - 1, frame | 0));
    if (f === state.shown && !force) return;
    const J = state.joints;
    const positions = plain(model.positions, Float32Array);
    const colors = plain(model.colors, Uint8Array);
    for (let l = 0; l < state.layers.length; l++) {
      const layer = state.layers[l];
      const off = (l * T + f) * J * 3;
      // copy J * 3 values (a subarray view would hand vtk.js the whole sequence)
      layer.xyz.set(positions.subarray(off, off + J * 3));
      layer.rgb.set(colors.subarray(off, off + J * 3));
      if (layer.modified) layer.modified();
    }
    state.shown = f;
    root.dataset.frame = String(f);
    backend.render();
    REGISTRY.draws[key] = (REGISTRY.draws[key] || 0) + 1;
    if (REGISTRY.firstDraw[key] == null) REGISTRY.firstDraw[key] = performance.now();
  }

  const onFrameEvent = (ev) => {
    if (model.group && ev.detail.group === model.group) showFrame(ev.detail.frame);
  };
  const onCameraEvent = (ev) => {
    if (state.ready && model.link && ev.detail.link === model.link && ev.detail.source !== key) {
      backend.setCamera(ev.detail.camera);
      backend.render();
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
    if (!state.ready) return;
    rebuildLayers();
    showFrame(currentFrame(), true);
  });
  model.on("colors", () => showFrame(state.shown, true));
  model.on(["scene_points", "scene_lines", "scene_colors"], () => {
    if (!state.ready) return;
    backend.setScene(model.scene_points, model.scene_lines, model.scene_colors);
    backend.render();
  });
  model.on("camera", () => {
    const c = model.camera;
    if (!state.ready || !c || !c.position) return;
    const now = backend.getCamera();
    const same = ["position", "focal_point", "view_up"].every((k) => now[k].every((v, i) => Math.abs(v - c[k][i]) < 1e-6));
    if (!same) {
      backend.setCamera(c);
      backend.render();
    }
  });
  model.on("background", () => {
    if (!state.ready) return;
    backend.setBackground(model.background);
    backend.render();
  });
  const refit = () => {
    if (!state.ready) return;
    backend.resize();
    showFrame(currentFrame(), true);
  };
  model.on("resize", refit);
  model.on("after_layout", refit);
  model.on("remove", () => {
    disposed = true;
    window.removeEventListener("poseviz-frame", onFrameEvent);
    window.removeEventListener("poseviz-camera", onCameraEvent);
    backend.dispose();
  });
}
