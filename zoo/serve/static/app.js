// The draw-a-digit page: a canvas drawn on with Pointer Events (mouse, pen, touch), throttled
// predictions from /api/predict while drawing, and the Weights tab from /api/weights.
//
// For tests and curious readers, the page states what it shows in data attributes:
// #pad[data-version] counts changes to the drawing, #pad[data-pointer] names the last pointer
// type that drew (mouse, pen, touch); #results[data-version] is the drawing
// version the shown results belong to (equal: up to date), #results[data-state] is
// empty | ok | error; each .model[data-model][data-top] holds a model's top label.
"use strict";

(function () {
  const THROTTLE_MS = 150;
  const INK = "#161616";
  const PAPER = "#ffffff";

  const pad = document.getElementById("pad");
  const ctx = pad.getContext("2d");
  const preview = document.getElementById("input");
  const results = document.getElementById("results");
  const status = document.getElementById("status");

  const state = {
    version: 0, // bumped by every change to the drawing
    requested: -1, // the version last sent for prediction
    epoch: 0, // bumped by Clear: older responses are dropped
    inFlight: false,
    lastSent: 0,
    timer: null,
    ink: false,
    stroke: null, // { id, x, y } of the pointer drawing now
  };
  let models = [];

  // --- drawing -------------------------------------------------------------------------------

  function resetPad() {
    ctx.fillStyle = PAPER;
    ctx.fillRect(0, 0, pad.width, pad.height);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = INK;
    ctx.fillStyle = INK;
    ctx.lineWidth = pad.width / 14;
  }

  // The canvas may be shown larger or smaller than its 280×280 pixels.
  function point(event) {
    const box = pad.getBoundingClientRect();
    return {
      x: ((event.clientX - box.left) * pad.width) / box.width,
      y: ((event.clientY - box.top) * pad.height) / box.height,
    };
  }

  function dot(p) {
    ctx.beginPath();
    ctx.arc(p.x, p.y, ctx.lineWidth / 2, 0, 2 * Math.PI);
    ctx.fill();
  }

  function segment(from, to) {
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  }

  function changed() {
    state.version += 1;
    state.ink = true;
    pad.dataset.version = String(state.version);
    schedule();
  }

  pad.addEventListener("pointerdown", (event) => {
    if (state.stroke || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    const p = point(event);
    state.stroke = { id: event.pointerId, ...p };
    pad.dataset.pointer = event.pointerType;
    dot(p);
    changed();
  });

  pad.addEventListener("pointermove", (event) => {
    if (!state.stroke || state.stroke.id !== event.pointerId) return;
    // Coalesced events keep fast strokes smooth where the browser batches them.
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) {
      const p = point(e);
      segment(state.stroke, p);
      Object.assign(state.stroke, p);
    }
    changed();
  });

  function endStroke(event) {
    if (!state.stroke || state.stroke.id !== event.pointerId) return;
    state.stroke = null;
    schedule();
  }
  pad.addEventListener("pointerup", endStroke);
  pad.addEventListener("pointercancel", endStroke);

  document.getElementById("clear").addEventListener("click", () => {
    resetPad();
    state.epoch += 1;
    state.version += 1;
    state.ink = false;
    state.stroke = null;
    clearTimeout(state.timer);
    state.timer = null;
    pad.dataset.version = String(state.version);
    showEmpty("Draw a digit with your mouse, pen or finger.");
    results.dataset.version = String(state.version);
  });

  // --- predictions ---------------------------------------------------------------------------

  // At most one request in flight, at most one every THROTTLE_MS; the last drawing is always sent.
  function schedule() {
    if (state.inFlight || state.timer || !state.ink || state.requested === state.version) return;
    const wait = Math.max(0, state.lastSent + THROTTLE_MS - performance.now());
    state.timer = setTimeout(() => {
      state.timer = null;
      predict();
    }, wait);
  }

  async function predict() {
    const version = state.version;
    const epoch = state.epoch;
    state.requested = version;
    state.inFlight = true;
    state.lastSent = performance.now();
    status.textContent = "Reading your digit…";
    let reply;
    try {
      const response = await fetch("/api/predict", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ image: pad.toDataURL("image/png") }),
      });
      reply = { ok: response.ok, body: await response.json() };
    } catch (error) {
      reply = { ok: false, body: { error: "the server cannot be reached (is zoo serve running?)" } };
    }
    state.inFlight = false;
    if (epoch === state.epoch) {
      if (reply.ok) showPrediction(reply.body);
      else showError(reply.body.error || "the server sent no explanation");
      results.dataset.version = String(version);
    }
    schedule();
  }

  function showPrediction(body) {
    drawPreview(body.input);
    for (const prediction of body.predictions) {
      const row = results.querySelector(`.model[data-model="${CSS.escape(prediction.model)}"]`);
      if (row) updateModel(row, prediction);
    }
    results.dataset.state = "ok";
    status.textContent = "Keep drawing, or Clear and try another digit.";
  }

  function showError(message) {
    results.dataset.state = "error";
    status.textContent = message.charAt(0).toUpperCase() + message.slice(1);
    resetModels();
    clearPreview();
  }

  function showEmpty(message) {
    results.dataset.state = "empty";
    status.textContent = message;
    resetModels();
    clearPreview();
  }

  function drawPreview(rows) {
    const image = preview.getContext("2d").createImageData(28, 28);
    rows.flat().forEach((value, i) => {
      image.data.set([value, value, value, 255], i * 4);
    });
    preview.getContext("2d").putImageData(image, 0, 0);
    preview.dataset.filled = "true";
  }

  function clearPreview() {
    const c = preview.getContext("2d");
    c.fillStyle = "#000";
    c.fillRect(0, 0, 28, 28);
    preview.dataset.filled = "false";
  }

  // --- model rows ----------------------------------------------------------------------------

  function percent(p, digits) {
    return (100 * p).toFixed(digits) + "\u00a0%"; // no line break between number and sign
  }

  function modelRow(model) {
    const row = document.createElement("article");
    row.className = "model";
    row.dataset.model = model.key;
    row.dataset.top = "";
    const head = row.appendChild(document.createElement("header"));
    const name = head.appendChild(document.createElement("h3"));
    name.textContent = model.class;
    const meta = head.appendChild(document.createElement("p"));
    meta.className = "meta";
    meta.appendChild(document.createElement("code")).textContent = model.key;
    meta.append(document.createElement("br"), `${percent(model.accuracy, 2)} on the test set`);
    const answer = head.appendChild(document.createElement("p"));
    answer.className = "answer";
    const bars = row.appendChild(document.createElement("div"));
    bars.className = "bars";
    bars.setAttribute("role", "img");
    model.categories.forEach((label, i) => {
      const bar = bars.appendChild(document.createElement("div"));
      bar.className = "bar";
      bar.dataset.index = String(i);
      bar.appendChild(document.createElement("span")).className = "fill";
      const text = bar.appendChild(document.createElement("span"));
      text.className = "label";
      text.textContent = label;
    });
    return row;
  }

  function updateModel(row, prediction) {
    const probabilities = prediction.probabilities;
    const best = probabilities.indexOf(Math.max(...probabilities));
    row.dataset.top = prediction.top;
    row.querySelector(".answer").textContent =
      `${prediction.top} · ${percent(probabilities[best], 1)}`;
    row.querySelectorAll(".bar").forEach((bar, i) => {
      bar.querySelector(".fill").style.height = `${(100 * probabilities[i]).toFixed(2)}%`;
      bar.classList.toggle("top", i === best);
      bar.title = `${bar.textContent}: ${percent(probabilities[i], 2)}`;
    });
    row.querySelector(".bars").setAttribute(
      "aria-label",
      `most likely ${prediction.top} (${percent(probabilities[best], 1)})`,
    );
  }

  function resetModels() {
    for (const row of results.querySelectorAll(".model")) {
      row.dataset.top = "";
      row.querySelector(".answer").textContent = "";
      row.querySelectorAll(".bar").forEach((bar) => {
        bar.querySelector(".fill").style.height = "0";
        bar.classList.remove("top");
        bar.removeAttribute("title");
      });
    }
  }

  async function loadModels() {
    try {
      const response = await fetch("/api/models");
      models = (await response.json()).models;
    } catch (error) {
      status.textContent = "The server cannot be reached (is zoo serve running?).";
      return;
    }
    results.replaceChildren(...models.map(modelRow));
    results.dataset.models = String(models.length);
  }

  // --- tabs and the Weights tab ----------------------------------------------------------------

  const tabs = ["draw", "weights"];

  function selectTab(name) {
    for (const tab of tabs) {
      const button = document.getElementById("tab-" + tab);
      const selected = tab === name;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
      document.getElementById("panel-" + tab).hidden = !selected;
    }
    if (name === "weights") loadWeights();
  }

  for (const tab of tabs) {
    const button = document.getElementById("tab-" + tab);
    button.addEventListener("click", () => selectTab(tab));
    button.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
      const next = tabs[(tabs.indexOf(tab) + 1) % tabs.length];
      selectTab(next);
      document.getElementById("tab-" + next).focus();
    });
  }

  let weightsLoaded = null;

  function loadWeights() {
    weightsLoaded = weightsLoaded || fetchWeights();
    return weightsLoaded;
  }

  async function fetchWeights() {
    const target = document.getElementById("weights-table");
    let body;
    try {
      body = await (await fetch("/api/weights")).json();
    } catch (error) {
      weightsLoaded = null;
      target.textContent = "The weights could not be loaded; is zoo serve running?";
      return;
    }
    target.replaceChildren(html(body.table_html));
    const cards = document.getElementById("cards");
    cards.replaceChildren(...body.weights.map((w) => card(w, body.shown.includes(w.key))));
    target.dataset.loaded = "true";
    openLinkedCard();
  }

  function card(weight, shown) {
    const details = document.createElement("details");
    details.className = "card md";
    details.id = "card-" + weight.key;
    details.dataset.key = weight.key;
    const summary = details.appendChild(document.createElement("summary"));
    const key = summary.appendChild(document.createElement("code"));
    key.textContent = weight.key;
    const about = [weight.class, weight.dataset, metricText(weight.metric)];
    if (weight.default) about.push("default");
    if (shown) about.push("on the Draw tab");
    summary.append(" " + about.join(" · "));
    if (weight.card_html) {
      details.append(html(weight.card_html));
    } else {
      details.appendChild(document.createElement("p")).textContent = "This weight has no card.";
    }
    return details;
  }

  // The table and cards come rendered and sanitised by the server (markdown-it-py, raw HTML
  // off, links and images allow-listed); a template parses them inertly, and the page's
  // Content-Security-Policy would refuse any script or inline style that got through.
  function html(markup) {
    const template = document.createElement("template");
    template.innerHTML = markup;
    return template.content;
  }

  function metricText(metric) {
    return metric.name === "acc" ? percent(metric.value, 2) : `${metric.name} ${metric.value}`;
  }

  // Links in the table point at #card-KEY: open that card and bring it into view.
  function openLinkedCard() {
    const match = /^#card-([\w.-]+)$/.exec(location.hash);
    const target = match && document.getElementById("card-" + match[1]);
    if (!target) return;
    target.open = true;
    target.scrollIntoView({ block: "start" });
  }
  window.addEventListener("hashchange", openLinkedCard);

  // --- start -----------------------------------------------------------------------------------

  resetPad();
  clearPreview();
  loadModels();
  if (location.hash.startsWith("#card-")) selectTab("weights");
})();
