// Segment rule builder with a live size preview. Writes the rule tree into the JSON textarea (what the
// form submits) and asks the server for the size of whatever the textarea holds.
(function () {
  "use strict";
  var form = document.getElementById("segment-form");
  if (!form) return;
  var rules = document.getElementById("rules");
  var clauses = document.getElementById("clauses");
  var combine = document.getElementById("combine");
  var sizeEl = document.getElementById("preview-size");
  var noteEl = document.getElementById("preview-note");
  var token = form.querySelector("input[name=__RequestVerificationToken]").value;
  var ops = {
    attribute: [["eq", "is"], ["ne", "is not"], ["gt", ">"], ["lt", "<"], ["contains", "contains"], ["in", "is one of (comma list)"], ["exists", "is set"], ["notExists", "is not set"], ["withinLastDays", "within last N days"]],
    device: [["eq", "is"], ["ne", "is not"], ["gt", ">"], ["lt", "<"], ["contains", "contains"], ["in", "is one of (comma list)"]],
    event: [["did", "did, in the last N days (blank = ever)"], ["didNot", "did not, in the last N days (blank = ever)"]],
    segment: [["in", "is a member"]],
    geofence: [["id", "is inside the fence"], ["group", "is inside a fence of the group"]],
    predicted: [["top", "is in the top N% most likely"], ["minScore", "has a score of at least (0–1)"]]
  };
  var placeholders = {
    attribute: "attribute, e.g. city", device: "platform, pushEnabled, appVersion…", event: "event name", segment: "segment id",
    geofence: "fence or group id", predicted: "churn, purchase or optout"
  };

  function el(tag, attrs) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }

  function typed(v) {
    if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
    if (v === "true" || v === "false") return v === "true";
    return v;
  }

  function addClause(c) {
    c = c || { type: "attribute", field: "", op: "eq", value: "" };
    var row = el("div", { "class": "clause" });
    var type = el("select", { "aria-label": "Condition type" });
    ["attribute", "device", "event", "segment", "geofence", "predicted"].forEach(function (t) { var o = el("option", { value: t }); o.textContent = t; type.appendChild(o); });
    type.value = c.type;
    var field = el("input", { "aria-label": "Field", "class": "field" });
    var op = el("select", { "aria-label": "Operator" });
    var value = el("input", { "aria-label": "Value", "class": "value" });
    var remove = el("button", { type: "button", "class": "small danger", "aria-label": "Remove condition" });
    remove.textContent = "✕";
    function fillOps() {
      op.innerHTML = "";
      ops[type.value].forEach(function (p) { var o = el("option", { value: p[0] }); o.textContent = p[1]; op.appendChild(o); });
      field.placeholder = placeholders[type.value];
      if (type.value === "event") field.setAttribute("list", "event-names"); else field.removeAttribute("list");
      value.placeholder = type.value === "event" ? "days (optional)" : type.value === "predicted" ? "e.g. 20" : /segment|geofence/.test(type.value) ? "" : "value";
      value.disabled = type.value === "segment" || type.value === "geofence";
    }
    fillOps();
    field.value = c.field; op.value = c.op; value.value = c.value;
    type.addEventListener("change", function () { fillOps(); sync(); });
    [field, op, value].forEach(function (x) { x.addEventListener("input", sync); x.addEventListener("change", sync); });
    remove.addEventListener("click", function () { row.remove(); sync(); });
    [type, field, op, value, remove].forEach(function (x) { row.appendChild(x); });
    clauses.appendChild(row);
  }

  function toRule(row) {
    var s = row.querySelectorAll("select, input");
    var type = s[0].value, field = s[1].value.trim(), op = s[2].value, value = s[3].value.trim();
    if (!field) return null;
    if (type === "segment") return { segment: Number(field) };
    if (type === "geofence") { var g = {}; g[op] = Number(field); return { geofence: g }; }
    if (type === "predicted") { var p = { model: field }; p[op] = Number(value); return { predicted: p }; }
    if (type === "event") {
      var r = { event: field };
      if (op === "didNot") r.did = false;
      if (value) r.withinLastDays = Number(value);
      return r;
    }
    var rule = {}; rule[type] = field; rule.op = op;
    if (op === "in") rule.value = value.split(",").map(function (v) { return typed(v.trim()); });
    else if (op === "withinLastDays") rule.value = Number(value);
    else if (op !== "exists" && op !== "notExists") rule.value = typed(value);
    return rule;
  }

  function sync() {
    var list = Array.prototype.map.call(clauses.children, toRule).filter(Boolean);
    var tree = {}; tree[combine.value] = list;
    rules.value = JSON.stringify(tree, null, 2);
    schedule();
  }

  // Loads a flat and/or of simple conditions into the builder; anything deeper stays JSON-only.
  function load() {
    var tree;
    try { tree = JSON.parse(rules.value || "null"); } catch (e) { return false; }
    if (!tree) return true;
    var key = tree.and ? "and" : tree.or ? "or" : null;
    if (!key || !Array.isArray(tree[key])) return false;
    var rows = [];
    for (var i = 0; i < tree[key].length; i++) {
      var r = tree[key][i];
      if (r.attribute || r.device) {
        var t = r.attribute ? "attribute" : "device";
        rows.push({ type: t, field: r[t], op: r.op, value: Array.isArray(r.value) ? r.value.join(", ") : r.value === undefined ? "" : String(r.value) });
      } else if (r.event && !r.where && !r.atLeast && !r.atMost && !r.from) {
        rows.push({ type: "event", field: r.event, op: r.did === false ? "didNot" : "did", value: r.withinLastDays ? String(r.withinLastDays) : "" });
      } else if (r.segment) {
        rows.push({ type: "segment", field: String(r.segment), op: "in", value: "" });
      } else if (r.geofence && (r.geofence.id || r.geofence.group)) {
        rows.push({ type: "geofence", field: String(r.geofence.id || r.geofence.group), op: r.geofence.id ? "id" : "group", value: "" });
      } else if (r.predicted && (r.predicted.top === undefined) !== (r.predicted.minScore === undefined)) {
        var k = r.predicted.top !== undefined ? "top" : "minScore";
        rows.push({ type: "predicted", field: r.predicted.model, op: k, value: String(r.predicted[k]) });
      } else return false;
    }
    combine.value = key;
    rows.forEach(addClause);
    return true;
  }

  var timer = null, seq = 0;
  function schedule() { clearTimeout(timer); timer = setTimeout(preview, 300); }
  function preview() {
    var body;
    try { body = JSON.stringify({ rules: JSON.parse(rules.value) }); } catch (e) { noteEl.textContent = "(the JSON is not valid yet)"; return; }
    var mine = ++seq;
    noteEl.textContent = "(counting…)";
    fetch(form.getAttribute("data-preview"), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "RequestVerificationToken": token },
      body: body
    }).then(function (r) { return r.json().catch(function () { return { error: "HTTP " + r.status }; }); })
      .then(function (d) {
        if (mine !== seq) return;
        if (d.error) { noteEl.textContent = "(" + d.error + ")"; return; }
        sizeEl.textContent = Number(d.size).toLocaleString("en-US");
        noteEl.textContent = "(updates as you edit)";
      })
      .catch(function () { if (mine === seq) noteEl.textContent = "(could not reach the server)"; });
  }

  if (!load()) {
    form.querySelector("details.advanced").open = true;
    clauses.parentElement.querySelector("#add-clause").disabled = true;
    clauses.textContent = "This segment uses nested rules: edit them as JSON below.";
  } else if (clauses.children.length === 0) {
    addClause();
  }
  document.getElementById("add-clause").addEventListener("click", function () { addClause(); });
  combine.addEventListener("change", sync);
  rules.addEventListener("input", schedule);
  preview();
})();
