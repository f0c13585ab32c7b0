// The PromQL editor: a textarea over a highlighted copy of its text, a completion list fed by the
// label APIs, and the parser's error marked at its position. Enter runs the query, Shift+Enter
// adds a line.

import { prom } from "./api.js";
import { AGGREGATIONS, FUNCTIONS, KEYWORDS, completionContext, tokenize } from "./promql_lexer.js";
import { escapeHtml } from "./series_format.js";

const MAX_ITEMS = 50;

export class Editor {
  constructor(root, { onRun, onChange }) {
    this.root = root;
    this.onRun = onRun;
    this.onChange = onChange || (() => {});
    this.input = root.querySelector("textarea");
    this.highlight = root.querySelector(".highlight");
    this.list = root.querySelector(".completions");
    this.errorAt = null;
    this.items = [];
    this.selected = 0;
    this.cache = new Map();
    this.input.addEventListener("input", () => {
      this.errorAt = null;
      this.paint();
      this.onChange(this.value);
      this.complete();
    });
    this.input.addEventListener("scroll", () => { this.highlight.scrollTop = this.input.scrollTop; });
    this.input.addEventListener("keydown", (e) => this.key(e));
    // closed a moment after the editor loses focus (a click on the list lands first), unless it is back
    this.input.addEventListener("blur", () => setTimeout(() => {
      if (document.activeElement !== this.input) this.close();
    }, 150));
    this.list.addEventListener("mousedown", (e) => {
      const li = e.target.closest("li");
      if (li) {
        e.preventDefault();
        this.accept(+li.dataset.index);
      }
    });
    this.paint();
  }

  get value() {
    return this.input.value;
  }

  set value(text) {
    this.input.value = text;
    this.errorAt = null;
    this.paint();
  }

  autosize() {
    this.input.style.height = "auto";
    this.input.style.height = Math.max(this.input.scrollHeight, 38) + "px";
  }

  // offset in the text of "line:col" (both 1-based, col counting characters)
  markError(line, col) {
    const lines = this.value.split("\n");
    let offset = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i += 1) offset += lines[i].length + 1;
    this.errorAt = Math.min(offset + Math.max(col - 1, 0), this.value.length);
    this.paint();
  }

  paint() {
    const text = this.value;
    let html = "";
    for (const t of tokenize(text)) {
      const inside = this.errorAt !== null && this.errorAt >= t.start && this.errorAt < t.start + t.text.length;
      html += `<span class="tok-${t.type}${inside ? " tok-error" : ""}">${escapeHtml(t.text)}</span>`;
    }
    if (this.errorAt !== null && this.errorAt >= text.length) html += '<span class="tok-error"> </span>';
    this.highlight.innerHTML = html + "\n";
    this.root.dataset.errorAt = this.errorAt === null ? "" : String(this.errorAt);
    this.autosize();
  }

  key(e) {
    const open = !this.list.hidden;
    if (open && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
      e.preventDefault();
      this.selected = (this.selected + (e.key === "ArrowDown" ? 1 : -1) + this.items.length) % this.items.length;
      this.show();
    } else if (open && (e.key === "Tab" || e.key === "Enter")) {
      e.preventDefault();
      this.accept(this.selected);
    } else if (open && e.key === "Escape") {
      this.close();
    } else if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      this.close();
      this.onRun();
    }
  }

  async candidates(ctx) {
    if (ctx.kind === "metric") {
      const metrics = await this.fetchOnce("names", () => prom("/api/v1/label/__name__/values"));
      return [
        ...FUNCTIONS.map((f) => ({ text: f, kind: "function", insert: f + "(" })),
        ...AGGREGATIONS.map((f) => ({ text: f, kind: "aggregation", insert: f + "(" })),
        ...KEYWORDS.map((k) => ({ text: k, kind: "keyword", insert: k })),
        ...metrics.map((m) => ({ text: m, kind: "metric", insert: m })),
      ];
    }
    const match = ctx.metric ? [`{__name__=${JSON.stringify(ctx.metric)}}`] : undefined;
    if (ctx.kind === "label") {
      const labels = await this.fetchOnce(`labels:${ctx.metric}`, () => prom("/api/v1/labels", { "match[]": match }));
      return labels.filter((l) => l !== "__name__").map((l) => ({ text: l, kind: "label", insert: l }));
    }
    const values = await this.fetchOnce(`values:${ctx.metric}:${ctx.label}`,
      () => prom(`/api/v1/label/${encodeURIComponent(ctx.label)}/values`, { "match[]": match }));
    return values.map((v) => ({ text: v, kind: "value", insert: v.replace(/\\/g, "\\\\").replace(/"/g, '\\"') }));
  }

  async fetchOnce(key, load) {
    if (!this.cache.has(key)) this.cache.set(key, load().catch(() => []));
    return this.cache.get(key);
  }

  async complete() {
    const pos = this.input.selectionStart;
    const ctx = completionContext(this.value, pos);
    if (!ctx) return this.close();
    const all = await this.candidates(ctx);
    if (this.input.selectionStart !== pos) return;  // typed on meanwhile; a newer call answers
    const prefix = ctx.prefix.toLowerCase();
    this.items = all.filter((c) => c.text.toLowerCase().startsWith(prefix) && c.text !== ctx.prefix).slice(0, MAX_ITEMS);
    this.context = ctx;
    this.selected = 0;
    if (this.items.length === 0) return this.close();
    this.show();
  }

  show() {
    this.list.innerHTML = this.items.map((c, i) =>
      `<li data-index="${i}" class="${i === this.selected ? "selected" : ""}"><span class="kind kind-${c.kind}">${c.kind[0]}</span>${escapeHtml(c.text)}</li>`).join("");
    this.list.hidden = false;
    const selected = this.list.querySelector(".selected");
    if (selected) selected.scrollIntoView({ block: "nearest" });
  }

  close() {
    this.list.hidden = true;
    this.items = [];
  }

  accept(index) {
    const item = this.items[index];
    if (!item) return;
    const text = this.value;
    const pos = this.input.selectionStart;
    const insert = item.insert;
    this.input.value = text.slice(0, this.context.from) + insert + text.slice(pos);
    const cursor = this.context.from + insert.length;
    this.input.setSelectionRange(cursor, cursor);
    this.close();
    this.paint();
    this.onChange(this.value);
    this.input.focus();
  }
}

// "1:5: parse error: …" anywhere in a message (Prometheus's and the extension's form): [line, col]
export function errorPosition(message) {
  const m = /(?:^|\s|")(\d+):(\d+): parse error/.exec(message || "");
  return m ? [parseInt(m[1], 10), parseInt(m[2], 10)] : null;
}
