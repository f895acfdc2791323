// The demo page: choose an image, draw person boxes, call POST /v1/pose and draw the skeletons it answers.
// Joint names, limbs and side colours come from GET /demo/skeleton, the service's own definitions.

const $ = (id) => document.getElementById(id);

const ui = {
  file: $("file"),
  model: $("model"),
  version: $("version"),
  flip: $("flip"),
  keyRow: $("key-row"),
  apiKey: $("api-key"),
  keyApply: $("key-apply"),
  whole: $("whole"),
  clearBoxes: $("clear-boxes"),
  estimate: $("estimate"),
  threshold: $("threshold"),
  thresholdValue: $("threshold-value"),
  status: $("status"),
  error: $("error"),
  stage: $("stage"),
  placeholder: $("placeholder"),
  photo: $("photo"),
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

const state = {
  file: null,
  imageUrl: null,
  width: 0, // natural image size; 0 while there is none or the browser cannot show it
  height: 0,
  boxes: [], // [x1, y1, x2, y2] in image pixels
  skeleton: null,
  response: null,
  drawn: [], // the joints on the canvas, for hovering: {person, name, x, y, score}
  apiKey: sessionStorage.getItem(API_KEY_STORAGE) || "",
  drag: null,
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

// The service's own message: every error it sends is {"detail": "...", "request_id": "..."}.
async function failure(response) {
  let detail = "";
  try {
    const body = await response.json();
    detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch {
    detail = "(no JSON error body)";
  }
  let text = `${response.status} ${response.statusText}: ${detail}`.replace(" :", ":");
  const retryAfter = response.headers.get("Retry-After");
  if (response.status === 503 && retryAfter) text += ` (retry after ${retryAfter} s)`;
  if (response.status === 401) {
    askForKey();
    text += "\nEnter the service's API key above.";
  }
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
  state.models = (await response.json()).models;
  ui.model.replaceChildren(...state.models.map((m) => option(m.name, m.name)));
  fillVersions();
}

function setFile(file) {
  if (!file) return;
  hideError();
  state.file = file;
  state.boxes = [];
  state.response = null;
  ui.results.hidden = true;
  if (state.imageUrl) URL.revokeObjectURL(state.imageUrl);
  state.imageUrl = URL.createObjectURL(file);
  ui.photo.onload = () => {
    state.width = ui.photo.naturalWidth;
    state.height = ui.photo.naturalHeight;
    ui.canvas.width = state.width;
    ui.canvas.height = state.height;
    ui.photo.hidden = false;
    ui.placeholder.hidden = true;
    ui.stage.dataset.state = "image";
    render();
    setStatus(`${file.name}: ${state.width} x ${state.height} px`);
  };
  ui.photo.onerror = () => {
    state.width = 0;
    state.height = 0;
    ui.photo.hidden = true;
    ui.placeholder.hidden = false;
    ui.placeholder.textContent = `The browser cannot show ${file.name}; Estimate poses sends it anyway, for the service to judge.`;
    ui.stage.dataset.state = "unreadable";
    render();
    setStatus("");
  };
  ui.photo.src = state.imageUrl;
}

// Image pixels per CSS pixel of the shown image.
function imagePerCss() {
  const rect = ui.photo.getBoundingClientRect();
  return rect.width ? state.width / rect.width : 1;
}

function toImage(event) {
  const rect = ui.photo.getBoundingClientRect();
  const clamp = (value, high) => Math.min(Math.max(value, 0), high);
  return {
    x: clamp(((event.clientX - rect.left) / rect.width) * state.width, state.width),
    y: clamp(((event.clientY - rect.top) / rect.height) * state.height, state.height),
  };
}

function renderBoxes() {
  const percent = (value, size) => `${(value / size) * 100}%`;
  ui.boxes.replaceChildren(
    ...state.boxes.map(([x1, y1, x2, y2], index) => {
      const box = document.createElement("div");
      box.className = "box";
      box.dataset.index = String(index);
      box.style.left = percent(x1, state.width);
      box.style.top = percent(y1, state.height);
      box.style.width = percent(x2 - x1, state.width);
      box.style.height = percent(y2 - y1, state.height);
      const label = document.createElement("span");
      label.textContent = `person ${index + 1}`;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.dataset.delete = String(index);
      remove.setAttribute("aria-label", `delete person ${index + 1}`);
      box.append(label, remove);
      return box;
    }),
  );
  ui.stage.dataset.boxes = String(state.boxes.length);
}

function drawSkeleton() {
  const context = ui.canvas.getContext("2d");
  context.clearRect(0, 0, ui.canvas.width, ui.canvas.height);
  state.drawn = [];
  const body = state.response;
  if (body && state.skeleton && state.width) {
    const scale = imagePerCss();
    const threshold = Number(ui.threshold.value);
    const colors = state.skeleton.colors;
    // Joints go on top of every person's box and limbs, so no later person's line hides a joint.
    const shownByPerson = body.persons.map(
      (person) =>
        new Map(
          person.keypoints
            .filter((k) => k.score >= threshold && Number.isFinite(k.x) && Number.isFinite(k.y))
            .map((k) => [k.name, k]),
        ),
    );
    body.persons.forEach((person, index) => {
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
        state.drawn.push({ person: index + 1, ...keypoint });
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
  const who = state.response.persons.length > 1 ? ` (person ${best.person})` : "";
  ui.tooltip.textContent = `${best.name} ${best.score.toFixed(2)}${who}`;
  ui.tooltip.style.left = `${best.x / scale}px`;
  ui.tooltip.style.top = `${best.y / scale}px`;
  ui.tooltip.hidden = false;
}

function boxSummary() {
  const count = state.boxes.length;
  return count ? `${count} person box${count > 1 ? "es" : ""}` : "no box: the whole image is one person";
}

ui.stage.addEventListener("pointerdown", (event) => {
  if (!state.width || event.button !== 0 || event.target.closest("button")) return;
  const point = toImage(event);
  const box = event.target.closest(".box");
  if (box) {
    const index = Number(box.dataset.index);
    state.drag = { mode: "move", index, start: point, original: [...state.boxes[index]] };
  } else {
    const index = state.boxes.push([point.x, point.y, point.x, point.y]) - 1;
    state.drag = { mode: "draw", index, start: point };
  }
  ui.stage.setPointerCapture(event.pointerId);
  event.preventDefault();
  hideTooltip();
});

ui.stage.addEventListener("pointermove", (event) => {
  const drag = state.drag;
  if (!drag) {
    hover(event);
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
    if (x2 - x1 < smallest || y2 - y1 < smallest) state.boxes.splice(drag.index, 1);
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
  state.boxes.splice(Number(remove.dataset.delete), 1);
  renderBoxes();
  setStatus(boxSummary());
});

ui.whole.addEventListener("click", () => {
  if (!state.width) return;
  state.boxes.push([0, 0, state.width, state.height]);
  renderBoxes();
  setStatus(boxSummary());
});

ui.clearBoxes.addEventListener("click", () => {
  state.boxes = [];
  renderBoxes();
  setStatus(boxSummary());
});

function persons() {
  if (state.boxes.length) return state.boxes.map((box) => ({ box: box.map((v) => Math.round(v * 10) / 10) }));
  // Unknown size (a file the browser cannot show): any box; the service reports what is wrong with the file.
  return [{ box: [0, 0, state.width || 1, state.height || 1] }];
}

function showResults(body, roundTripMs) {
  const row = (name, value) => {
    const tr = document.createElement("tr");
    for (const text of [name, value]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      tr.append(cell);
    }
    return tr;
  };
  ui.timing.replaceChildren(
    ...Object.entries(body.timing_ms).map(([step, ms]) => row(step.replaceAll("_", " "), ms.toFixed(1))),
    row("round trip, seen by this page", roundTripMs.toFixed(1)),
  );
  ui.raw.textContent = JSON.stringify(body, null, 2);
  ui.results.hidden = false;
}

async function estimate() {
  if (!state.file) {
    showError("Choose an image first.");
    return;
  }
  hideError();
  const form = new FormData();
  form.append("image", state.file, state.file.name);
  form.append("persons", JSON.stringify(persons()));
  form.append("flip", ui.flip.checked ? "true" : "false");
  if (ui.model.value) form.append("model", ui.model.value);
  if (ui.version.value) form.append("version", ui.version.value);
  ui.estimate.disabled = true;
  setStatus("Estimating…");
  const started = performance.now();
  let response;
  try {
    response = await call("v1/pose", { method: "POST", body: form });
  } catch (error) {
    showError(`Could not reach the service: ${error.message}`);
    setStatus("");
    return;
  } finally {
    ui.estimate.disabled = false;
  }
  if (!response.ok) {
    showError(await failure(response));
    setStatus("");
    return;
  }
  const body = await response.json();
  state.response = body;
  showResults(body, performance.now() - started);
  drawSkeleton();
  ui.stage.dataset.state = "posed";
  const { name, version, backend } = body.model;
  setStatus(`${body.persons.length} person(s) by ${name} v${version} on ${backend}; hover a joint for its score`);
}

ui.estimate.addEventListener("click", estimate);
ui.file.addEventListener("change", () => setFile(ui.file.files[0]));
ui.model.addEventListener("change", fillVersions);
ui.threshold.addEventListener("input", () => {
  ui.thresholdValue.textContent = Number(ui.threshold.value).toFixed(2);
  drawSkeleton();
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
  const url = URL.createObjectURL(new Blob([ui.raw.textContent], { type: "application/json" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = `${(state.file?.name || "image").replace(/\.[^.]*$/, "")}.pose.json`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
});

document.addEventListener("dragover", (event) => {
  event.preventDefault();
  ui.stage.classList.add("dragging-file");
});
document.addEventListener("dragleave", () => ui.stage.classList.remove("dragging-file"));
document.addEventListener("drop", (event) => {
  event.preventDefault();
  ui.stage.classList.remove("dragging-file");
  setFile(event.dataTransfer.files[0]);
});
document.addEventListener("paste", (event) => {
  const file = [...event.clipboardData.files].find((f) => f.type.startsWith("image/"));
  if (!file) return;
  event.preventDefault();
  setFile(file);
});

new ResizeObserver(drawSkeleton).observe(ui.photo);

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
  await loadModels();
  ui.stage.dataset.ready = "true";
}

start();
