// gra report: draws the page from the JSON block #gra-data.
// Safety rule: every string from the data reaches the page as text (textContent,
// text nodes, attribute values other than URLs), never as markup. Nothing here
// uses innerHTML, outerHTML, insertAdjacentHTML or document.write.
"use strict";
(function () {
  const SVGNS = "http://www.w3.org/2000/svg";
  const PAGE = 100; // sample rows per page
  const D = JSON.parse(document.getElementById("gra-data").textContent);

  // ------------------------------------------------------------ helpers

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    setAttrs(e, attrs);
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : String(c)); // a string becomes a text node
    }
    return e;
  }

  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVGNS, tag);
    setAttrs(e, attrs);
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  function setAttrs(e, attrs) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined) continue;
      if (k === "class") e.setAttribute("class", v);
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, String(v));
    }
  }

  function body(id) {
    return document.querySelector("#" + id + " > .body");
  }

  function fmt(x, digits) {
    if (x === null || x === undefined || Number.isNaN(x)) return "–";
    if (digits === undefined) return Number(x).toLocaleString("en-US");
    return Number(x).toFixed(digits);
  }

  function pct(a, b) {
    return b ? (100 * a / b).toFixed(1) + "%" : "–";
  }

  function table(headers, rows, numeric) {
    const num = new Set(numeric || []);
    return el("table", null,
      el("thead", null, el("tr", null, headers.map((h, i) => el("th", { class: num.has(i) ? "num" : null }, h)))),
      el("tbody", null, rows.map((r) => el("tr", null, r.map((c, i) =>
        c instanceof Node && c.tagName === "TD" ? c : el("td", { class: num.has(i) ? "num" : null }, c))))));
  }

  function histogram(edges, counts, opts) {
    opts = opts || {};
    const W = opts.width || 250, H = opts.height || 110;
    const m = { l: 30, r: 8, t: 8, b: 18 };
    const iw = W - m.l - m.r, ih = H - m.t - m.b;
    const lo = edges[0], hi = edges[edges.length - 1];
    const x = (v) => m.l + (v - lo) / (hi - lo) * iw;
    const top = Math.max(1, ...counts);
    const y = (v) => m.t + ih - v / top * ih;
    const g = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img" });
    counts.forEach((n, i) => {
      if (!n) return;
      const x0 = x(edges[i]), x1 = x(edges[i + 1]);
      g.append(svg("rect", { class: "bar", x: x0 + 0.5, y: y(n), width: Math.max(1, x1 - x0 - 1), height: m.t + ih - y(n) },
        svg("title", null, `${edges[i]}–${edges[i + 1]}: ${n.toLocaleString("en-US")}`)));
    });
    g.append(svg("line", { class: "axis", x1: m.l, x2: m.l + iw, y1: m.t + ih, y2: m.t + ih }));
    g.append(svg("line", { class: "axis", x1: m.l, x2: m.l, y1: m.t, y2: m.t + ih }));
    g.append(svg("text", { x: m.l - 4, y: m.t + 8, "text-anchor": "end" }, fmt(top)));
    g.append(svg("text", { x: m.l - 4, y: m.t + ih, "text-anchor": "end" }, "0"));
    const step = opts.tick || 1;
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) {
      g.append(svg("text", { x: x(v), y: H - 4, "text-anchor": "middle" }, String(Math.round(v * 100) / 100)));
    }
    for (const mk of opts.markers || []) {
      if (mk.value === null || mk.value === undefined || mk.value < lo || mk.value > hi) continue;
      g.append(svg("line", { class: "marker", x1: x(mk.value), x2: x(mk.value), y1: m.t, y2: m.t + ih },
        svg("title", null, mk.label)));
    }
    return g;
  }

  function badge(verdict) {
    const kind = verdict.split(" ")[0];
    return el("span", { class: "badge " + kind }, verdict);
  }

  function field(label, value, asText) {
    if (value === null || value === undefined || value === "") return null;
    return el("div", { class: "field" }, el("div", { class: "k" }, label),
      asText === false ? value : el("div", { class: "text" }, value));
  }

  // ------------------------------------------------------------ overview

  function overview() {
    const m = D.meta;
    document.getElementById("run-name").textContent = m.run_name;
    document.title = "gra report: " + m.run_name;
    const states = m.states || {};
    const total = D.candidates.length;
    const chips = [
      ["candidates", fmt(total)],
      ["accepted (written)", fmt(states.accepted || 0)],
      ["target", fmt(m.target)],
      ["seeds", fmt(D.seeds.length)],
      ["status", m.status || "–"],
      ["wall time", m.wall_time_s === null || m.wall_time_s === undefined ? "–" : fmt(m.wall_time_s, 0) + " s"],
      ["tokens", fmt(D.usage.tokens_total)],
      ["sessions", fmt(m.sessions)],
    ];
    const b = body("overview");
    b.append(el("div", { class: "chips" }, chips.map(([k, v]) => el("div", { class: "chip" }, el("b", null, v), el("span", null, k)))));
    const info = [
      ["run directory", m.run_dir],
      ["created", m.created || "–"],
      ["stop reason", m.stop_reason || "–"],
      ["thresholds", `accept mean ≥ ${fmt(m.thresholds.accept_mean)}, reject mean < ${fmt(m.thresholds.reject_mean)}, adjudicate when std > ${fmt(m.thresholds.max_std)}`],
    ];
    b.append(table(["", ""], info));
    if (states.cancelled) {
      b.append(el("p", null, `${fmt(states.cancelled)} candidates were cancelled when the target was reached. They are left out of the funnel; their stored model calls are kept, so gra synth --resume --n with a larger target runs them first.`));
    }
    if (states.running) {
      b.append(el("p", { class: "warn" }, `${fmt(states.running)} candidates are unfinished (the run is still going, or it stopped before they ended): they appear in the funnel and the sample browser as "unfinished".`));
    }
    if (!m.has_data_file) {
      b.append(el("p", { class: "warn" }, "No data.jsonl in the run directory yet: this report is read from the run's store."));
    }
  }

  // ------------------------------------------------------------ funnel

  function funnel() {
    const f = D.funnel, b = body("funnel");
    const total = f.stages[0].n;
    f.stages.forEach((s, i) => {
      const prev = i ? f.stages[i - 1].n : s.n;
      b.append(el("div", { class: "funnel-row", title: s.note },
        el("div", { class: "label" }, s.name),
        el("div", { class: "bar" }, (() => { const d = el("div"); d.style.width = (total ? 100 * s.n / total : 0) + "%"; return d; })()),
        el("div", { class: "count" }, el("b", null, fmt(s.n)), ` · ${pct(s.n, total)} of all`, i ? ` · ${pct(s.n, prev)} of previous` : "")));
    });
    const d = f.decisions;
    b.append(el("p", { class: "note" }, `Council decisions on reviewed candidates: ${fmt(d.accept)} accept, ${fmt(d.reject)} reject, ${fmt(d.adjudicate)} to the adjudicator (kept ${fmt(d.adjudicator_kept)}, dropped ${fmt(d.adjudicator_dropped)}).`));
    b.append(el("h3", null, "Where candidates stopped"));
    if (!f.losses.length) b.append(el("p", { class: "note" }, "Nowhere: every candidate was written."));
    else b.append(table(["after stage", "reason", "candidates", "share"], f.losses.map((l) => [l.stage, l.name, fmt(l.n), pct(l.n, total)]), [2, 3]));
  }

  // ------------------------------------------------------------ scores

  function scores() {
    const s = D.scores, b = body("scores");
    if (!s.reviewers.length || !s.by_reviewer[s.reviewers[0]].reviews) {
      b.append(el("p", { class: "note" }, "No reviews yet."));
      return;
    }
    const grid = el("div", { class: "grid" });
    const pick = el("select", { id: "score-reviewer", "aria-label": "reviewer" }, s.reviewers.map((r) => el("option", { value: r }, r)));
    const draw = () => {
      grid.replaceChildren();
      const r = s.by_reviewer[pick.value];
      for (const dim of s.dimensions) {
        const h = r.dimensions[dim];
        grid.append(el("div", { class: "card" }, el("h4", null, dim),
          el("p", { class: "note" }, `n ${fmt(h.n)} · mean ${fmt(h.mean, 2)}`),
          histogram(s.edges, h.counts)));
      }
    };
    pick.addEventListener("change", draw);
    b.append(el("div", { class: "controls" }, el("label", null, "reviewer "), pick));
    b.append(grid);
    draw();
    b.append(el("h3", null, "Mean score per reviewer model"));
    const rows = s.reviewers.map((name) => {
      const r = s.by_reviewer[name];
      return [name, fmt(r.reviews), `${fmt(r.unreadable)} (${pct(r.unreadable, r.reviews)})`, ...s.dimensions.map((d) => fmt(r.dimensions[d].mean, 2))];
    });
    b.append(table(["reviewer", "reviews", "unreadable", ...s.dimensions], rows, [1, 2, 3, 4, 5, 6, 7, 8, 9]));
  }

  // ------------------------------------------------------------ agreement

  function agreement() {
    const a = D.agreement, b = body("agreement");
    if (!a.n) {
      b.append(el("p", { class: "note" }, "No candidate has two readable reviews yet."));
    } else {
      b.append(el("p", { class: "note" }, `${fmt(a.n)} candidates; mean std ${fmt(a.mean_std, 2)}; ${fmt(a.above_max_std)} (${pct(a.above_max_std, a.n)}) above the adjudication threshold max_std = ${fmt(a.max_std)} (dashed line).`));
      b.append(el("div", { class: "grid" },
        el("div", { class: "card" }, el("h4", null, "std of overall scores"),
          histogram(a.edges, a.std_counts, { width: 360, height: 130, tick: 0.5, markers: [{ value: a.max_std, label: "max_std " + a.max_std }] })),
        el("div", { class: "card" }, el("h4", null, "range (max − min) of overall scores"),
          histogram(a.spread_edges, a.spread_counts, { width: 360, height: 130, tick: 1 }))));
    }
    b.append(el("h3", null, "Pairs of reviewer models"));
    if (!a.pairs.length) {
      b.append(el("p", { class: "note" }, "No candidate was reviewed by two models (or twice by one)."));
      return;
    }
    b.append(table(["reviewer A", "reviewer B", "candidates both reviewed", "Pearson r", "mean |A − B|"],
      a.pairs.map((p) => [p.a, p.a === p.b ? p.b + " (its second review)" : p.b, fmt(p.n), fmt(p.pearson, 3), fmt(p.mean_abs_diff, 2)]), [2, 3, 4]));
    b.append(el("p", { class: "note" }, "Pearson r of the two models' overall scores (a model's mean where it reviewed a candidate twice); – with fewer than 3 candidates or when one side never varies. A model paired with itself compares its first and second review of the same candidate."));
  }

  // ------------------------------------------------------------ acceptance

  function acceptance() {
    const a = D.acceptance, b = body("acceptance");
    if (!a.cells.length) {
      b.append(el("p", { class: "note" }, "No finished candidate yet."));
      return;
    }
    const cell = new Map(a.cells.map((c) => [c.generator + "\u0000" + c.domain, c]));
    const cellTd = (acc, n) => {
      const td = el("td", { class: "num", title: `${acc} accepted of ${n}` }, n ? `${fmt(acc)}/${fmt(n)} (${pct(acc, n)})` : "–");
      if (n) td.style.background = `rgba(46, 157, 88, ${(0.08 + 0.5 * acc / n).toFixed(3)})`;
      return td;
    };
    const colTot = a.domains.map(() => [0, 0]);
    const all = [0, 0];
    const rows = a.generators.map((g) => {
      const tot = [0, 0];
      const tds = a.domains.map((d, j) => {
        const c = cell.get(g + "\u0000" + d);
        const n = c ? c.candidates : 0, acc = c ? c.accepted : 0;
        tot[0] += acc; tot[1] += n; colTot[j][0] += acc; colTot[j][1] += n;
        return cellTd(acc, n);
      });
      all[0] += tot[0]; all[1] += tot[1];
      return [g, ...tds, cellTd(tot[0], tot[1])];
    });
    rows.push([el("b", null, "all generators"), ...colTot.map(([acc, n]) => cellTd(acc, n)), cellTd(all[0], all[1])]);
    const cols = a.domains.map((_, i) => i + 1);
    b.append(table(["generator \\ domain", ...a.domains, "all domains"], rows, [...cols, a.domains.length + 1]));
    routing(b, a.generators);
    preference(b);
  }

  // what each generator earned per token, and how often it was picked as the run went on
  // (generation.pick: adaptive moves picks to the generators that earn)
  function routing(b, gens) {
    const r = D.routing;
    if (!r || !r.over_time.length) return;
    const earn = [];
    for (const [domain, models] of Object.entries(r.by_domain)) {
      for (const [g, m] of Object.entries(models)) {
        earn.push([g, domain, fmt(m.picks), fmt(m.accepted), fmt(m.tokens), fmt(m.accepted_per_1k_tokens, 3)]);
      }
    }
    b.append(el("h3", null, "Accepted per 1,000 tokens, by generator and domain"));
    b.append(table(["generator", "domain", "picks", "accepted", "tokens", "accepted / 1k tokens"], earn, [2, 3, 4, 5]));
    b.append(el("h3", null, "Picks over time (accepted in brackets)"));
    const spans = r.over_time.map((s) => [s.candidates, ...gens.map((g) => s.picks[g] ? `${fmt(s.picks[g])} (${fmt(s.accepted[g] || 0)})` : "–")]);
    b.append(table(["candidates", ...gens], spans, gens.map((_, i) => i + 1)));
  }

  // task: preference -- the margins of the pairs, and whose responses were chosen / rejected
  function preference(b) {
    const p = D.preference;
    if (!p) return;
    b.append(el("h3", null, `Preference pairs: ${fmt(p.pairs)}`));
    b.append(el("p", { class: "note" }, "Margin: the chosen response's score minus the rejected one's (0-10)."));
    b.append(histogram(p.margin_histogram.edges, p.margin_histogram.counts));
    const models = [...new Set([...Object.keys(p.chosen_by_model), ...Object.keys(p.rejected_by_model)])].sort();
    b.append(table(["model", "chosen", "rejected"], models.map((m) => [m, fmt(p.chosen_by_model[m] || 0), fmt(p.rejected_by_model[m] || 0)]), [1, 2]));
    const checks = Object.entries(p.rejected_by_check);
    if (checks.length) b.append(table(["rejected response's cheap check", "pairs"], checks.map(([k, v]) => [k, fmt(v)]), [1]));
    const none = Object.entries(p.no_pair);
    if (none.length) b.append(table(["no pair because", "instructions"], none.map(([k, v]) => [k, fmt(v)]), [1]));
  }

  // ------------------------------------------------------------ diversity

  function diversity() {
    const dv = D.diversity, b = body("diversity");
    const emb = dv.embedder !== null;
    const head = ["data", "n", "words / sample", "distinct-1", "distinct-2", "distinct-3", "self-BLEU", "BLEU n", "gzip ×"];
    if (emb) head.push("cos dist", "Vendi", "emb n");
    const rows = dv.rows.map((r) => {
      const row = [r.label, fmt(r.n), fmt(r.words_per_sample, 1), fmt(r.distinct_1, 3), fmt(r.distinct_2, 3), fmt(r.distinct_3, 3), fmt(r.self_bleu, 3), fmt(r.self_bleu_sample), fmt(r.compression_ratio, 2)];
      if (emb) row.push(fmt(r.cosine_distance, 3), fmt(r.vendi, 1), fmt(r.embed_sample));
      return row;
    });
    b.append(table(head, rows, head.map((_, i) => i).slice(1)));
    b.append(el("p", { class: "note" }, "Higher distinct-n, cosine distance and Vendi = more diverse; lower self-BLEU and gzip ratio = more diverse. Self-BLEU on a random sample (BLEU n); cosine distance and Vendi on the map's embedded sample (emb n; Vendi grows with n)."));
    if (!emb) b.append(el("p", { class: "note" }, "Embedding metrics: " + (D.map.message || "not computed") + "."));
    const methods = el("details", null, el("summary", null, "How each figure is computed"),
      el("ul", null, Object.entries(dv.methods).map(([k, v]) => el("li", null, el("code", null, k), ": ", v))));
    b.append(methods);
  }

  // ------------------------------------------------------------ map

  function map() {
    const mp = D.map, b = body("map");
    if (mp.status !== "ok") {
      b.append(el("p", { class: "warn" }, `No map: ${mp.message || mp.status}.`));
      return;
    }
    const shown = mp.shown.seeds + mp.shown.accepted, total = mp.total.seeds + mp.total.accepted;
    b.append(el("p", { class: "lead", id: "map-caption" },
      `Showing ${fmt(shown)} of ${fmt(total)} texts (seeds ${fmt(mp.shown.seeds)} of ${fmt(mp.total.seeds)}, accepted ${fmt(mp.shown.accepted)} of ${fmt(mp.total.accepted)}; at most ${fmt(mp.max_points)}, a random sample beyond that). ` +
      `First two principal components of the ${mp.embedder} embeddings (${fmt(100 * mp.explained[0], 1)}% and ${fmt(100 * mp.explained[1], 1)}% of the variance). Hover a point for its instruction; click one to open it in the sample browser.`));
    const P = mp.points;
    const W = 760, H = 480, pad = 14;
    const xs = P.x, ys = P.y;
    let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    if (x1 - x0 < 1e-9) { x0 -= 1; x1 += 1; }
    if (y1 - y0 < 1e-9) { y0 -= 1; y1 += 1; }
    const sx = (v) => pad + (v - x0) / (x1 - x0) * (W - 2 * pad);
    const sy = (v) => H - pad - (v - y0) / (y1 - y0) * (H - 2 * pad);
    const g = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", id: "map-svg", "aria-label": "map of seeds and accepted samples" });
    g.append(svg("rect", { x: 0, y: 0, width: W, height: H, fill: "#fbfbfc", stroke: "#dde1e8" }));
    const seedsLayer = svg("g"), accLayer = svg("g");
    for (let i = 0; i < xs.length; i++) {
      const isSeed = P.group[i] === 0;
      const item = isSeed ? D.seeds[P.ref[i]] : D.candidates[P.ref[i]];
      const label = `${isSeed ? "seed" : "accepted"} ${item.id} [${item.domain}]: ${item.instruction.slice(0, 160)}`;
      const c = svg("circle", { cx: sx(xs[i]).toFixed(1), cy: sy(ys[i]).toFixed(1), r: 3.2, class: isSeed ? "pt-seed" : "pt-acc" }, svg("title", null, label));
      if (!isSeed) {
        const ref = P.ref[i];
        c.addEventListener("click", () => browser.openCandidate(ref));
      } else {
        const ref = P.ref[i];
        c.addEventListener("click", () => browser.openSeed(ref));
      }
      (isSeed ? seedsLayer : accLayer).append(c);
    }
    g.append(accLayer, seedsLayer);
    b.append(el("div", { class: "legend" },
      el("span", null, el("span", { class: "swatch", style: null }, ""), "seeds"),
      el("span", null, el("span", { class: "swatch" }, ""), "accepted samples")));
    const sw = b.querySelectorAll(".swatch");
    sw[0].style.background = "var(--seed)";
    sw[1].style.background = "var(--accent)";
    b.append(g);
  }

  // ------------------------------------------------------------ usage

  function usage() {
    const u = D.usage, b = body("usage");
    const tot = u.tokens_total || 0;
    const block = (title, rows) => {
      const names = Object.keys(rows);
      b.append(el("h3", null, title));
      if (!names.length) { b.append(el("p", { class: "note" }, "No model calls stored.")); return; }
      const sum = { calls: 0, prompt_tokens: 0, completion_tokens: 0, model_time_s: 0 };
      const body_ = names.map((n) => {
        const r = rows[n];
        for (const k of Object.keys(sum)) sum[k] += r[k] || 0;
        const t = (r.prompt_tokens || 0) + (r.completion_tokens || 0);
        return [n, fmt(r.calls), fmt(r.prompt_tokens), fmt(r.completion_tokens), fmt(t), pct(t, tot), fmt(r.model_time_s, 1), r.calls ? fmt(r.model_time_s / r.calls, 2) : "–"];
      });
      const t = sum.prompt_tokens + sum.completion_tokens;
      body_.push([el("b", null, "total"), fmt(sum.calls), fmt(sum.prompt_tokens), fmt(sum.completion_tokens), fmt(t), pct(t, tot), fmt(sum.model_time_s, 1), sum.calls ? fmt(sum.model_time_s / sum.calls, 2) : "–"]);
      b.append(table(["", "calls", "prompt tokens", "completion tokens", "tokens", "share", "model time (s)", "s / call"], body_, [1, 2, 3, 4, 5, 6, 7]));
    };
    block("Per role", u.by_role);
    block("Per model", u.by_model);
    const fc = u.failed_calls || {};
    b.append(el("p", { class: "note" },
      `Wall time ${u.wall_time_s === null || u.wall_time_s === undefined ? "–" : fmt(u.wall_time_s, 0) + " s"}; failed tries ${fmt(fc.failed_tries)} (calls recovered by a retry ${fmt(fc.calls_recovered)}, given up ${fmt(fc.calls_given_up)}); reviews ${fmt(u.reviews.total)}, unreadable ${fmt(u.reviews.unparseable)}.`));
  }

  // ------------------------------------------------------------ sample browser

  const browser = (function () {
    const b = body("samples");
    const C = D.candidates, S = D.seeds;
    const seedIndex = new Map(S.map((s, i) => [s.id, i]));
    let hay = null, seedHay = null; // lowercase search text, built on the first search
    let matches = [], page = 0, selected = null;

    const opt = (value, label) => el("option", { value }, label);
    const counts = (key) => { const m = new Map(); for (const c of C) m.set(c[key], (m.get(c[key]) || 0) + 1); return m; };
    const sortedKeys = (m) => [...m.keys()].filter((k) => k !== "" && k !== null).sort();

    const what = el("select", { id: "f-what", "aria-label": "show" }, opt("candidates", `candidates (${fmt(C.length)})`), opt("seeds", `seeds (${fmt(S.length)})`));
    const q = el("input", { type: "search", id: "f-search", placeholder: "search text, reasons, critiques, ids…", "aria-label": "search" });
    const stateCounts = counts("state"), verdictCounts = counts("verdict");
    const verdict = el("select", { id: "f-verdict", "aria-label": "verdict" }, opt("", "any verdict"),
      el("optgroup", { label: "state" }, sortedKeys(stateCounts).map((k) => opt("state:" + k, `${k} (${fmt(stateCounts.get(k))})`))),
      el("optgroup", { label: "verdict" }, D.verdicts.filter((v) => verdictCounts.has(v)).map((v) => opt("verdict:" + v, `${v} (${fmt(verdictCounts.get(v))})`))));
    const domainCounts = new Map();
    for (const x of C) if (x.domain) domainCounts.set(x.domain, (domainCounts.get(x.domain) || 0) + 1);
    for (const x of S) if (!domainCounts.has(x.domain)) domainCounts.set(x.domain, 0);
    const domain = el("select", { id: "f-domain", "aria-label": "domain" }, opt("", "any domain"), sortedKeys(domainCounts).map((k) => opt(k, k)));
    const genCounts = counts("generator");
    const generator = el("select", { id: "f-generator", "aria-label": "generator" }, opt("", "any generator"), sortedKeys(genCounts).map((k) => opt(k, `${k} (${fmt(genCounts.get(k))})`)));
    const reviewers = new Set();
    for (const x of C) for (const r of x.reviews) reviewers.add(r.reviewer);
    const reviewer = el("select", { id: "f-reviewer", "aria-label": "reviewer" }, opt("", "any reviewer"), [...reviewers].sort().map((k) => opt(k, k)));
    const sort = el("select", { id: "f-sort", "aria-label": "sort" }, opt("id", "by id"), opt("mean-desc", "mean score, high first"), opt("mean-asc", "mean score, low first"), opt("std-desc", "reviewer std, high first"));
    const info = el("span", { id: "f-info" });
    const prev = el("button", { type: "button", id: "f-prev" }, "‹ prev");
    const next = el("button", { type: "button", id: "f-next" }, "next ›");
    const tbody = el("tbody", { id: "rows" });
    const rows = el("table", { class: "rows" },
      el("colgroup", null, el("col", { style: null }), el("col"), el("col"), el("col"), el("col"), el("col")),
      el("thead", null, el("tr", null, ["id", "verdict", "domain", "generator", "mean", "instruction"].map((h) => el("th", null, h)))), tbody);
    const cols = rows.querySelectorAll("col");
    [76, 172, 84, 124, 54].forEach((w, i) => { cols[i].style.width = w + "px"; });
    const detail = el("div", { class: "detail", id: "detail" }, el("p", { class: "note" }, "Click a row to see the sample, its reviews and what was decided."));

    b.append(el("div", { class: "controls" }, what, q, verdict, domain, generator, reviewer, sort));
    b.append(el("div", { class: "browser" }, el("div", null, el("div", { class: "pager" }, prev, next, info), rows), detail));

    function candidateHay() {
      if (hay === null) {
        hay = C.map((c) => [c.id, c.instruction, c.input, c.response, c.reason, c.summary, (c.keywords || []).join(" "),
          ...c.reviews.map((r) => r.critique + " " + r.error), c.adjudication ? c.adjudication.reason : ""].join("\n").toLowerCase());
      }
      return hay;
    }

    function seedsHay() {
      if (seedHay === null) seedHay = S.map((s) => [s.id, s.instruction, s.input, s.response, s.summary, (s.keywords || []).join(" ")].join("\n").toLowerCase());
      return seedHay;
    }

    function update() {
      const seeds = what.value === "seeds";
      for (const s of [verdict, generator, reviewer, sort]) s.disabled = seeds;
      const needle = q.value.trim().toLowerCase();
      const dom = domain.value;
      matches = [];
      if (seeds) {
        const h = needle ? seedsHay() : null;
        for (let i = 0; i < S.length; i++) {
          if (dom && S[i].domain !== dom) continue;
          if (needle && !h[i].includes(needle)) continue;
          matches.push(i);
        }
      } else {
        const v = verdict.value, g = generator.value, rv = reviewer.value;
        const h = needle ? candidateHay() : null;
        for (let i = 0; i < C.length; i++) {
          const c = C[i];
          if (v && !(v.startsWith("state:") ? c.state === v.slice(6) : c.verdict === v.slice(8))) continue;
          if (dom && c.domain !== dom) continue;
          if (g && c.generator !== g) continue;
          if (rv && !c.reviews.some((r) => r.reviewer === rv)) continue;
          if (needle && !h[i].includes(needle)) continue;
          matches.push(i);
        }
        const key = sort.value;
        if (key !== "id") {
          const f = key === "std-desc" ? (i) => C[i].std : (i) => C[i].mean;
          const sign = key === "mean-asc" ? 1 : -1;
          matches.sort((a, z) => {
            const fa = f(a), fz = f(z);
            if (fa === null && fz === null) return a - z;
            if (fa === null) return 1;
            if (fz === null) return -1;
            return sign * (fa - fz) || a - z;
          });
        }
      }
      page = 0;
      draw();
    }

    function draw() {
      const seeds = what.value === "seeds";
      const pages = Math.max(1, Math.ceil(matches.length / PAGE));
      page = Math.min(page, pages - 1);
      const start = page * PAGE, end = Math.min(matches.length, start + PAGE);
      const all = seeds ? S.length : C.length;
      info.textContent = matches.length
        ? `showing ${fmt(start + 1)}–${fmt(end)} of ${fmt(matches.length)} matching (${fmt(all)} ${seeds ? "seeds" : "candidates"}), page ${page + 1} of ${pages}`
        : `no match among ${fmt(all)} ${seeds ? "seeds" : "candidates"}`;
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
      const out = [];
      for (let k = start; k < end; k++) {
        const i = matches[k];
        const x = seeds ? S[i] : C[i];
        const tr = el("tr", { "data-kind": seeds ? "seed" : "candidate", "data-index": i, tabindex: 0 },
          el("td", null, x.id),
          el("td", null, seeds ? badge("seed") : badge(x.verdict)),
          el("td", null, x.domain),
          el("td", null, seeds ? "" : x.generator),
          el("td", { class: "num" }, seeds ? "" : fmt(x.mean, 2)),
          el("td", { title: x.instruction.slice(0, 300) }, x.instruction.slice(0, 200)));
        if (selected && selected.kind === (seeds ? "seed" : "candidate") && selected.index === i) tr.classList.add("sel");
        out.push(tr);
      }
      tbody.replaceChildren(...out);
    }

    tbody.addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr");
      if (!tr) return;
      open(tr.getAttribute("data-kind"), Number(tr.getAttribute("data-index")));
    });
    tbody.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter") return;
      const tr = ev.target.closest("tr");
      if (tr) open(tr.getAttribute("data-kind"), Number(tr.getAttribute("data-index")));
    });

    function open(kind, index) {
      selected = { kind, index };
      for (const tr of tbody.children) {
        tr.classList.toggle("sel", tr.getAttribute("data-kind") === kind && Number(tr.getAttribute("data-index")) === index);
      }
      detail.replaceChildren(...(kind === "seed" ? seedDetail(S[index]) : candidateDetail(C[index])));
      detail.scrollTop = 0;
    }

    function seedDetail(s) {
      return [
        el("h3", null, s.id, " ", badge("seed")),
        el("p", { class: "note" }, "domain: ", s.domain),
        field("instruction", s.instruction),
        field("input", s.input),
        field("response", s.response),
        field("summary", s.summary),
        field("keywords", (s.keywords || []).join(", ")),
      ];
    }

    function candidateDetail(c) {
      const out = [
        el("h3", null, c.id, " ", badge(c.verdict)),
        el("p", { class: "note" }, `domain: ${c.domain || "–"} · generator: ${c.generator || "–"} · state: ${c.state}`),
        field("reason", c.reason),
        c.duplicate_of ? field("duplicate of", c.duplicate_of) : null,
        field("instruction", c.instruction),
        field("input", c.input),
        field("response", c.response),
      ];
      if (c.aggregate) {
        const a = c.aggregate;
        out.push(field("aggregate", el("div", null, `mean ${fmt(c.mean, 2)} · std ${fmt(c.std, 2)} · ${a.n_valid} readable, ${a.n_failed} unreadable → ${a.decision}: `, a.reason), false));
      }
      if (c.reviews.length) {
        const rv = el("div");
        c.reviews.forEach((r, j) => {
          const head = el("div", null, el("b", null, `review ${j + 1}: `, r.reviewer), r.ok ? ` · overall ${fmt(r.overall, 2)}` : " · unreadable",
            r.ok && r.method === "logprobs" ? " · expected scores from logprobs" : "");
          const sc = el("div", { class: "scores" }, Object.entries(r.scores).map(([d, v]) => el("span", null, d, " ", el("b", null, fmt(v, v % 1 ? 2 : 0)))));
          rv.append(el("div", { class: "review" }, head, Object.keys(r.scores).length ? sc : null,
            r.critique ? el("div", { class: "text" }, r.critique) : null,
            r.error ? el("div", { class: "note" }, "error: ", r.error) : null,
            r.raw ? el("div", { class: "text" }, r.raw) : null));
        });
        out.push(field("reviews", rv, false));
      }
      if (c.adjudication) {
        const a = c.adjudication;
        out.push(field("adjudication", el("div", null,
          el("div", null, el("b", null, a.adjudicator), `: ${a.keep ? "keep" : "drop"}${a.ok ? "" : " (reply unreadable: counted as drop)"}`,
            a.p_keep === null || a.p_keep === undefined ? "" : ` · p(keep) ${fmt(a.p_keep, 2)}`),
          a.reason ? el("div", { class: "text" }, a.reason) : null,
          a.raw ? el("div", { class: "text" }, a.raw) : null), false));
      }
      out.push(field("keywords", (c.keywords || []).join(", ")), field("summary", c.summary));
      if (c.seed_ids && c.seed_ids.length) {
        const list = el("div");
        for (const id of c.seed_ids) {
          const i = seedIndex.get(id);
          if (i === undefined) { list.append(el("div", { class: "note" }, id, " (not in seeds.jsonl)")); continue; }
          const s = S[i];
          list.append(el("details", null, el("summary", null, `${s.id}: ${s.instruction.slice(0, 120)}`),
            field("instruction", s.instruction), field("input", s.input), field("response", s.response)));
        }
        out.push(field("seeds shown to the generator", list, false));
      }
      return out.filter((x) => x);
    }

    let timer = null;
    q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(update, 150); });
    for (const s of [what, verdict, domain, generator, reviewer, sort]) s.addEventListener("change", update);
    prev.addEventListener("click", () => { page -= 1; draw(); });
    next.addEventListener("click", () => { page += 1; draw(); });

    function reveal(kind, index) {
      const seeds = kind === "seed";
      if ((what.value === "seeds") !== seeds || q.value || domain.value || verdict.value || generator.value || reviewer.value) {
        what.value = seeds ? "seeds" : "candidates";
        q.value = ""; domain.value = ""; verdict.value = ""; generator.value = ""; reviewer.value = "";
        update();
      }
      const k = matches.indexOf(index);
      if (k >= 0) { page = Math.floor(k / PAGE); draw(); }
      open(kind, index);
      document.getElementById("samples").scrollIntoView();
    }

    update();
    return { openCandidate: (i) => reveal("candidate", i), openSeed: (i) => reveal("seed", i) };
  })();

  // ------------------------------------------------------------ draw everything

  const sections = { overview, funnel, scores, agreement, acceptance, diversity, map, usage };
  for (const [name, draw] of Object.entries(sections)) {
    try {
      draw();
    } catch (e) {
      body(name).append(el("p", { class: "error" }, `This section could not be drawn: ${e}`));
      console.error("gra report: section " + name + " failed", e);
    }
  }
  document.getElementById("footer").append(`Written by gra ${D.meta.gra_version} on ${D.meta.generated}. One self-contained file: no network, all text shown as text.`);
  window.graReport = { ready: true, readyMs: performance.now() };
  document.documentElement.setAttribute("data-ready", "1");
})();
