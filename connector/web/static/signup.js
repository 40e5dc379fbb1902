/* Parlons SMS sign-up form (no dependency).
 *
 * Paste into the theme:   <script src="https://YOUR_HOST/join/SHOP.myshopify.com/embed.js" async></script>
 * Inline form:            <div data-parlons-signup></div> where the form goes
 * Back-in-stock form:     <div data-parlons-signup data-variant="VARIANT_ID" data-product="PRODUCT_ID"></div>
 * Pop-up:                 add data-popup="8" to the script tag (seconds before it opens, once per visitor)
 * Language:               data-lang="fr|en" on the script tag, else the page's, else the browser's
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var base = script.src.replace(/\/embed\.js(\?.*)?$/, "");
  var lang = (script.getAttribute("data-lang") || document.documentElement.lang || navigator.language || "fr")
    .slice(0, 2).toLowerCase();

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function post(path, fields) {
    var body = new URLSearchParams();
    Object.keys(fields).forEach(function (name) { if (fields[name]) { body.append(name, fields[name]); } });
    return fetch(base + path, { method: "POST", body: body }).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    });
  }

  function firstError(data) {
    var errors = data.errors || {};
    var names = Object.keys(errors);
    return names.length ? errors[names[0]][0] : data.message;
  }

  function build(holder, form) {
    var labels = form.labels;
    var variant = holder.getAttribute("data-variant") || "";
    var box = el("form", { "class": "parlons-signup", novalidate: "" });
    box.appendChild(el("h2", {}, variant ? labels.back : labels.title));
    var phone = el("input", { type: "tel", name: "phone", autocomplete: "tel", required: "", "aria-label": labels.phone,
                              placeholder: labels.phone });
    var trap = el("input", { type: "text", name: "website", tabindex: "-1", autocomplete: "off", "aria-hidden": "true",
                             style: "position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden" });
    var code = el("input", { type: "text", name: "code", inputmode: "numeric", autocomplete: "one-time-code",
                             maxlength: "6", "aria-label": labels.code, placeholder: labels.code, hidden: "" });
    var legal = el("p", { "class": "parlons-legal" }, form.legal_text);
    var button = el("button", { type: "submit" }, labels.submit);
    var status = el("p", { "class": "parlons-status", role: "status", "aria-live": "polite" });
    [phone, trap, code, legal, button, status].forEach(function (node) { box.appendChild(node); });
    var step = "request";
    box.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      var call = step === "request"
        ? post("/request", { phone: phone.value, lang: form.lang, legal_version: form.legal_version,
                             page_url: location.href, website: trap.value, variant_id: variant,
                             product_id: holder.getAttribute("data-product") || "" })
        : post("/confirm", { phone: phone.value, code: code.value });
      call.then(function (answer) {
        button.disabled = false;
        if (answer.status === 202) {
          step = "confirm";
          phone.readOnly = true;
          code.hidden = false;
          code.focus();
          button.textContent = labels.confirm;
          status.textContent = labels.sent;
        } else if (answer.status === 200) {
          code.hidden = true;
          button.hidden = true;
          status.textContent = labels.done;
        } else {
          status.textContent = firstError(answer.data);
        }
      }, function () { button.disabled = false; });
    });
    holder.appendChild(box);
  }

  function popup(form, delay) {
    var key = "parlons-signup-seen:" + base;
    try { if (localStorage.getItem(key)) { return; } } catch (e) { /* private mode: show it */ }
    setTimeout(function () {
      var overlay = el("div", { "class": "parlons-popup", role: "dialog", "aria-modal": "true",
        style: "position:fixed;inset:0;background:#0008;display:flex;align-items:center;justify-content:center;z-index:2147483000" });
      var panel = el("div", { style: "background:#fff;color:#222;padding:20px;border-radius:8px;max-width:22rem;position:relative" });
      var close = el("button", { type: "button", "aria-label": form.labels.close,
                                 style: "position:absolute;top:6px;right:8px;border:0;background:none;font-size:1.3rem" }, "×");
      close.addEventListener("click", function () { overlay.remove(); });
      panel.appendChild(close);
      build(panel, form);
      overlay.appendChild(panel);
      document.body.appendChild(overlay);
      try { localStorage.setItem(key, "1"); } catch (e) { /* nothing to remember it with */ }
    }, delay * 1000);
  }

  fetch(base + "/form.json?lang=" + encodeURIComponent(lang)).then(function (r) { return r.json(); }).then(function (form) {
    document.querySelectorAll("[data-parlons-signup]").forEach(function (holder) { build(holder, form); });
    var delay = script.getAttribute("data-popup");
    if (delay !== null) { popup(form, parseFloat(delay) || 0); }
  });
}());
