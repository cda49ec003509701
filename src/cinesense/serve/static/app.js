// The cinesense page: type a comment, drop / paste / choose stickers, see the verdict, the
// probability, the words shaded by attention and each sticker's attention heat map. An error, or a
// new request, clears the previous verdict first: nothing on the page belongs to another request.
// Plain browser JavaScript, no build step. Colours follow cinesense/explain (highlight.py, heatmap.py).
"use strict";

const $ = (id) => document.getElementById(id);
const FLOOR = 0.1; // below this share of the strongest weight a word is left unshaded
let stickers = []; // the Files to send (an image model reads one; a fused model several)
let previewUrls = [];
let modality = "text";
let maxImages = 8;
let busy = false;

function shadeColour(strength) { // pale yellow (weak) to red (strongest), as explain/highlight.py
  const s = Math.min(Math.max(strength, 0), 1);
  return [255, Math.round(235 - 175 * s), Math.round(150 - 150 * s)];
}

function jet(x) { // matplotlib's "jet", piecewise linear
  const c = (v) => Math.min(Math.max(v, 0), 1);
  return [c(1.5 - Math.abs(4 * x - 3)), c(1.5 - Math.abs(4 * x - 2)), c(1.5 - Math.abs(4 * x - 1))];
}

function clearResult() { // the previous verdict, bars, shaded words and heat maps
  $("result").hidden = true;
  $("verdict").textContent = "";
  $("probability").textContent = "";
  $("bars").replaceChildren();
  $("highlights").replaceChildren();
  $("words").hidden = true;
  $("heatmaps").replaceChildren();
  $("heat").hidden = true;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
  if (message) {
    clearResult();
    document.body.dataset.state = "error";
  }
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
    if (info.limits.max_images) maxImages = info.limits.max_images;
  } catch (error) {
    $("model").textContent = "the model's description could not be loaded";
  }
}

function addStickers(files) { // an image model keeps the last one; a fused model adds them, up to max_images
  const images = [...files].filter((file) => file && file.type.startsWith("image/"));
  if (images.length === 0) {
    showError("that is not an image");
    return;
  }
  showError("");
  let kept = modality === "image" ? [images[images.length - 1]] : [...stickers, ...images];
  if (kept.length > maxImages) {
    kept = kept.slice(0, maxImages);
    showError(`at most ${maxImages} stickers on one comment`);
  }
  stickers = kept;
  renderPreviews();
}

function renderPreviews() {
  previewUrls.forEach((url) => URL.revokeObjectURL(url));
  previewUrls = stickers.map((file) => URL.createObjectURL(file));
  $("previews").replaceChildren(...previewUrls.map((url, i) => {
    const image = document.createElement("img");
    image.src = url;
    image.alt = `sticker ${i + 1}`;
    return image;
  }));
  $("clear-image").hidden = stickers.length === 0;
  $("clear-image").textContent = stickers.length > 1 ? "remove all" : "remove";
}

function clearStickers() {
  stickers = [];
  $("file").value = "";
  renderPreviews();
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

async function renderHeatmap(file, attention, index) { // a new canvas in #heatmaps
  const canvas = document.createElement("canvas");
  canvas.className = "heatmap";
  canvas.width = canvas.height = 320;
  canvas.setAttribute("aria-label", `attention heat map of sticker ${index + 1}`);
  $("heatmaps").appendChild(canvas);
  const size = canvas.width, context = canvas.getContext("2d");
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
  if (busy) return; // Ctrl+Enter while a request runs
  const text = $("text").value.trim();
  const sent = modality === "text" ? [] : [...stickers]; // the stickers of this request, whatever is dropped meanwhile
  const form = new FormData();
  if (text && modality !== "image") form.append("text", text);
  for (const file of sent) form.append("image", file);
  busy = true;
  $("predict").disabled = true;
  showError("");
  clearResult();
  document.body.dataset.state = "busy";
  try {
    const response = await fetch("/v1/predict", { method: "POST", body: form });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      showError(body.detail || `error ${response.status}`);
      return;
    }
    $("verdict").textContent = body.label;
    $("probability").textContent = `${(body.probability * 100).toFixed(1)}%`;
    renderBars(body.probabilities);
    renderHighlights(body.highlights || []);
    $("result").hidden = false;
    const attentions = body.image_attentions || (body.image_attention ? [body.image_attention] : []);
    for (let i = 0; i < Math.min(attentions.length, sent.length); i++) await renderHeatmap(sent[i], attentions[i], i);
    document.body.dataset.state = "done";
  } catch (error) {
    showError(`the request failed: ${error}`);
  } finally {
    busy = false;
    $("predict").disabled = false;
  }
}

function wire() {
  const drop = $("drop");
  $("form").addEventListener("submit", classify);
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("form").requestSubmit();
  });
  $("file").addEventListener("change", () => {
    if ($("file").files.length) addStickers($("file").files);
    $("file").value = ""; // choosing the same file again adds it again
  });
  $("clear-image").addEventListener("click", clearStickers);
  drop.addEventListener("click", (event) => { if (event.target === drop) $("file").click(); });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) addStickers(event.dataTransfer.files);
  });
  document.addEventListener("paste", (event) => {
    const items = [...(event.clipboardData?.items || [])].filter((i) => i.kind === "file" && i.type.startsWith("image/"));
    if (items.length && modality !== "text") {
      event.preventDefault();
      addStickers(items.map((i) => i.getAsFile()));
    }
  });
}

wire();
loadModel().then(() => { document.body.dataset.state = "ready"; });
