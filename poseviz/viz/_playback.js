// Playback controls of one group of skeleton views: play/pause, step, scrub, speed, loop,
// keyboard. Frames go to the group's views as `poseviz-frame` window events (no server
// round trip); the server hears `model.frame` at most every `sync_ms` (and always the last
// frame of a burst), so Python state (timelines, image panel) follows.
//
// Keys (for the group last clicked or created): Left/Right step one frame (Shift: ten),
// Space play/pause, Home/End first/last frame.

const REGISTRY = (window.__poseviz = window.__poseviz || { frames: {}, draws: {}, cameras: {} });
REGISTRY.controls = REGISTRY.controls || {};

const BUTTON =
  "border:1px solid #9aa0a6;background:#fff;border-radius:4px;padding:2px 8px;margin-right:4px;" +
  "cursor:pointer;font:14px sans-serif;min-width:34px";

export function render({ model, el }) {
  const bar = document.createElement("div");
  bar.className = "poseviz-playback";
  bar.tabIndex = 0;
  bar.style.cssText =
    "display:flex;align-items:center;gap:6px;width:100%;font:13px sans-serif;outline:none";
  const mk = (label, title) => {
    const b = document.createElement("button");
    b.textContent = label;
    b.title = title;
    b.style.cssText = BUTTON;
    bar.appendChild(b);
    return b;
  };
  const first = mk("|◀", "first frame (Home)");
  const prev = mk("◀", "previous frame (Left; Shift: 10)");
  const play = mk("Play", "play / pause (Space)");
  play.className = "poseviz-play";
  const next = mk("▶", "next frame (Right; Shift: 10)");
  const last = mk("▶|", "last frame (End)");
  const slider = document.createElement("input");
  slider.type = "range";
  slider.className = "poseviz-slider";
  slider.min = "0";
  slider.style.cssText = "flex:1;min-width:80px";
  const label = document.createElement("span");
  label.className = "poseviz-frame-label";
  // a fixed width: text changes must not resize the layout (Bokeh plots below would repaint)
  label.style.cssText =
    "flex:0 0 150px;text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap";
  const speed = document.createElement("select");
  speed.title = "playback speed";
  for (const s of [0.25, 0.5, 1, 2, 4]) {
    const o = document.createElement("option");
    o.value = String(s);
    o.textContent = `${s}x`;
    speed.appendChild(o);
  }
  const loopBox = document.createElement("label");
  const loop = document.createElement("input");
  loop.type = "checkbox";
  loopBox.append(loop, document.createTextNode(" loop"));
  bar.append(slider, label, speed, loopBox);
  el.appendChild(bar);

  const group = () => model.group;
  let frame = Math.max(0, model.frame | 0);
  let playing = false;
  let raf = null;
  let t0 = 0;
  let f0 = 0;
  let lastSync = 0;
  let trailing = null;

  const lastFrame = () => Math.max(0, (model.num_frames | 0) - 1);

  function refresh() {
    slider.max = String(lastFrame());
    slider.value = String(frame);
    label.textContent = `frame ${frame} / ${lastFrame()}`;
    play.textContent = playing ? "Pause" : "Play";
    speed.value = String(model.speed);
    loop.checked = !!model.loop;
  }

  function publish(f, sync) {
    f = Math.max(0, Math.min(lastFrame(), f | 0));
    frame = f;
    REGISTRY.frames[group()] = f;
    window.dispatchEvent(new CustomEvent("poseviz-frame", { detail: { group: group(), frame: f } }));
    slider.value = String(f);
    label.textContent = `frame ${f} / ${lastFrame()}`;
    const now = performance.now();
    if (sync === true || (sync === "throttled" && now - lastSync >= model.sync_ms)) {
      lastSync = now;
      if (trailing) clearTimeout(trailing);
      trailing = null;
      if (model.frame !== f) model.frame = f;
    } else if (sync === "throttled" && !trailing) {
      // the server hears the last frame of a burst too
      trailing = setTimeout(() => {
        trailing = null;
        lastSync = performance.now();
        if (model.frame !== frame) model.frame = frame;
      }, model.sync_ms);
    }
  }

  function tick(now) {
    if (!playing) return;
    let f = f0 + Math.floor(((now - t0) / 1000) * model.fps * model.speed);
    if (f > lastFrame()) {
      if (model.loop) {
        t0 = now;
        f0 = 0;
        f = 0;
      } else {
        publish(lastFrame(), true);
        stop();
        return;
      }
    }
    if (f !== frame) publish(f, "throttled");
    raf = requestAnimationFrame(tick);
  }

  function start() {
    if (playing) return;
    if (frame >= lastFrame()) publish(0, true);
    playing = true;
    t0 = performance.now();
    f0 = frame;
    if (!model.playing) model.playing = true;
    refresh();
    raf = requestAnimationFrame(tick);
  }

  function stop() {
    playing = false;
    if (raf) cancelAnimationFrame(raf);
    raf = null;
    if (model.playing) model.playing = false;
    if (model.frame !== frame) model.frame = frame;
    refresh();
  }

  function seek(f) {
    if (playing) {
      t0 = performance.now();
      f0 = Math.max(0, Math.min(lastFrame(), f | 0));
    }
    // bursts of steps (held keys, scripted seeks) reach the server at most every sync_ms
    publish(f, "throttled");
  }

  function step(d) {
    if (playing) stop();
    seek(frame + d);
  }

  first.onclick = () => step(-frame);
  last.onclick = () => step(lastFrame() - frame);
  prev.onclick = () => step(-1);
  next.onclick = () => step(1);
  play.onclick = () => (playing ? stop() : start());
  slider.addEventListener("input", () => publish(Number(slider.value), "throttled"));
  slider.addEventListener("change", () => publish(Number(slider.value), true));
  speed.addEventListener("change", () => {
    if (playing) {
      t0 = performance.now();
      f0 = frame;
    }
    model.speed = Number(speed.value);
  });
  loop.addEventListener("change", () => (model.loop = loop.checked));

  const activate = () => (REGISTRY.activeGroup = group());
  el.addEventListener("pointerdown", activate);
  activate();
  const onKey = (ev) => {
    if (REGISTRY.activeGroup !== group()) return;
    const tag = (ev.target && ev.target.tagName) || "";
    if (["INPUT", "TEXTAREA", "SELECT"].includes(tag) && ev.target !== slider) return;
    if (ev.target && ev.target.isContentEditable) return;
    const n = ev.shiftKey ? 10 : 1;
    if (ev.key === "ArrowRight") step(n);
    else if (ev.key === "ArrowLeft") step(-n);
    else if (ev.key === " " || ev.key === "Spacebar") playing ? stop() : start();
    else if (ev.key === "Home") step(-frame);
    else if (ev.key === "End") step(lastFrame() - frame);
    else return;
    ev.preventDefault();
  };
  document.addEventListener("keydown", onKey);

  REGISTRY.controls[group()] = {
    play: start,
    pause: stop,
    seek: (f) => seek(f),
    step,
    get frame() {
      return frame;
    },
    get playing() {
      return playing;
    },
  };

  model.on("frame", () => {
    if ((model.frame | 0) !== frame) {
      if (playing) {
        t0 = performance.now();
        f0 = model.frame | 0;
      }
      publish(model.frame, false);
    }
  });
  model.on("playing", () => (model.playing ? start() : stop()));
  model.on(["num_frames", "speed", "loop"], refresh);
  model.on("remove", () => {
    playing = false;
    if (trailing) clearTimeout(trailing);
    if (raf) cancelAnimationFrame(raf);
    document.removeEventListener("keydown", onKey);
    if (REGISTRY.controls[group()] && REGISTRY.controls[group()].seek) delete REGISTRY.controls[group()];
  });

  REGISTRY.frames[group()] = frame;
  refresh();
  // views rendered before these controls read REGISTRY.frames; tell the rest now
  setTimeout(() => publish(frame, false), 0);
}
