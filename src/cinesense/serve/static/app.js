// The cinesense page: type a comment, drop / paste / choose a sticker, see the verdict, the
// probability, the words shaded by attention and the image's attention heat map.
// Plain browser JavaScript, no build step. Colours follow cinesense/explain (highlight.py, heatmap.py).
"use strict";

const $ = (id) => document.getElementById(id);
const FLOOR = 0.1; // below this share of the strongest weight a word is left unshaded
let sticker = null; // the File to send
let modality = "text";

function shadeColour(strength) { // pale yellow (weak) to red (strongest), as explain/highlight.py
  const s = Math.min(Math.max(strength, 0), 1);
  return [255, Math.round(235 - 175 * s), Math.round(150 - 150 * s)];
}

function jet(x) { // matplotlib's "jet", piecewise linear
  const c = (v) => Math.min(Math.max(v, 0), 1);
  return [c(1.5 - Math.abs(4 * x - 3)), c(1.5 - Math.abs(4 * x - 2)), c(1.5 - Math.abs(4 * x - 1))];
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function loadModel() {
  try {
    const response = await fetch("/v1/model");
    const info = await response.json();
    modality = info.modality;
    $("model").textContent = `${info.modality} model · classes ${info.classes.join(", ")}` +
      (info.version ? ` · version ${info.version}` : "");
    $("text-box").hidden = modality === "image";
    $("drop").hidden = modality === "text";
    $("text").maxLength = info.limits.max_text_chars;
  } catch (error) {
    $("model").textContent = "the model's description could not be loaded";
  }
}

function setSticker(file) {
  if (!file || !file.type.startsWith("image/")) {
    showError("that is not an image");
    return;
  }
  showError("");
  sticker = file;
  $("preview").src = URL.createObjectURL(file);
  $("preview").hidden = false;
  $("clear-image").hidden = false;
}

function clearSticker() {
  sticker = null;
  $("file").value = "";
  $("preview").hidden = true;
  $("preview").removeAttribute("src");
  $("clear-image").hidden = true;
}

function renderHighlights(highlights) {
  const box = $("highlights");
  box.replaceChildren();
  const peak = Math.max(0, ...highlights.filter((h) => h.weight !== null).map((h) => h.weight));
  for (const piece of highlights) {
    const span = document.createElement("span");
    span.textContent = piece.text;
    if (piece.weight !== null) {
      const strength = peak > 0 ? piece.weight / peak : 0;
      span.className = "tok";
      span.dataset.weight = piece.weight.toFixed(4);
      span.title = `attention ${piece.weight.toFixed(3)}`;
      if (strength >= FLOOR) span.style.backgroundColor = `rgb(${shadeColour(strength).join(", ")})`;
    }
    box.appendChild(span);
  }
  $("words").hidden = highlights.length === 0;
}

function bilinear(grid, size) { // grid (h x w) -> size x size, pixel centres aligned as Pillow's resize
  const h = grid.length, w = grid[0].length, out = new Float32Array(size * size);
  const at = (r, c) => grid[Math.min(Math.max(r, 0), h - 1)][Math.min(Math.max(c, 0), w - 1)];
  for (let y = 0; y < size; y++) {
    const v = Math.max((y + 0.5) * h / size - 0.5, 0), r = Math.floor(v), fy = v - r;
    for (let x = 0; x < size; x++) {
      const u = Math.max((x + 0.5) * w / size - 0.5, 0), c = Math.floor(u), fx = u - c;
      out[y * size + x] = (1 - fy) * ((1 - fx) * at(r, c) + fx * at(r, c + 1)) + fy * ((1 - fx) * at(r + 1, c) + fx * at(r + 1, c + 1));
    }
  }
  return out;
}

async function renderHeatmap(file, attention) {
  const canvas = $("heatmap"), size = canvas.width, context = canvas.getContext("2d");
  const image = await createImageBitmap(file);
  const side = Math.min(image.width, image.height); // the centre square: what the model sees
  context.fillStyle = "#fff";
  context.fillRect(0, 0, size, size);
  context.drawImage(image, (image.width - side) / 2, (image.height - side) / 2, side, side, 0, 0, size, size);
  const values = bilinear(attention, size);
  let low = Infinity, high = -Infinity;
  for (const v of values) { low = Math.min(low, v); high = Math.max(high, v); }
  const spread = high - low; // a uniform map stays cold, as explain/heatmap.py
  const pixels = context.getImageData(0, 0, size, size);
  for (let i = 0; i < values.length; i++) {
    const s = spread > 1e-9 ? (values[i] - low) / spread : 0, colour = jet(s), alpha = 0.25 + 0.45 * s;
    for (let k = 0; k < 3; k++) pixels.data[4 * i + k] = (1 - alpha) * pixels.data[4 * i + k] + alpha * 255 * colour[k];
  }
  context.putImageData(pixels, 0, 0);
  $("heat").hidden = false;
}

function renderBars(probabilities) {
  const bars = $("bars");
  bars.replaceChildren();
  for (const [name, p] of Object.entries(probabilities)) {
    const row = document.createElement("div");
    row.className = "bar";
    row.innerHTML = '<span class="name"></span><span class="fill"></span><span class="value"></span>';
    row.querySelector(".name").textContent = name;
    row.querySelector(".fill").style.width = `${(p * 12).toFixed(2)}rem`;
    row.querySelector(".value").textContent = `${(p * 100).toFixed(1)}%`;
    bars.appendChild(row);
  }
}

async function classify(event) {
  event.preventDefault();
  const text = $("text").value.trim();
  const form = new FormData();
  if (text && modality !== "image") form.append("text", text);
  if (sticker && modality !== "text") form.append("image", sticker);
  $("predict").disabled = true;
  showError("");
  try {
    const response = await fetch("/v1/predict", { method: "POST", body: form });
    const body = await response.json();
    if (!response.ok) {
      showError(body.detail || `error ${response.status}`);
      return;
    }
    $("verdict").textContent = body.label;
    $("probability").textContent = `${(body.probability * 100).toFixed(1)}%`;
    renderBars(body.probabilities);
    renderHighlights(body.highlights || []);
    $("heat").hidden = true;
    $("result").hidden = false;
    if (body.image_attention && sticker) await renderHeatmap(sticker, body.image_attention);
    document.body.dataset.state = "done";
  } catch (error) {
    showError(`the request failed: ${error}`);
  } finally {
    $("predict").disabled = false;
  }
}

function wire() {
  const drop = $("drop");
  $("form").addEventListener("submit", classify);
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("form").requestSubmit();
  });
  $("file").addEventListener("change", () => $("file").files[0] && setSticker($("file").files[0]));
  $("clear-image").addEventListener("click", clearSticker);
  drop.addEventListener("click", (event) => { if (event.target === drop) $("file").click(); });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) setSticker(event.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (event) => {
    const item = [...(event.clipboardData?.items || [])].find((i) => i.kind === "file" && i.type.startsWith("image/"));
    if (item && modality !== "text") {
      event.preventDefault();
      setSticker(item.getAsFile());
    }
  });
}

wire();
loadModel().then(() => { document.body.dataset.state = "ready"; });
