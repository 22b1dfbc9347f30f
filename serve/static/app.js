// Rawan analyst page: classify a pasted article, show labels/regions/evidence, save corrections.
// Plain browser JavaScript, no build step. Talks to /v1/model, /v1/classify and /v1/annotations.
"use strict";

const I18N = {
  id: {
    tagline: "Klasifikasi kerawanan berita pemilu", title: "Judul (opsional)", text: "Teks berita",
    placeholder: "Tempel atau ketik artikel berita di sini…", classify: "Klasifikasi", issues: "Isu",
    issuesHint: "Centang isu yang benar untuk mengoreksi label.", regions: "Wilayah",
    regionCodes: "Kode wilayah (pisahkan dengan koma, mis. 32.75)", evidence: "Bukti dalam teks",
    save: "Simpan koreksi", annotator: "Nama anotator", token: "Token admin", saveButton: "Simpan",
    working: "Memproses…", empty: "Teks berita masih kosong.", done: "Selesai", noRegions: "Tidak ada wilayah",
    noEvidence: "Tidak ada isu yang terdeteksi.", saved: "Tersimpan", saving: "Menyimpan…",
    needToken: "Isi token admin dulu.", error: "Gagal", threshold: "ambang", toggle: "English",
  },
  en: {
    tagline: "Election-risk news classification", title: "Title (optional)", text: "Article text",
    placeholder: "Paste or type a news article here…", classify: "Classify", issues: "Issues",
    issuesHint: "Tick the issues that are right to correct the labels.", regions: "Regions",
    regionCodes: "Region codes (comma separated, e.g. 32.75)", evidence: "Evidence in the text",
    save: "Save corrections", annotator: "Annotator name", token: "Admin token", saveButton: "Save",
    working: "Working…", empty: "The article text is empty.", done: "Done", noRegions: "No region",
    noEvidence: "No issue detected.", saved: "Saved", saving: "Saving…",
    needToken: "Enter the admin token first.", error: "Failed", threshold: "threshold", toggle: "Bahasa Indonesia",
  },
};
const COLORS = ["#f6c85f", "#9dd866", "#6fb7e9", "#f19cbb", "#ca8bd6", "#ffa056", "#8dddd0", "#e8d07a",
                "#b4b4f0", "#f0a3a3", "#a8d8a0", "#d9b38c"];

const state = { lang: localStorage.getItem("rawan.lang") || "id", model: null, result: null, sent: null };
const $ = (id) => document.getElementById(id);
const t = (key) => I18N[state.lang][key] || key;

function labelName(id) {
  const info = state.model && state.model.labels.find((l) => l.id === id);
  return info ? (info.name[state.lang] || info.name.id) : id;
}

function labelColor(id) {
  const i = state.model ? state.model.labels.findIndex((l) => l.id === id) : 0;
  return COLORS[(i < 0 ? 0 : i) % COLORS.length];
}

function applyLanguage() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  $("lang").textContent = t("toggle");
  if (state.result) render(state.result);
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

async function loadModel(retries = 0) {
  try {
    state.model = await api("/v1/model");
    $("model-name").textContent = `${state.model.name} ${state.model.version}`;
  } catch (err) {
    $("model-name").textContent = "";
    if (retries > 0) setTimeout(() => loadModel(retries - 1), 1000);  // the model may still be loading
  }
}

async function classify() {
  const text = $("text").value;
  if (!text.trim()) { $("status").textContent = t("empty"); return; }
  const title = $("title").value.trim() || null;
  $("status").textContent = t("working");
  $("classify").disabled = true;
  try {
    if (!state.model) await loadModel();
    const result = await api("/v1/classify", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text, title, return_text: true, lang: state.lang }),
    });
    state.result = result;
    state.sent = { text, title };
    $("region-codes").value = result.regions.map((r) => r.code).join(", ");
    render(result);
    $("status").textContent = t("done");
  } catch (err) {
    $("status").textContent = `${t("error")}: ${err.message}`;
  } finally {
    $("classify").disabled = false;
  }
}

function render(result) {
  $("results").hidden = false;
  const checked = new Set(result._checked || result.labels);
  const list = $("labels");
  list.replaceChildren();
  const issues = [...result.issues].sort((a, b) => b.score - a.score);
  for (const issue of issues) {
    const li = document.createElement("li");
    li.className = issue.predicted ? "issue predicted" : "issue";
    li.dataset.label = issue.id;
    const box = document.createElement("input");
    box.type = "checkbox"; box.checked = checked.has(issue.id); box.value = issue.id;
    box.addEventListener("change", () => {
      result._checked = [...document.querySelectorAll("#labels input:checked")].map((b) => b.value);
    });
    const name = document.createElement("span");
    name.className = "name"; name.textContent = labelName(issue.id);
    const bar = document.createElement("span");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.className = "fill"; fill.style.width = `${Math.round(issue.score * 100)}%`;
    fill.style.background = issue.predicted ? labelColor(issue.id) : "#ccc";
    bar.appendChild(fill);
    const info = state.model && state.model.labels.find((l) => l.id === issue.id);
    if (info) {
      const tick = document.createElement("span");
      tick.className = "tick"; tick.style.left = `${Math.round(info.threshold * 100)}%`;
      tick.title = `${t("threshold")} ${info.threshold}`;
      bar.appendChild(tick);
    }
    const score = document.createElement("span");
    score.className = "score"; score.textContent = issue.score.toFixed(2);
    const label = document.createElement("label");
    label.append(box, name);
    li.append(label, bar, score);
    list.appendChild(li);
  }

  const regions = $("regions");
  regions.replaceChildren();
  for (const r of result.regions) {
    const li = document.createElement("li");
    li.className = "region";
    li.textContent = `${r.name} (${r.code})` + (r.province && r.province.code !== r.code ? ` · ${r.province.name}` : "");
    regions.appendChild(li);
  }
  if (!result.regions.length) {
    const li = document.createElement("li");
    li.className = "none"; li.textContent = t("noRegions");
    regions.appendChild(li);
  }
  renderEvidence(result);
}

function renderEvidence(result) {
  const text = result.text || "";
  const marks = [];
  for (const [label, sentences] of Object.entries(result.evidence || {})) {
    for (const s of sentences) marks.push({ start: s.start, end: s.end, label, score: s.score });
  }
  const legend = $("legend");
  legend.replaceChildren();
  if (!Object.keys(result.evidence || {}).length) {
    legend.textContent = t("noEvidence");
  }
  for (const label of Object.keys(result.evidence || {})) {
    const chip = document.createElement("span");
    chip.className = "chip"; chip.style.background = labelColor(label); chip.textContent = labelName(label);
    legend.appendChild(chip);
  }
  // Cut the text at every mark boundary; each piece carries the labels whose evidence covers it.
  const cuts = new Set([0, text.length]);
  for (const m of marks) { cuts.add(m.start); cuts.add(m.end); }
  const points = [...cuts].filter((p) => p >= 0 && p <= text.length).sort((a, b) => a - b);
  const article = $("article");
  article.replaceChildren();
  for (let i = 0; i < points.length - 1; i++) {
    const [a, b] = [points[i], points[i + 1]];
    const piece = text.slice(a, b);
    const covering = marks.filter((m) => m.start <= a && m.end >= b);
    if (!covering.length) { article.appendChild(document.createTextNode(piece)); continue; }
    const mark = document.createElement("mark");
    mark.className = "evidence";
    mark.dataset.labels = covering.map((m) => m.label).join(" ");
    mark.title = covering.map((m) => `${labelName(m.label)} ${m.score.toFixed(2)}`).join("\n");
    mark.style.background = labelColor(covering[0].label);
    if (covering.length > 1) mark.style.boxShadow = `inset 0 -3px 0 ${labelColor(covering[1].label)}`;
    mark.textContent = piece;
    article.appendChild(mark);
  }
}

async function save() {
  if (!state.sent) return;
  const token = $("token").value.trim();
  if (!token) { $("save-status").textContent = t("needToken"); return; }
  localStorage.setItem("rawan.annotator", $("annotator").value.trim());
  sessionStorage.setItem("rawan.token", token);
  const issues = [...document.querySelectorAll("#labels input:checked")].map((b) => b.value);
  const regions = $("region-codes").value.split(/[,\s]+/).map((c) => c.trim()).filter(Boolean);
  $("save-status").textContent = t("saving");
  try {
    const body = await api("/v1/annotations", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ text: state.sent.text, title: state.sent.title, issues, regions,
                             annotator: $("annotator").value.trim() || "anonymous", source: "web" }),
    });
    $("save-status").textContent = `${t("saved")} (#${body.ids.join(", #")})`;
  } catch (err) {
    $("save-status").textContent = `${t("error")}: ${err.message}`;
  }
}

$("classify").addEventListener("click", classify);
$("save").addEventListener("click", save);
$("lang").addEventListener("click", () => {
  state.lang = state.lang === "id" ? "en" : "id";
  localStorage.setItem("rawan.lang", state.lang);
  applyLanguage();
});
$("annotator").value = localStorage.getItem("rawan.annotator") || "";
$("token").value = sessionStorage.getItem("rawan.token") || "";
applyLanguage();
loadModel(30);
