// A participant's page: one clip at a time, in the order the server gives, answers saved at once.
"use strict";
const base = location.pathname.replace(/\/+$/, "");
const $ = (id) => document.getElementById(id);
let order = [], position = 0;

async function call(path, options) {
  const response = await fetch(base + path, options);
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.detail || response.statusText);
  }
  return response.json();
}

function show() {
  $("progress").textContent = `Clip ${Math.min(position + 1, order.length)} of ${order.length}`;
  if (position >= order.length) {
    $("clip").hidden = true;
    $("done").hidden = false;
    return;
  }
  $("clip").hidden = false;
  $("answer").reset();
  $("status").textContent = "";
  const video = $("video");
  video.src = `${base}/stimuli/${order[position]}.webm`;
  video.load();
}

$("answer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData($("answer"));
  const body = {
    stimulus: order[position],
    real: form.get("real") === "true",
    category: form.get("category"),
    rating: Number(form.get("rating")),
  };
  try {
    await call("/answers", {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
    });
    position += 1;
    show();
  } catch (error) {
    $("status").textContent = "Not saved: " + error.message;
  }
});

(async () => {
  try {
    const info = await call("/order");
    for (const name of info.categories) $("category").append(new Option(name, name));
    for (let r = 1; r <= 5; r++) {
      const label = document.createElement("label");
      label.innerHTML = `<input type="radio" name="rating" value="${r}" required> ${r}`;
      $("ratings").append(label);
    }
    // Answered clips first, so the count goes on where the participant stopped.
    const done = new Set(info.answered);
    order = [...info.stimuli.filter((t) => done.has(t)), ...info.stimuli.filter((t) => !done.has(t))];
    position = done.size;
    show();
  } catch (error) {
    $("intro").textContent = "This link does not open a survey: " + error.message;
  }
})();
