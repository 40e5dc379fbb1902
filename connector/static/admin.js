/* Parlons admin: progress on forms, confirmations, charts, the live SMS counter, and, inside
   Shopify admin, a fresh session token on every link and form (App Bridge's shopify.idToken()). */
"use strict";

function embedded() { return typeof window.shopify !== "undefined" && document.body.classList.contains("embedded"); }

async function withToken(url) {
  const u = new URL(url, location.href);
  if (u.origin === location.origin && embedded()) u.searchParams.set("id_token", await window.shopify.idToken());
  return u.toString();
}

document.addEventListener("click", async (event) => {
  const link = event.target.closest("a[href]");
  if (!link || !embedded() || link.target || event.defaultPrevented) return;
  const u = new URL(link.href, location.href);
  if (u.origin !== location.origin || !u.pathname.startsWith("/admin")) return;
  event.preventDefault();
  location.assign(await withToken(u));
});

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) { event.preventDefault(); return; }
  const button = event.submitter || form.querySelector("button");
  if (form.dataset.submitting) { event.preventDefault(); return; }
  form.dataset.submitting = "1";
  if (button) {
    button.setAttribute("aria-busy", "true");
    if (button.name) {  // keep the pressed button's value once it is disabled
      const hidden = Object.assign(document.createElement("input"), { type: "hidden", name: button.name, value: button.value });
      form.appendChild(hidden);
    }
    setTimeout(() => { button.disabled = true; }, 0);
  }
  if (embedded() && form.method.toLowerCase() === "post") {
    event.preventDefault();
    form.action = await withToken(form.action);
    HTMLFormElement.prototype.submit.call(form);
  }
});

window.addEventListener("pageshow", () => {  // back/forward cache: buttons usable again
  document.querySelectorAll("form[data-submitting]").forEach((f) => { delete f.dataset.submitting; });
  document.querySelectorAll("button[aria-busy]").forEach((b) => { b.removeAttribute("aria-busy"); b.disabled = false; });
});

function drawCharts() {
  if (typeof window.Chart === "undefined") return;
  document.querySelectorAll("canvas[data-series]").forEach((canvas) => {
    const data = JSON.parse(canvas.dataset.series);
    const small = canvas.dataset.size === "small";
    new window.Chart(canvas, {
      type: data.type || "line",
      data: {
        labels: data.labels,
        datasets: data.datasets.map((d, i) => ({
          label: d.label, data: d.data, borderColor: i ? "#8a8a8a" : "#005bd3",
          backgroundColor: i ? "#8a8a8a33" : "#005bd333", borderDash: i ? [4, 4] : [],
          tension: 0.3, pointRadius: small ? 0 : 2, fill: !small && !i,
        })),
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: !small } },
        scales: small ? { x: { display: false }, y: { display: false, beginAtZero: true } } : { y: { beginAtZero: true } },
      },
    });
  });
}

function liveCounters() {
  document.querySelectorAll("textarea[data-preview-url]").forEach((area) => {
    const out = document.getElementById(area.dataset.counter);
    let timer = null;
    let asked = 0;
    const ask = async () => {
      const n = ++asked;
      const body = new URLSearchParams({ text: area.value, csrf_token: area.dataset.csrf });
      const url = await withToken(area.dataset.previewUrl);
      const answer = await fetch(url, { method: "POST", body, headers: { "X-CSRF-Token": area.dataset.csrf } });
      if (n !== asked) return;  // a newer text was sent meanwhile
      const p = await answer.json();
      if (!answer.ok) { out.textContent = (p.errors && Object.values(p.errors).flat().join(" ")) || p.message; return; }
      const cost = p.cost === null ? "—" : `${p.cost} ${p.currency}`;
      out.textContent = out.dataset.template
        .replace("{chars}", p.characters).replace("{segments}", p.segments)
        .replace("{encoding}", p.encoding).replace("{cost}", cost);
    };
    area.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, 250); });
    ask();
  });
}

function variablePickers() {
  // "Insert a variable": puts {{ name }} where the cursor is in its textarea, then recounts
  document.querySelectorAll("select[data-insert-into]").forEach((picker) => {
    picker.addEventListener("change", () => {
      const area = document.getElementById(picker.dataset.insertInto);
      if (!picker.value || !area) return;
      const token = `{{ ${picker.value} }}`;
      const start = area.selectionStart ?? area.value.length;
      const end = area.selectionEnd ?? start;
      area.value = area.value.slice(0, start) + token + area.value.slice(end);
      area.focus();
      area.setSelectionRange(start + token.length, start + token.length);
      area.dispatchEvent(new Event("input", { bubbles: true }));
      picker.value = "";
    });
  });
}

function segmentBuilder() {
  const form = document.getElementById("segment-form");
  if (!form) return;
  const rows = document.getElementById("rows");
  document.getElementById("add-row").addEventListener("click", () => {
    const last = rows.lastElementChild;
    const row = last.cloneNode(true);
    const n = rows.children.length;
    row.querySelectorAll("[id]").forEach((el) => { el.id = el.id.replace(/-\d+$/, `-${n}`); });
    row.querySelectorAll("label[for]").forEach((el) => { el.htmlFor = el.htmlFor.replace(/-\d+$/, `-${n}`); });
    row.querySelector("input").value = "";
    row.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; });
    rows.appendChild(row);
    row.querySelector("select").focus();
    recount();
  });
  const out = document.getElementById("segment-count");
  const sample = document.getElementById("segment-sample");
  const problem = document.getElementById("segment-count-error");
  let timer = null;
  let asked = 0;
  async function recount() {
    const n = ++asked;
    const body = new FormData(form);
    body.set("csrf_token", form.dataset.csrfCount);
    out.setAttribute("aria-busy", "true");
    const answer = await fetch(await withToken(form.dataset.countUrl), { method: "POST", body });
    if (n !== asked) return;
    out.removeAttribute("aria-busy");
    const p = await answer.json();
    if (!answer.ok) { problem.textContent = Object.entries(p.errors || {}).map(([k, v]) => `${k}: ${v}`).join(" · "); return; }
    problem.textContent = "";
    out.querySelector("[data-matching]").textContent = p.matching;
    out.querySelector("[data-reachable]").textContent = p.reachable;
    sample.replaceChildren(...(p.sample || []).map((c) => {
      const li = document.createElement("li");
      li.textContent = `${[c.first_name, c.last_name].filter(Boolean).join(" ") || "—"} · ${c.phone || ""}${c.reachable ? "" : ` · ${c.unreachable_reason}`}`;
      return li;
    }));
  }
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(recount, 300); });
  form.addEventListener("change", () => { clearTimeout(timer); timer = setTimeout(recount, 300); });
  recount();
}

document.addEventListener("DOMContentLoaded", () => { drawCharts(); liveCounters(); variablePickers(); segmentBuilder(); });
