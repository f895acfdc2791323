// The demo page, in three modes:
// - Image: choose an image, draw person boxes (or let the detector find them, or edit what it found), call
//   POST /v1/pose and draw the skeletons it answers.
// - Video: choose a video, stream POST /v1/pose/video's JSON Lines and draw each frame's skeletons over the
//   video as it plays, from the frame shown.
// - Camera: send the camera's frames over WS /v1/pose/stream and draw each answer live.
// Joint names, limbs and side colours come from GET /demo/skeleton, the service's own definitions.

const $ = (id) => document.getElementById(id);

const ui = {
  modes: document.querySelectorAll("#modes button"),
  file: $("file"),
  videoFile: $("video-file"),
  model: $("model"),
  version: $("version"),
  flip: $("flip"),
  smooth: $("smooth"),
  keyRow: $("key-row"),
  apiKey: $("api-key"),
  keyApply: $("key-apply"),
  find: $("find"),
  whole: $("whole"),
  clearBoxes: $("clear-boxes"),
  estimate: $("estimate"),
  track: $("track"),
  downloadLines: $("download-lines"),
  cameraStart: $("camera-start"),
  cameraStop: $("camera-stop"),
  threshold: $("threshold"),
  thresholdValue: $("threshold-value"),
  status: $("status"),
  rate: $("rate"),
  error: $("error"),
  stage: $("stage"),
  placeholder: $("placeholder"),
  photo: $("photo"),
  movie: $("movie"),
  canvas: $("skeleton"),
  boxes: $("boxes"),
  tooltip: $("tooltip"),
  results: $("results"),
  timing: document.querySelector("#timing tbody"),
  raw: $("raw"),
  copy: $("copy"),
  download: $("download"),
};

// Sizes on screen, in CSS pixels; the canvas works in image pixels and scales them.
const JOINT_RADIUS_PX = 5;
const LIMB_WIDTH_PX = 3;
const HOVER_RADIUS_PX = 12;
const MIN_BOX_PX = 8;
const API_KEY_STORAGE = "hgpose-api-key";
const FRAME_COUNT_HEADER = "X-Video-Frame-Count";
// The camera: frames sent at most this often, this wide at most, while the socket's buffer is this small.
const CAMERA_MAX_FPS = 15;
const CAMERA_MAX_WIDTH = 640;
const CAMERA_MAX_BUFFERED_BYTES = 256 * 1024;
const CAMERA_JPEG_QUALITY = 0.8;
const STREAM_PROTOCOL = "pose-stream";
const KEY_PROTOCOL_PREFIX = "bearer.";
const UNAUTHORIZED_CLOSE = 4401;

const state = {
  mode: "image",
  file: null,
  imageUrl: null,
  width: 0, // natural size of what is shown; 0 while there is none or the browser cannot show it
  height: 0,
  boxes: [], // [x1, y1, x2, y2] in image pixels
  boxScores: [], // the detector's score of each box it found, null for a box drawn by hand
  skeleton: null,
  response: null, // the JSON shown in the results
  persons: [], // what the canvas draws now: [{box, keypoints}]
  drawn: [], // the joints on the canvas, for hovering: {person, name, x, y, score}
  apiKey: sessionStorage.getItem(API_KEY_STORAGE) || "",
  drag: null,
  video: { file: null, url: null, lines: [], frames: [], controller: null, shownFrame: -1 },
  camera: null, // {stream, socket, timer, answers: [times], last}
};

function setStatus(text) {
  ui.status.textContent = text;
}

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = false;
}

function hideError() {
  ui.error.hidden = true;
  ui.error.textContent = "";
}

async function call(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (state.apiKey) headers.set("Authorization", `Bearer ${state.apiKey}`);
  return fetch(path, { ...options, headers });
}

function askForKey() {
  ui.keyRow.hidden = false;
  ui.apiKey.focus();
}

function describeError(status, statusText, detail) {
  let text = `${status} ${statusText}: ${detail}`.replace(" :", ":");
  if (status === 401) {
    askForKey();
    text += "\nEnter the service's API key above.";
  }
  return text;
}

// The service's own message: every error it sends is {"detail": "...", "request_id": "..."}.
async function failure(response) {
  let detail = "";
  try {
    const body = await response.json();
    detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch {
    detail = "(no JSON error body)";
  }
  let text = describeError(response.status, response.statusText, detail);
  const retryAfter = response.headers.get("Retry-After");
  if (response.status === 503 && retryAfter) text += ` (retry after ${retryAfter} s)`;
  return text;
}

function option(value, label, disabled = false) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = label;
  element.disabled = disabled;
  return element;
}

function fillVersions() {
  const model = (state.models || []).find((m) => m.name === ui.model.value);
  const versions = model ? model.versions : [];
  const newest = model && model.default_version ? ` (v${model.default_version})` : "";
  ui.version.replaceChildren(
    option("", `newest ready${newest}`),
    ...versions.map((v) =>
      option(String(v.version), `v${v.version} ${v.status}${v.reason ? `: ${v.reason}` : ""}`, v.status !== "ready"),
    ),
  );
}

async function loadModels() {
  let response;
  try {
    response = await call("v1/models");
  } catch (error) {
    showError(`Could not reach the service: ${error.message}`);
    return;
  }
  if (!response.ok) {
    showError(await failure(response));
    return;
  }
  // Pose models only: the detector is asked for by /v1/detect and by requests without boxes.
  state.models = (await response.json()).models.filter((m) => (m.kind || "pose") === "pose");
  ui.model.replaceChildren(...state.models.map((m) => option(m.name, m.name)));
  fillVersions();
}

// The element the picture is shown in, and its natural size.
function media() {
  return state.mode === "image" ? ui.photo : ui.movie;
}

function setSize(width, height) {
  state.width = width;
  state.height = height;
  ui.canvas.width = width || 1;
  ui.canvas.height = height || 1;
}

function resetResults() {
  state.response = null;
  state.persons = [];
  ui.results.hidden = true;
}

// The picture `element` shows, at its natural size, in place of the placeholder.
function showPicture(element, width, height, stageState) {
  setSize(width, height);
  element.hidden = false;
  ui.placeholder.hidden = true;
  ui.stage.dataset.state = stageState;
  render();
}

// A file the browser cannot show: the placeholder says so; the service still gets the file to judge.
function showUnreadable(element, text) {
  setSize(0, 0);
  element.hidden = true;
  ui.placeholder.hidden = false;
  ui.placeholder.textContent = text;
  ui.stage.dataset.state = "unreadable";
  render();
}

function setFile(file) {
  if (!file) return;
  if (file.type.startsWith("video/") && state.mode === "image") setMode("video");
  if (state.mode === "video") {
    setVideoFile(file);
    return;
  }
  hideError();
  state.file = file;
  state.boxes = [];
  state.boxScores = [];
  resetResults();
  if (state.imageUrl) URL.revokeObjectURL(state.imageUrl);
  state.imageUrl = URL.createObjectURL(file);
  ui.photo.onload = () => {
    showPicture(ui.photo, ui.photo.naturalWidth, ui.photo.naturalHeight, "image");
    setStatus(`${file.name}: ${state.width} x ${state.height} px`);
  };
  ui.photo.onerror = () => {
    showUnreadable(ui.photo, `The browser cannot show ${file.name}; Estimate poses sends it anyway, for the service to judge.`);
    setStatus("");
  };
  ui.photo.src = state.imageUrl;
}

// Image pixels per CSS pixel of the shown picture.
function imagePerCss() {
  const rect = media().getBoundingClientRect();
  return rect.width ? state.width / rect.width : 1;
}

function toImage(event) {
  const rect = media().getBoundingClientRect();
  const clamp = (value, high) => Math.min(Math.max(value, 0), high);
  return {
    x: clamp(((event.clientX - rect.left) / rect.width) * state.width, state.width),
    y: clamp(((event.clientY - rect.top) / rect.height) * state.height, state.height),
  };
}

function renderBoxes() {
  const percent = (value, size) => `${(value / size) * 100}%`;
  const boxes = state.mode === "image" ? state.boxes : [];
  ui.boxes.replaceChildren(
    ...boxes.map(([x1, y1, x2, y2], index) => {
      const box = document.createElement("div");
      box.className = "box";
      box.dataset.index = String(index);
      box.style.left = percent(x1, state.width);
      box.style.top = percent(y1, state.height);
      box.style.width = percent(x2 - x1, state.width);
      box.style.height = percent(y2 - y1, state.height);
      const label = document.createElement("span");
      const score = state.boxScores[index];
      label.textContent = `person ${index + 1}${score == null ? "" : ` · ${score.toFixed(2)}`}`;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.dataset.delete = String(index);
      remove.setAttribute("aria-label", `delete person ${index + 1}`);
      box.append(label, remove);
      return box;
    }),
  );
  ui.stage.dataset.boxes = String(boxes.length);
}

// Draws `state.persons` ([{box, keypoints: [{name, x, y, score}]}]) over the picture.
function drawSkeleton() {
  const context = ui.canvas.getContext("2d");
  context.clearRect(0, 0, ui.canvas.width, ui.canvas.height);
  state.drawn = [];
  const persons = state.persons;
  if (persons.length && state.skeleton && state.width) {
    const scale = imagePerCss();
    const threshold = Number(ui.threshold.value);
    const colors = state.skeleton.colors;
    // Joints go on top of every person's box and limbs, so no later person's line hides a joint.
    const shownByPerson = persons.map(
      (person) =>
        new Map(
          person.keypoints
            .filter((k) => k.score >= threshold && Number.isFinite(k.x) && Number.isFinite(k.y))
            .map((k) => [k.name, k]),
        ),
    );
    persons.forEach((person, index) => {
      const [x1, y1, x2, y2] = person.box;
      context.setLineDash([6 * scale, 4 * scale]);
      context.lineWidth = 1.5 * scale;
      context.strokeStyle = "rgba(255, 255, 255, 0.9)";
      context.strokeRect(x1, y1, x2 - x1, y2 - y1);
      context.setLineDash([]);
      context.lineCap = "round";
      context.lineWidth = LIMB_WIDTH_PX * scale;
      for (const limb of state.skeleton.limbs) {
        const [a, b] = limb.joints.map((name) => shownByPerson[index].get(name));
        if (!a || !b) continue;
        context.strokeStyle = colors[limb.side];
        context.beginPath();
        context.moveTo(a.x, a.y);
        context.lineTo(b.x, b.y);
        context.stroke();
      }
    });
    shownByPerson.forEach((shown, index) => {
      for (const joint of state.skeleton.joints) {
        const keypoint = shown.get(joint.name);
        if (!keypoint) continue;
        context.fillStyle = colors[joint.side];
        context.beginPath();
        context.arc(keypoint.x, keypoint.y, JOINT_RADIUS_PX * scale, 0, 2 * Math.PI);
        context.fill();
        context.lineWidth = scale;
        context.strokeStyle = "rgba(0, 0, 0, 0.7)";
        context.stroke();
        state.drawn.push({ person: persons[index].label ?? index + 1, ...keypoint });
      }
    });
  }
  ui.stage.dataset.drawnJoints = String(state.drawn.length);
}

function render() {
  renderBoxes();
  drawSkeleton();
}

function hideTooltip() {
  ui.tooltip.hidden = true;
}

function hover(event) {
  if (!state.drawn.length) {
    hideTooltip();
    return;
  }
  const point = toImage(event);
  const scale = imagePerCss();
  let best = null;
  let bestDistance = HOVER_RADIUS_PX * scale;
  for (const joint of state.drawn) {
    const distance = Math.hypot(joint.x - point.x, joint.y - point.y);
    if (distance <= bestDistance) {
      best = joint;
      bestDistance = distance;
    }
  }
  if (!best) {
    hideTooltip();
    return;
  }
  const who = state.persons.length > 1 ? ` (person ${best.person})` : "";
  ui.tooltip.textContent = `${best.name} ${best.score.toFixed(2)}${who}`;
  ui.tooltip.style.left = `${best.x / scale}px`;
  ui.tooltip.style.top = `${best.y / scale}px`;
  ui.tooltip.hidden = false;
}

function boxSummary() {
  const count = state.boxes.length;
  return count ? `${count} person box${count > 1 ? "es" : ""}` : "no box: the person detector finds the people";
}

function setBoxes(boxes, scores = boxes.map(() => null)) {
  state.boxes = boxes;
  state.boxScores = scores;
  renderBoxes();
}

ui.stage.addEventListener("pointerdown", (event) => {
  if (state.mode !== "image" || !state.width || event.button !== 0 || event.target.closest("button")) return;
  const point = toImage(event);
  const box = event.target.closest(".box");
  if (box) {
    const index = Number(box.dataset.index);
    state.drag = { mode: "move", index, start: point, original: [...state.boxes[index]] };
  } else {
    const index = state.boxes.push([point.x, point.y, point.x, point.y]) - 1;
    state.boxScores[index] = null;
    state.drag = { mode: "draw", index, start: point };
  }
  ui.stage.setPointerCapture(event.pointerId);
  event.preventDefault();
  hideTooltip();
});

ui.stage.addEventListener("pointermove", (event) => {
  const drag = state.drag;
  if (!drag) {
    if (state.width) hover(event);
    return;
  }
  const point = toImage(event);
  if (drag.mode === "draw") {
    const { x, y } = drag.start;
    state.boxes[drag.index] = [Math.min(x, point.x), Math.min(y, point.y), Math.max(x, point.x), Math.max(y, point.y)];
  } else {
    const [x1, y1, x2, y2] = drag.original;
    const dx = Math.min(Math.max(point.x - drag.start.x, -x1), state.width - x2);
    const dy = Math.min(Math.max(point.y - drag.start.y, -y1), state.height - y2);
    state.boxes[drag.index] = [x1 + dx, y1 + dy, x2 + dx, y2 + dy];
  }
  renderBoxes();
});

function endDrag() {
  const drag = state.drag;
  if (!drag) return;
  state.drag = null;
  if (drag.mode === "draw") {
    const [x1, y1, x2, y2] = state.boxes[drag.index];
    const smallest = MIN_BOX_PX * imagePerCss();
    if (x2 - x1 < smallest || y2 - y1 < smallest) {
      state.boxes.splice(drag.index, 1);
      state.boxScores.splice(drag.index, 1);
    }
  }
  renderBoxes();
  setStatus(boxSummary());
}

ui.stage.addEventListener("pointerup", endDrag);
ui.stage.addEventListener("pointercancel", endDrag);
ui.stage.addEventListener("pointerleave", hideTooltip);

ui.boxes.addEventListener("click", (event) => {
  const remove = event.target.closest("button[data-delete]");
  if (!remove) return;
  const index = Number(remove.dataset.delete);
  state.boxes.splice(index, 1);
  state.boxScores.splice(index, 1);
  renderBoxes();
  setStatus(boxSummary());
});

ui.whole.addEventListener("click", () => {
  if (!state.width) return;
  setBoxes([...state.boxes, [0, 0, state.width, state.height]], [...state.boxScores, null]);
  setStatus(boxSummary());
});

ui.clearBoxes.addEventListener("click", () => {
  setBoxes([]);
  setStatus(boxSummary());
});

function rounded(box) {
  return box.map((v) => Math.round(v * 10) / 10);
}

function showResults(body, rows) {
  const row = (name, value) => {
    const tr = document.createElement("tr");
    for (const text of [name, value]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      tr.append(cell);
    }
    return tr;
  };
  ui.timing.replaceChildren(...rows.map(([name, value]) => row(name, value)));
  state.response = body;
  ui.raw.textContent = JSON.stringify(body, null, 2);
  ui.results.hidden = false;
}

function timingRows(body, roundTripMs) {
  return [
    ...Object.entries(body.timing_ms).map(([step, ms]) => [`${step.replaceAll("_", " ")} (ms)`, ms.toFixed(1)]),
    ["round trip, seen by this page (ms)", roundTripMs.toFixed(1)],
  ];
}

// Sends the chosen image with `fields` to `path`; the parsed answer, or null after showing the error.
async function postImage(path, fields, button, busy) {
  if (!state.file) {
    showError("Choose an image first.");
    return null;
  }
  hideError();
  const form = new FormData();
  form.append("image", state.file, state.file.name);
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  button.disabled = true;
  setStatus(busy);
  const started = performance.now();
  let response;
  try {
    response = await call(path, { method: "POST", body: form });
  } catch (error) {
    showError(`Could not reach the service: ${error.message}`);
    setStatus("");
    return null;
  } finally {
    button.disabled = false;
  }
  if (!response.ok) {
    showError(await failure(response));
    setStatus("");
    return null;
  }
  return { body: await response.json(), roundTripMs: performance.now() - started };
}

async function findPeople() {
  const answer = await postImage("v1/detect", {}, ui.find, "Finding people…");
  if (!answer) return;
  const { body, roundTripMs } = answer;
  resetResults();
  setBoxes(
    body.persons.map((p) => p.box),
    body.persons.map((p) => p.score),
  );
  drawSkeleton();
  showResults(body, timingRows(body, roundTripMs));
  ui.stage.dataset.state = "found";
  const count = body.persons.length;
  setStatus(
    count
      ? `${count} ${count > 1 ? "people" : "person"} found by ${body.model.name} v${body.model.version}: edit the boxes, then Estimate poses`
      : "nobody found: draw a box around each person",
  );
}

async function estimate() {
  // No box: the service's person detector finds the people (a file the browser cannot show included).
  const fields = { flip: ui.flip.checked ? "true" : "false" };
  if (state.boxes.length) fields.persons = JSON.stringify(state.boxes.map((box) => ({ box: rounded(box) })));
  if (ui.model.value) fields.model = ui.model.value;
  if (ui.version.value) fields.version = ui.version.value;
  const answer = await postImage("v1/pose", fields, ui.estimate, "Estimating…");
  if (!answer) return;
  const { body, roundTripMs } = answer;
  state.persons = body.persons;
  showResults(body, timingRows(body, roundTripMs));
  drawSkeleton();
  ui.stage.dataset.state = "posed";
  const { name, version, backend } = body.model;
  const found = body.persons.some((p) => p.score != null) ? " found by the detector" : "";
  setStatus(`${body.persons.length} person(s)${found}, posed by ${name} v${version} on ${backend}; hover a joint for its score`);
}

// Video -----------------------------------------------------------------------------------------------

function setVideoFile(file) {
  hideError();
  stopTracking();
  const video = state.video;
  video.file = file;
  video.lines = [];
  video.frames = [];
  video.shownFrame = -1;
  ui.downloadLines.disabled = true;
  resetResults();
  if (video.url) URL.revokeObjectURL(video.url);
  video.url = URL.createObjectURL(file);
  ui.movie.srcObject = null;
  ui.movie.controls = true;
  ui.movie.onloadedmetadata = () => {
    showPicture(ui.movie, ui.movie.videoWidth, ui.movie.videoHeight, "video");
    setStatus(`${file.name}: ${state.width} x ${state.height} px, ${ui.movie.duration.toFixed(2)} s`);
  };
  ui.movie.onerror = () => {
    showUnreadable(ui.movie, `The browser cannot play ${file.name}; Track poses sends it anyway, for the service to judge.`);
  };
  ui.movie.src = video.url;
}

// The frame line nearest to a media time (frames are in time order).
function frameAt(time) {
  const frames = state.video.frames;
  let low = 0;
  let high = frames.length - 1;
  if (high < 0) return null;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (frames[middle].time_s < time) low = middle + 1;
    else high = middle;
  }
  const before = frames[Math.max(low - 1, 0)];
  const after = frames[low];
  return Math.abs(before.time_s - time) <= Math.abs(after.time_s - time) ? before : after;
}

function shownPersons(persons) {
  return persons.map((person) => ({
    box: person.box,
    keypoints: ui.smooth.checked && person.smoothed ? person.smoothed : person.keypoints,
    label: person.track_id,
  }));
}

function drawVideoFrame(time) {
  const frame = frameAt(time);
  state.video.shownFrame = frame ? frame.frame : -1;
  state.persons = frame ? shownPersons(frame.persons) : [];
  drawSkeleton();
  ui.stage.dataset.shownFrame = String(state.video.shownFrame);
}

function followVideo() {
  if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return;
  const onFrame = (_now, metadata) => {
    if (state.mode === "video") drawVideoFrame(metadata.mediaTime);
    ui.movie.requestVideoFrameCallback(onFrame);
  };
  ui.movie.requestVideoFrameCallback(onFrame);
}

ui.movie.addEventListener("seeked", () => {
  if (state.mode === "video") drawVideoFrame(ui.movie.currentTime);
});
ui.movie.addEventListener("timeupdate", () => {
  if (state.mode === "video" && !("requestVideoFrameCallback" in HTMLVideoElement.prototype)) {
    drawVideoFrame(ui.movie.currentTime);
  }
});

function stopTracking() {
  if (state.video.controller) state.video.controller.abort();
  state.video.controller = null;
}

function takeLine(text, total) {
  const video = state.video;
  video.lines.push(text);
  const line = JSON.parse(text);
  if ("frame" in line) {
    video.frames.push(line);
    setStatus(`Tracking… frame ${line.frame + 1}${total ? ` of ${total}` : ""}`);
    ui.stage.dataset.framesReceived = String(video.frames.length);
    if (ui.movie.paused) drawVideoFrame(ui.movie.currentTime);
  } else if (line.done) {
    const rows = [
      ["frames", String(line.frames)],
      ["tracks", String(line.tracks)],
      ["detector runs", String(line.detector_runs)],
      ["frames per second", String(line.frames_per_s)],
      ["elapsed (s)", String(line.elapsed_s)],
    ];
    showResults(line, rows);
    setStatus(`${line.frames} frames, ${line.tracks} track(s), ${line.frames_per_s} frames/s by ${line.model.name} v${line.model.version}: play the video`);
    ui.stage.dataset.state = "tracked";
  } else if (line.error) {
    showError(describeError(line.status, "", `${line.detail} (after ${line.frames} frames)`));
  }
}

async function track() {
  const video = state.video;
  if (!video.file) {
    showError("Choose a video first.");
    return;
  }
  hideError();
  stopTracking();
  video.lines = [];
  video.frames = [];
  resetResults();
  ui.downloadLines.disabled = true;
  const form = new FormData();
  form.append("video", video.file, video.file.name);
  form.append("flip", ui.flip.checked ? "true" : "false");
  form.append("smooth", ui.smooth.checked ? "true" : "false");
  if (ui.model.value) form.append("model", ui.model.value);
  if (ui.version.value) form.append("version", ui.version.value);
  const controller = new AbortController();
  video.controller = controller;
  ui.track.disabled = true;
  setStatus("Uploading…");
  ui.stage.dataset.state = "tracking";
  try {
    const response = await call("v1/pose/video", { method: "POST", body: form, signal: controller.signal });
    if (!response.ok) {
      showError(await failure(response));
      setStatus("");
      return;
    }
    const total = response.headers.get(FRAME_COUNT_HEADER);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let pending = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += value;
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const text of lines) if (text) takeLine(text, total);
    }
    if (pending) takeLine(pending, total);
  } catch (error) {
    if (error.name !== "AbortError") showError(`Could not reach the service: ${error.message}`);
  } finally {
    ui.track.disabled = false;
    ui.downloadLines.disabled = !video.lines.length;
    if (video.controller === controller) video.controller = null;
  }
}

ui.downloadLines.addEventListener("click", () => {
  const name = `${(state.video.file?.name || "video").replace(/\.[^.]*$/, "")}.poses.jsonl`;
  download(`${state.video.lines.join("\n")}\n`, "application/x-ndjson", name);
});

// Camera ----------------------------------------------------------------------------------------------

function base64url(text) {
  const bytes = new TextEncoder().encode(text);
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function streamUrl() {
  const url = new URL("v1/pose/stream", document.baseURI);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("flip", ui.flip.checked ? "true" : "false");
  url.searchParams.set("smooth", ui.smooth.checked ? "true" : "false");
  if (ui.model.value) url.searchParams.set("model", ui.model.value);
  if (ui.version.value) url.searchParams.set("version", ui.version.value);
  return url.href;
}

function showRate(camera) {
  const now = performance.now();
  camera.answers = camera.answers.filter((time) => now - time < 1000);
  const last = camera.last;
  const latency = last ? `, ${last.latency_ms.toFixed(0)} ms in the service` : "";
  const dropped = last ? `, ${last.dropped} of ${last.received} dropped` : "";
  ui.rate.textContent = `${camera.answers.length} frames/s answered${dropped}${latency}`;
  ui.stage.dataset.answers = String(camera.count);
}

function sendCameraFrame(camera) {
  const { socket, grab } = camera;
  if (socket.readyState !== WebSocket.OPEN || socket.bufferedAmount > CAMERA_MAX_BUFFERED_BYTES) return;
  if (!ui.movie.videoWidth || camera.encoding) return;
  const scale = Math.min(1, CAMERA_MAX_WIDTH / ui.movie.videoWidth);
  const width = Math.round(ui.movie.videoWidth * scale);
  const height = Math.round(ui.movie.videoHeight * scale);
  if (grab.width !== width || grab.height !== height) {
    grab.width = width;
    grab.height = height;
  }
  if (state.width !== width || state.height !== height) setSize(width, height);
  grab.getContext("2d").drawImage(ui.movie, 0, 0, width, height);
  camera.encoding = true;
  grab.toBlob(
    (blob) => {
      camera.encoding = false;
      if (blob && socket.readyState === WebSocket.OPEN) {
        socket.send(blob);
        camera.sent += 1;
      }
    },
    "image/jpeg",
    CAMERA_JPEG_QUALITY,
  );
}

function takeAnswer(camera, message) {
  const answer = JSON.parse(message.data);
  if (answer.error) {
    showError(describeError(answer.status, "", answer.detail));
    return;
  }
  camera.count += 1;
  camera.answers.push(performance.now());
  camera.last = answer;
  state.persons = shownPersons(answer.persons);
  drawSkeleton();
  showRate(camera);
  if (camera.count === 1) ui.stage.dataset.state = "live";
}

async function startCamera() {
  hideError();
  stopCamera();
  resetResults();
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  } catch (error) {
    showError(`The camera is not available: ${error.message}`);
    return;
  }
  ui.movie.controls = false;
  ui.movie.removeAttribute("src");
  ui.movie.srcObject = stream;
  ui.movie.hidden = false;
  ui.placeholder.hidden = true;
  await ui.movie.play();
  const protocols = [STREAM_PROTOCOL];
  if (state.apiKey) protocols.push(KEY_PROTOCOL_PREFIX + base64url(state.apiKey));
  const socket = new WebSocket(streamUrl(), protocols);
  const camera = { stream, socket, grab: document.createElement("canvas"), answers: [], count: 0, sent: 0, last: null };
  state.camera = camera;
  socket.onmessage = (message) => takeAnswer(camera, message);
  socket.onclose = (event) => {
    if (state.camera !== camera) return;
    if (event.code === UNAUTHORIZED_CLOSE) askForKey();
    if (event.code !== 1000 && !ui.error.textContent) showError(`The stream closed (${event.code}) ${event.reason}`);
    stopCamera(false);
  };
  socket.onopen = () => {
    camera.timer = setInterval(() => {
      sendCameraFrame(camera);
      showRate(camera);
    }, 1000 / CAMERA_MAX_FPS);
  };
  ui.cameraStart.disabled = true;
  ui.cameraStop.disabled = false;
  ui.stage.dataset.state = "camera";
  setStatus("Camera on: frames go to the service");
}

// Stops sending and the camera; the last answer stays drawn.
function stopCamera(closeSocket = true) {
  const camera = state.camera;
  if (!camera) return;
  state.camera = null;
  clearInterval(camera.timer);
  if (closeSocket && camera.socket.readyState <= WebSocket.OPEN) camera.socket.close(1000);
  for (const track of camera.stream.getTracks()) track.stop();
  ui.movie.pause();
  ui.cameraStart.disabled = false;
  ui.cameraStop.disabled = true;
  if (camera.last) showResults(camera.last, [
    ["frames sent", String(camera.sent)],
    ["frames answered", String(camera.count)],
    ["frames dropped by the service", String(camera.last.dropped)],
  ]);
  setStatus(`Camera off: ${camera.count} frames answered`);
  ui.stage.dataset.state = "stopped";
}

ui.cameraStart.addEventListener("click", startCamera);
ui.cameraStop.addEventListener("click", () => stopCamera());

// Modes -----------------------------------------------------------------------------------------------

function setMode(mode) {
  if (mode === state.mode) return;
  if (state.mode === "camera") stopCamera();
  if (state.mode === "video") {
    stopTracking();
    ui.movie.pause();
  }
  state.mode = mode;
  document.body.dataset.mode = mode;
  for (const button of ui.modes) button.setAttribute("aria-selected", String(button.dataset.mode === mode));
  hideError();
  hideTooltip();
  resetResults();
  ui.photo.hidden = mode !== "image" || !state.file;
  ui.movie.hidden = mode === "image" || (mode === "video" && !state.video.file);
  const placeholders = {
    image: "Pick, drop or paste an image",
    video: "Pick or drop a video",
    camera: "Start the camera",
  };
  const showing = (mode === "image" && state.file) || (mode === "video" && state.video.file);
  ui.placeholder.hidden = Boolean(showing);
  ui.placeholder.textContent = placeholders[mode];
  if (mode === "image") setSize(ui.photo.naturalWidth || 0, ui.photo.naturalHeight || 0);
  else if (mode === "video" && state.video.file) setSize(ui.movie.videoWidth, ui.movie.videoHeight);
  else setSize(0, 0);
  ui.stage.dataset.state = showing ? mode : "empty";
  if (mode === "video" && state.video.file) {
    ui.movie.srcObject = null;
    if (ui.movie.src !== state.video.url) ui.movie.src = state.video.url;
    ui.movie.controls = true;
  }
  render();
  setStatus("");
}

for (const button of ui.modes) button.addEventListener("click", () => setMode(button.dataset.mode));

// Shared ----------------------------------------------------------------------------------------------

function download(text, type, name) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

ui.find.addEventListener("click", findPeople);
ui.estimate.addEventListener("click", estimate);
ui.track.addEventListener("click", track);
ui.file.addEventListener("change", () => setFile(ui.file.files[0]));
ui.videoFile.addEventListener("change", () => setFile(ui.videoFile.files[0]));
ui.model.addEventListener("change", fillVersions);
ui.threshold.addEventListener("input", () => {
  ui.thresholdValue.textContent = Number(ui.threshold.value).toFixed(2);
  drawSkeleton();
});
ui.smooth.addEventListener("change", () => {
  if (state.mode === "video") drawVideoFrame(ui.movie.currentTime);
});

ui.keyApply.addEventListener("click", () => {
  state.apiKey = ui.apiKey.value.trim();
  sessionStorage.setItem(API_KEY_STORAGE, state.apiKey);
  hideError();
  setStatus(state.apiKey ? "API key set" : "API key cleared");
  loadModels();
});
ui.apiKey.addEventListener("keydown", (event) => {
  if (event.key === "Enter") ui.keyApply.click();
});

ui.copy.addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(ui.raw.textContent);
    setStatus("JSON copied");
  } catch {
    const range = document.createRange();
    range.selectNodeContents(ui.raw);
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    setStatus(document.execCommand("copy") ? "JSON copied" : "The JSON is selected: copy it with Ctrl+C");
  }
});

ui.download.addEventListener("click", () => {
  const source = state.mode === "video" ? state.video.file : state.file;
  const name = `${(source?.name || state.mode).replace(/\.[^.]*$/, "")}.pose.json`;
  download(ui.raw.textContent, "application/json", name);
});

document.addEventListener("dragover", (event) => {
  event.preventDefault();
  ui.stage.classList.add("dragging-file");
});
document.addEventListener("dragleave", () => ui.stage.classList.remove("dragging-file"));
document.addEventListener("drop", (event) => {
  event.preventDefault();
  ui.stage.classList.remove("dragging-file");
  if (state.mode !== "camera") setFile(event.dataTransfer.files[0]);
});
document.addEventListener("paste", (event) => {
  const file = [...event.clipboardData.files].find((f) => f.type.startsWith("image/"));
  if (!file || state.mode !== "image") return;
  event.preventDefault();
  setFile(file);
});

new ResizeObserver(drawSkeleton).observe(ui.photo);
new ResizeObserver(drawSkeleton).observe(ui.movie);

async function start() {
  if (state.apiKey) {
    ui.apiKey.value = state.apiKey;
    ui.keyRow.hidden = false;
  }
  try {
    state.skeleton = await (await fetch("demo/skeleton")).json();
  } catch (error) {
    showError(`Could not load the skeleton from the service: ${error.message}`);
  }
  followVideo();
  await loadModels();
  ui.stage.dataset.ready = "true";
}

start();
