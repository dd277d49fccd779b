// Live screening for the collection compose box: asks the server while the collector types and
// shows which rules the draft would break. Sending is checked again on the server either way.
(function () {
  "use strict";
  var form = document.getElementById("compose");
  var text = document.getElementById("text");
  var target = document.getElementById("target");
  var out = document.getElementById("screening");
  if (!form || !text || !out) { return; }
  var timer = null;
  function audience() {
    var opt = target && target.options[target.selectedIndex];
    return opt ? opt.getAttribute("data-audience") : "debtor";
  }
  function check() {
    var body = new URLSearchParams();
    body.set("text", text.value);
    body.set("audience", audience());
    body.set("csrf", form.elements.csrf.value);
    fetch("/console/collection/screen", { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (res) {
        if (!text.value.trim()) { out.textContent = ""; out.className = ""; return; }
        if (res.allowed) { out.textContent = out.getAttribute("data-ok") || "OK"; out.className = "ok"; return; }
        var parts = res.hits.map(function (h) { return h.rule_id + ": \u201c" + text.value.slice(h.start, h.end) + "\u201d"; });
        out.textContent = (out.getAttribute("data-bad") || "Would be refused") + " \u2014 " + parts.join("; ");
        out.className = "error";
      })
      .catch(function () { out.textContent = ""; });
  }
  text.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 250); });
  if (target) { target.addEventListener("change", check); }
})();
