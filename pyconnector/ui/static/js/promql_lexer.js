// A small PromQL tokenizer for highlighting and for finding what the cursor is in (autocomplete).
// It never rejects input: the server's parser is the judge of syntax, this only colours.

export const AGGREGATIONS = ["sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
  "bottomk", "topk", "quantile"];
export const FUNCTIONS = ["abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
  "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh", "count_over_time",
  "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg", "delta", "deriv", "exp", "floor",
  "histogram_quantile", "holt_winters", "hour", "idelta", "increase", "irate", "label_join", "label_replace",
  "last_over_time", "ln", "log10", "log2", "max_over_time", "min_over_time", "minute", "month", "pi",
  "predict_linear", "present_over_time", "quantile_over_time", "rad", "rate", "resets", "round", "scalar", "sgn",
  "sin", "sinh", "sort", "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time", "sum_over_time", "tan",
  "tanh", "time", "timestamp", "vector", "year"];
export const KEYWORDS = ["by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and",
  "or", "unless", "atan2"];

const AGG = new Set(AGGREGATIONS);
const FN = new Set(FUNCTIONS);
const KW = new Set(KEYWORDS);

// [{type, text, start}] covering the whole input
export function tokenize(text) {
  const tokens = [];
  let i = 0;
  let braces = 0;
  const push = (type, end) => {
    tokens.push({ type, text: text.slice(i, end), start: i });
    i = end;
  };
  while (i < text.length) {
    const c = text[i];
    const rest = text.slice(i);
    let m;
    if (c === "#") {
      const nl = text.indexOf("\n", i);
      push("comment", nl < 0 ? text.length : nl);
    } else if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += c !== "`" && text[j] === "\\" ? 2 : 1;
      push("string", Math.min(j + 1, text.length));
    } else if ((m = /^(\d+(ms|[smhdwy]))+/.exec(rest))) {
      push("duration", i + m[0].length);
    } else if ((m = /^(0x[0-9a-fA-F]+|\d*\.?\d+([eE][+-]?\d+)?|[Ii]nf|NaN)(?![\w:])/.exec(rest))) {
      push("number", i + m[0].length);
    } else if ((m = /^[a-zA-Z_:][\w:]*/.exec(rest))) {
      const word = m[0];
      const next = text.slice(i + word.length).trimStart()[0];
      let type = "metric";
      if (braces > 0) type = "label";  // inside {…} a word is a label name (values are strings)
      else if (AGG.has(word)) type = "aggregation";
      else if (FN.has(word) && next === "(") type = "function";
      else if (KW.has(word.toLowerCase())) type = "keyword";
      push(type, i + word.length);
    } else if (c === "{") {
      braces += 1;
      push("brace", i + 1);
    } else if (c === "}") {
      braces = Math.max(0, braces - 1);
      push("brace", i + 1);
    } else if ((m = /^(=~|!~|!=|==|>=|<=|[-+*/%^=<>@])/.exec(rest))) {
      push("operator", i + m[0].length);
    } else if (/[()[\],]/.test(c)) {
      push("paren", i + 1);
    } else {
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j]) && /\s/.test(c)) j += 1;
      push(/\s/.test(c) ? "space" : "other", j);
    }
  }
  return tokens;
}

// What the cursor at `pos` is completing: {kind: "metric"|"label"|"value", prefix, from, metric, label}
export function completionContext(text, pos) {
  const before = text.slice(0, pos);
  // inside a label matcher's string: label="va|
  let m = /([a-zA-Z_][\w]*)\s*(=~|!~|!=|=)\s*"([^"]*)$/.exec(before);
  const open = before.lastIndexOf("{");
  const inBraces = open > before.lastIndexOf("}");
  const metricBefore = () => {
    const mm = /([a-zA-Z_:][\w:]*)\s*$/.exec(before.slice(0, open));
    return mm && !AGG.has(mm[1]) && !KW.has(mm[1]) ? mm[1] : null;
  };
  if (m && inBraces) {
    return { kind: "value", prefix: m[3], from: pos - m[3].length, label: m[1], metric: metricBefore() };
  }
  m = /([a-zA-Z_:][\w:]*)$/.exec(before);
  const prefix = m ? m[1] : "";
  const from = pos - prefix.length;
  if (inBraces) return { kind: "label", prefix, from, metric: metricBefore() };
  // by (…), without (…), on (…), ignoring (…), group_left (…)
  if (/\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*$/i.test(before)) return { kind: "label", prefix, from, metric: null };
  if (/\[[^\]]*$/.test(before)) return null;  // a range duration
  if (!prefix) return null;
  if (/"[^"]*$/.test(before.replace(/"[^"]*"/g, ""))) return null;  // inside some other string
  return { kind: "metric", prefix, from };
}
