// Listening-test trial: count the seconds each clip has really played (seeks do not
// count), open the answer buttons at 90% of every clip, and log play/seek events.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("answer-form");
  if (!form) return;
  const started = performance.now();
  const trial = Number(form.dataset.trial);
  const csrf = form.dataset.csrf;
  const players = Array.from(document.querySelectorAll("audio[data-slot]"));
  const played = {};
  const last = {};
  let queue = [];

  function log(audio, event) {
    queue.push({ trial: trial, slot: audio.dataset.slot, event: event,
                 position: audio.currentTime || 0, t: Math.round(performance.now() - started) });
  }
  function flush(keepalive) {
    if (!queue.length) return;
    const body = JSON.stringify({ events: queue });
    queue = [];
    fetch("/test/events", { method: "POST", body: body, keepalive: !!keepalive,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf } }).catch(() => {});
  }
  function update() {
    const ready = players.every((a) => a.duration > 0 && played[a.dataset.slot] >= 0.9 * a.duration);
    form.querySelectorAll("button.answer").forEach((b) => { b.disabled = !ready; });
    players.forEach((a) => {
      const label = document.querySelector(`.played[data-for="${a.dataset.slot}"]`);
      if (label && a.duration > 0) {
        label.textContent = `played ${Math.min(100, Math.round(100 * played[a.dataset.slot] / a.duration))}%`;
      }
    });
    if (ready) document.getElementById("answer-hint").textContent = "You can answer now.";
  }
  players.forEach((audio) => {
    const slot = audio.dataset.slot;
    played[slot] = 0;
    last[slot] = 0;
    audio.addEventListener("play", () => { last[slot] = audio.currentTime; log(audio, "play"); });
    audio.addEventListener("pause", () => log(audio, "pause"));
    audio.addEventListener("ended", () => { log(audio, "ended"); update(); });
    audio.addEventListener("seeked", () => { last[slot] = audio.currentTime; log(audio, "seek"); });
    audio.addEventListener("timeupdate", () => {
      const step = audio.currentTime - last[slot];
      // a jump longer than normal playback between two updates is a seek, not listening
      if (!audio.seeking && step > 0 && step < 1.5 * Math.max(1, audio.playbackRate)) {
        played[slot] += step;
      }
      last[slot] = audio.currentTime;
      update();
    });
  });
  setInterval(() => flush(false), 5000);
  form.addEventListener("submit", () => {
    form.querySelector("input[name=client_ms]").value = Math.round(performance.now() - started);
    flush(true);
  });
});
