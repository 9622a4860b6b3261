/// <reference lib="dom" />
/**
 * The viewer's browser code, with no library: one function the server sends as `/assets/app.js`
 * (its source text, so there is no build step). It must not refer to anything outside itself.
 *
 * Rules that keep model output inert: every piece of data reaches the page through `textContent`
 * (the `h` helper below) — never `innerHTML`; links are built from `encodeURIComponent`'d parts of
 * this app's own paths; control characters (ANSI escapes) are shown as visible symbols.
 */
export function viewerClient(): void {
  type Attrs = Record<string, string | boolean | ((e: Event) => void) | undefined>;
  type Child = Node | string | null | undefined | false;
  // biome-ignore lint/suspicious/noExplicitAny: JSON from the server, read defensively
  type Any = any;

  const app = document.getElementById("app")!;
  let live: EventSource | null = null;
  let renderToken = 0;

  /** An element whose children are nodes or text (as text nodes: never parsed as HTML). */
  function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === false) continue;
      if (typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = String(v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children)
      if (c !== null && c !== undefined && c !== false)
        el.append(typeof c === "string" ? document.createTextNode(c) : c);
    return el;
  }

  /** Control characters (ESC of ANSI colour codes, …) as visible Control Pictures. */
  function inert(s: unknown): string {
    const text = typeof s === "string" ? s : (JSON.stringify(s, null, 2) ?? "");
    return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) =>
      String.fromCharCode(c === "\u007f" ? 0x2421 : 0x2400 + c.charCodeAt(0)),
    );
  }
  const pre = (s: unknown, cls = "") => h("pre", { class: `text ${cls}` }, inert(s));

  const enc = encodeURIComponent;
  const paths = {
    experiment: (e: string) => `/e/${enc(e)}`,
    trial: (e: string, t: string, query = "") => `/e/${enc(e)}/t/${enc(t)}${query}`,
    sample: (e: string, t: string, id: string, s: number) => `/e/${enc(e)}/t/${enc(t)}/s/${enc(id)}/${s}`,
    compare: (e: string, a: string, b: string) => `/e/${enc(e)}/compare/${enc(a)}/${enc(b)}`,
    pair: (e: string, a: string, b: string, id: string, s: number) =>
      `/e/${enc(e)}/compare/${enc(a)}/${enc(b)}/${enc(id)}/${s}`,
  };
  /** An in-app link: same-origin path, followed with the History API. */
  function link(href: string, ...children: Child[]): HTMLElement {
    return h(
      "a",
      {
        href,
        onclick: (e) => {
          const m = e as MouseEvent;
          if (m.button !== 0 || m.ctrlKey || m.metaKey || m.shiftKey) return;
          e.preventDefault();
          go(href);
        },
      },
      ...children,
    );
  }
  function go(href: string): void {
    history.pushState(null, "", href);
    void render();
  }
  window.addEventListener("popstate", () => void render());

  async function get(url: string): Promise<Any> {
    const res = await fetch(url, { credentials: "same-origin" });
    if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
    return res.json();
  }

  const pct = (x: unknown) =>
    typeof x === "number" && Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "–";
  const num = (x: unknown, d = 3) =>
    typeof x === "number" && Number.isFinite(x) ? String(Number(x.toFixed(d))) : "–";
  const usd = (x: unknown) =>
    typeof x === "number"
      ? x === 0
        ? "$0"
        : x >= 0.01
          ? `$${x.toFixed(2)}`
          : `$${Number(x.toPrecision(2))}`
      : "–";

  function table(head: string[], rows: Child[][], attrs: Attrs = {}): HTMLElement {
    return h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        attrs,
        h("thead", {}, h("tr", {}, ...head.map((x) => h("th", {}, x)))),
        h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, c))))),
      ),
    );
  }
  const badge = (status: string) => h("span", { class: `badge ${status}`, "data-status": status }, status);
  function crumbs(...items: [string, string | null][]): HTMLElement {
    const nav = h("nav", { class: "crumbs" }, link("/", "experiments"));
    for (const [label, href] of items) nav.append(" / ", href ? link(href, label) : h("span", {}, label));
    return nav;
  }

  function follow(exp: string, onUpdate: (data: Any) => void): void {
    live?.close();
    live = new EventSource(`/api/e/${enc(exp)}/events`);
    live.addEventListener("update", (e) => onUpdate(JSON.parse((e as MessageEvent).data)));
  }

  async function render(): Promise<void> {
    const mine = ++renderToken;
    live?.close();
    live = null;
    const parts = location.pathname
      .split("/")
      .slice(1)
      .map((p) => decodeURIComponent(p));
    const q = new URLSearchParams(location.search);
    let view: HTMLElement;
    try {
      if (parts[0] === "e" && parts.length === 2) view = await experimentPage(parts[1]!);
      else if (parts[0] === "e" && parts[2] === "t" && parts.length === 4)
        view = await trialPage(parts[1]!, parts[3]!, q);
      else if (parts[0] === "e" && parts[2] === "t" && parts[4] === "s" && parts.length === 7)
        view = await samplePage(parts[1]!, parts[3]!, parts[5]!, Number(parts[6]));
      else if (parts[0] === "e" && parts[2] === "compare" && parts.length === 5)
        view = await comparePage(parts[1]!, parts[3]!, parts[4]!, q);
      else if (parts[0] === "e" && parts[2] === "compare" && parts.length === 7)
        view = await pairPage(parts[1]!, parts[3]!, parts[4]!, parts[5]!, Number(parts[6]));
      else view = await experimentsPage();
    } catch (error) {
      view = h("div", { class: "error", id: "page-error" }, `Could not load this page: ${String(error)}`);
    }
    if (mine !== renderToken) return;
    app.replaceChildren(view);
    document.body.dataset.ready = String(mine);
  }

  // ---- pages ----

  async function experimentsPage(): Promise<HTMLElement> {
    document.title = "experiments · benchline";
    const list: Any[] = await get("/api/experiments");
    const page = h("div", { id: "experiments" }, h("h1", {}, "Experiments"));
    if (list.length === 0)
      page.append(h("p", { class: "note" }, "No experiments here yet (a directory with experiment.json)."));
    else
      page.append(
        table(
          ["experiment", "task", "trials", "status", "modified"],
          list.map((e) => [
            link(paths.experiment(e.name), e.name),
            e.task ?? "–",
            String(e.trials),
            badge(
              e.running ? "running" : e.interrupted ? "interrupted" : e.report ? "finished" : "incomplete",
            ),
            e.modified.replace("T", " ").slice(0, 19),
          ]),
        ),
      );
    if (list.some((e) => e.running)) {
      const mine = renderToken;
      setTimeout(() => {
        if (mine === renderToken && location.pathname === "/") void render();
      }, 2000);
    }
    return page;
  }

  async function experimentPage(exp: string): Promise<HTMLElement> {
    document.title = `${exp} · benchline`;
    const d: Any = await get(`/api/e/${enc(exp)}`);
    const page = h(
      "div",
      { id: "experiment" },
      crumbs([exp, null]),
      h("h1", {}, exp, " ", badge(d.running ? "running" : d.interrupted ? "interrupted" : "finished")),
      h(
        "p",
        { class: "note" },
        `task ${d.task ?? "–"} · dataset ${d.dataset ?? "–"} · primary scorer ${d.primary_scorer ?? "–"}`,
      ),
    );
    const progress = h("div", { id: "progress" });
    const drawProgress = (trials: Any[]) => {
      progress.replaceChildren(
        table(
          ["trial", "prompts", "predictions ok / error", "executions ok / error", "scored", "expected"],
          trials.map((t) => {
            const p = t.progress;
            return [
              t.name,
              p ? String(p.items) : "–",
              p ? `${p.predictions.ok} / ${p.predictions.error}` : "–",
              p ? `${p.executions.ok} / ${p.executions.error}` : "–",
              p ? String(p.scored) : "–",
              t.expected === null ? "–" : String(t.expected),
            ];
          }),
          { class: "progress-table" },
        ),
      );
    };
    page.append(h("h2", {}, "Progress"), progress);
    drawProgress(d.trials);
    const summaries = d.trials.filter((t: Any) => t.summary);
    page.append(
      h("h2", {}, "Trials"),
      table(
        ["trial", "model", "prompt set", "mean (CI)", "pass@k", "cost", "errors", ""],
        d.trials.map((t: Any) => {
          const s = t.summary;
          const ci = s?.mean_ci ? ` (${pct(s.mean_ci.low)} – ${pct(s.mean_ci.high)})` : "";
          return [
            link(paths.trial(exp, t.name), t.name),
            t.model ?? "–",
            t.prompt_set ?? "–",
            s ? `${pct(s.mean_score)}${ci}` : "not reported yet",
            s
              ? s.pass_at_k.map((p: Any) => `pass@${p.k} ${pct(p.value ?? p.pass_at_k)}`).join(", ") || "–"
              : "–",
            s ? usd(s.usage.cost_usd) : "–",
            s
              ? `${s.errors.count}${
                  Object.keys(s.errors.by_code).length
                    ? ` (${Object.entries(s.errors.by_code)
                        .map(([c, n]) => `${c}: ${n}`)
                        .join(", ")})`
                    : ""
                }`
              : "–",
            link(paths.trial(exp, t.name), "samples →"),
          ];
        }),
        { id: "trials-table" },
      ),
    );
    if (summaries.length > 0) {
      page.append(
        h("h2", {}, "Charts"),
        h(
          "div",
          { class: "charts" },
          ...["scores", "cost", "categories"].map((c) =>
            h("img", {
              src: `/api/e/${enc(exp)}/chart/${c}.svg`,
              alt: `${c} chart`,
              class: "chart",
              id: `chart-${c}`,
            }),
          ),
        ),
      );
    }
    const comparisons: Any[] = d.comparison?.comparisons ?? [];
    if (comparisons.length > 0) {
      page.append(
        h("h2", {}, "Comparisons"),
        h("p", { class: "note" }, `B − A on shared items, Holm-corrected, α = ${d.alpha}.`),
        table(
          ["A", "B", "shared", "mean A", "mean B", "B − A (CI)", "p (adjusted)", "test", "", ""],
          comparisons.map((c) => [
            c.trial_a,
            c.trial_b,
            String(c.n_shared),
            pct(c.mean_a),
            pct(c.mean_b),
            `${num(c.diff * 100, 1)} pp (${num(c.ci_low * 100, 1)} – ${num(c.ci_high * 100, 1)})`,
            num(c.p_adjusted, 4),
            c.test,
            c.significant ? badge("significant") : "",
            link(paths.compare(exp, c.trial_a, c.trial_b), "disagreements →"),
          ]),
          { id: "comparisons-table" },
        ),
      );
    }
    if (d.trials.length >= 2) {
      const [a, b] = [d.trials[0].name, d.trials[1].name];
      const pick = (id: string, value: string) =>
        h(
          "select",
          { id },
          ...d.trials.map((t: Any) => {
            const o = h("option", { value: t.name }, t.name) as HTMLOptionElement;
            o.selected = t.name === value;
            return o;
          }),
        );
      const sa = pick("compare-a", a) as HTMLSelectElement;
      const sb = pick("compare-b", b) as HTMLSelectElement;
      page.append(
        h("h2", {}, "Compare two trials"),
        h(
          "div",
          { class: "filters" },
          sa,
          " vs ",
          sb,
          h(
            "button",
            { id: "compare-go", onclick: () => go(paths.compare(exp, sa.value, sb.value)) },
            "show disagreements",
          ),
        ),
      );
    }
    if (d.running)
      follow(exp, (u) => {
        drawProgress(u.trials);
        if (!u.running) void render();
      });
    return page;
  }

  async function trialPage(exp: string, trial: string, q: URLSearchParams): Promise<HTMLElement> {
    document.title = `${trial} · benchline`;
    const per = 50;
    const pageNo = Math.max(0, Number(q.get("page") ?? 0) || 0);
    const api = new URLSearchParams(q);
    api.delete("page");
    api.set("offset", String(pageNo * per));
    api.set("limit", String(per));
    const d: Any = await get(`/api/e/${enc(exp)}/t/${enc(trial)}/rows?${api}`);
    const setQuery = (changes: Record<string, string>) => {
      const next = new URLSearchParams(location.search);
      for (const [k, v] of Object.entries(changes))
        if (v === "") next.delete(k);
        else next.set(k, v);
      if (!("page" in changes)) next.delete("page");
      const s = next.toString();
      go(paths.trial(exp, trial, s ? `?${s}` : ""));
    };
    const select = (name: string, label: string, options: string[]) => {
      const el = h(
        "select",
        {
          name,
          id: `filter-${name}`,
          "aria-label": label,
          onchange: (e) => setQuery({ [name]: (e.target as HTMLSelectElement).value }),
        },
        h("option", { value: "" }, `${label}: any`),
        ...options.map((o) => {
          const opt = h("option", { value: o }, o) as HTMLOptionElement;
          opt.selected = q.get(name) === o;
          return opt;
        }),
      );
      return el;
    };
    const search = h("input", {
      type: "search",
      name: "q",
      id: "filter-q",
      placeholder: "text in prompt, completion, output",
      value: q.get("q") ?? "",
    }) as HTMLInputElement;
    const min = h("input", {
      type: "number",
      step: "any",
      name: "min",
      id: "filter-min",
      placeholder: "score ≥",
      value: q.get("min") ?? "",
    }) as HTMLInputElement;
    const max = h("input", {
      type: "number",
      step: "any",
      name: "max",
      id: "filter-max",
      placeholder: "score ≤",
      value: q.get("max") ?? "",
    }) as HTMLInputElement;
    const form = h(
      "form",
      {
        class: "filters",
        id: "filters",
        onsubmit: (e) => {
          e.preventDefault();
          setQuery({ q: search.value, min: min.value, max: max.value });
        },
      },
      select("status", "status", ["passed", "failed", "error", "pending"]),
      select("category", "category", d.facets.categories),
      select("error", "error code", d.facets.errors),
      min,
      max,
      search,
      h("button", { type: "submit", id: "filter-apply" }, "apply"),
      link(paths.trial(exp, trial), "clear"),
    );
    const sortHead = (key: string, label: string) => {
      const active = (q.get("sort") ?? "order") === key;
      const desc = q.get("desc") === "1";
      return h(
        "a",
        {
          href: "#",
          class: `sort${active ? " active" : ""}`,
          "data-sort": key,
          onclick: (e) => {
            e.preventDefault();
            setQuery({ sort: key, desc: active && !desc ? "1" : "" });
          },
        },
        `${label}${active ? (desc ? " ▼" : " ▲") : ""}`,
      );
    };
    const rows = h(
      "tbody",
      {},
      ...d.rows.map((r: Any) =>
        h(
          "tr",
          { "data-id": r.id, "data-sample": String(r.sample) },
          h("td", {}, link(paths.sample(exp, trial, r.id, r.sample), inert(r.id))),
          h("td", {}, String(r.sample)),
          h("td", {}, badge(r.status)),
          h("td", { class: "num" }, num(r.score)),
          h("td", {}, r.category ?? ""),
          h("td", {}, r.error ?? ""),
        ),
      ),
    );
    const last = Math.max(0, Math.ceil(d.total / per) - 1);
    const pager = h(
      "div",
      { class: "pager" },
      pageNo > 0
        ? h("button", { id: "prev", onclick: () => setQuery({ page: String(pageNo - 1) }) }, "← previous")
        : null,
      h(
        "span",
        { id: "page-info" },
        `${d.total === 0 ? 0 : pageNo * per + 1}–${Math.min(d.total, (pageNo + 1) * per)} of ${d.total}${d.search_capped ? "+ (search stopped at its cap)" : ""} rows (${d.ms} ms)`,
      ),
      pageNo < last
        ? h("button", { id: "next", onclick: () => setQuery({ page: String(pageNo + 1) }) }, "next →")
        : null,
    );
    const p = d.progress;
    const progress = h(
      "p",
      { class: "note", id: "trial-progress" },
      `${p.items} prompts · ${p.predictions.ok} predictions ok, ${p.predictions.error} errors · ${p.executions.ok + p.executions.error} executions · ${p.scored} scored`,
    );
    const page = h(
      "div",
      { id: "trial" },
      crumbs([exp, paths.experiment(exp)], [trial, null]),
      h("h1", {}, trial),
      progress,
      ...p.badLines.map((b: Any) =>
        h(
          "p",
          { class: "warning bad-lines" },
          `${b.file}.jsonl: ${b.count} line(s) are not JSON rows (lines ${b.lines.join(", ")}); skipped`,
        ),
      ),
      form,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "rows" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", {}, sortHead("id", "id")),
              h("th", {}, "sample"),
              h("th", {}, sortHead("status", "status")),
              h("th", {}, sortHead("score", d.primary_scorer ?? "score")),
              h("th", {}, sortHead("category", "category")),
              h("th", {}, sortHead("error", "error")),
            ),
          ),
          rows,
        ),
      ),
      pager,
    );
    // new rows re-render the table, except while a filter field is being edited
    if (d.running)
      follow(exp, () => {
        if (!document.activeElement?.id.startsWith("filter-")) void render();
      });
    return page;
  }

  function messages(prompt: Any): HTMLElement {
    const list = Array.isArray(prompt?.messages) ? prompt.messages : [];
    return h(
      "div",
      { class: "messages" },
      ...list.map((m: Any) =>
        h(
          "div",
          { class: `message role-${m.role === "system" || m.role === "assistant" ? m.role : "user"}` },
          h("div", { class: "role" }, inert(m.role)),
          pre(m.content),
        ),
      ),
    );
  }

  /** A unified diff with added/removed lines marked by class (the text itself stays text). */
  function diff(patch: string): HTMLElement {
    return h(
      "pre",
      { class: "text diff" },
      ...patch.split("\n").map((line) =>
        h(
          "span",
          {
            class:
              line.startsWith("+") && !line.startsWith("+++")
                ? "add"
                : line.startsWith("-") && !line.startsWith("---")
                  ? "del"
                  : line.startsWith("@@")
                    ? "hunk"
                    : "",
          },
          `${inert(line)}\n`,
        ),
      ),
    );
  }

  function completion(pred: Any): HTMLElement {
    // guided decoding: the `interleaved` segments, each written by the base or the oracle model
    const segments = Array.isArray(pred?.interleaved) ? pred.interleaved : null;
    if (segments) {
      return h(
        "div",
        {},
        h(
          "p",
          { class: "note legend" },
          h("span", { class: "seg seg-base" }, "base model"),
          " ",
          h("span", { class: "seg seg-oracle" }, "oracle model"),
        ),
        h(
          "pre",
          { class: "text guided", id: "guided" },
          ...segments.map((s: Any) =>
            h(
              "span",
              {
                class: `seg seg-${s.model === "oracle" ? "oracle" : "base"}`,
                title: `${inert(s.model)} · ${s.tokens} tokens`,
              },
              inert(s.text),
            ),
          ),
        ),
      );
    }
    return pre(pred?.completion ?? "", "completion");
  }

  function sampleBody(d: Any, compact = false): HTMLElement {
    const pred = d.prediction;
    const exec = d.execution;
    const body = h(
      "div",
      { class: "sample" },
      h(
        "p",
        {},
        badge(d.ref.status),
        ` score ${num(d.ref.score)}`,
        d.ref.category ? ` · category ${inert(d.ref.category)}` : "",
        d.ref.error ? ` · error ${inert(d.ref.error)}` : "",
      ),
    );
    if (!compact) body.append(h("h2", {}, "Prompt"), messages(d.prompt));
    body.append(
      h("h2", {}, "Completion"),
      pred ? completion(pred) : h("p", { class: "note" }, "no prediction yet"),
    );
    if (pred?.error)
      body.append(h("p", { class: "error" }, `${inert(pred.error.code)}: ${inert(pred.error.message)}`));
    if (pred && !compact)
      body.append(
        h(
          "p",
          { class: "note" },
          `model ${inert(pred.model)} · ${pred.latency_ms} ms · ${pred.usage ? `${pred.usage.prompt_tokens}+${pred.usage.completion_tokens} tokens` : "no usage"} · finish ${inert(pred.finish_reason ?? "–")}`,
        ),
      );
    if (exec) {
      const artifact = exec.artifact;
      body.append(h("h2", {}, "Parsed artifact"));
      if (artifact && typeof artifact === "object" && typeof artifact.patch === "string")
        body.append(diff(artifact.patch));
      else body.append(pre(artifact, "artifact"));
      body.append(h("h2", {}, `Execution (${inert(exec.sandbox)})`));
      if (exec.error)
        body.append(h("p", { class: "error" }, `${inert(exec.error.code)}: ${inert(exec.error.message)}`));
      for (const step of exec.steps ?? []) {
        body.append(
          h(
            "div",
            { class: "step" },
            h(
              "h3",
              {},
              `${inert(step.name)} · exit ${step.exit_code ?? "none"}${step.timed_out ? " · timed out" : ""} · ${step.duration_ms} ms`,
            ),
            pre(step.command, "command"),
            h("div", { class: "label" }, "stdout"),
            pre(step.stdout, "stdout"),
            h("div", { class: "label" }, "stderr"),
            pre(step.stderr, "stderr"),
          ),
        );
      }
    }
    body.append(
      h("h2", {}, "Scores"),
      table(
        ["scorer", "value", "passed", "detail"],
        (d.scores ?? []).map((s: Any) => [
          inert(s?.scorer),
          num(s?.value),
          s?.passed ? "yes" : "no",
          s?.detail === undefined ? "" : pre(s.detail, "detail"),
        ]),
        { class: "scores" },
      ),
    );
    return body;
  }

  async function samplePage(exp: string, trial: string, id: string, sample: number): Promise<HTMLElement> {
    document.title = `${id} · ${trial} · benchline`;
    const d: Any = await get(`/api/e/${enc(exp)}/t/${enc(trial)}/s/${enc(id)}/${sample}`);
    const others =
      d.samples.length > 1
        ? h(
            "p",
            { class: "samples" },
            "samples: ",
            ...d.samples.map((s: number) =>
              s === sample
                ? h("b", {}, String(s), " ")
                : h("span", {}, link(paths.sample(exp, trial, id, s), String(s)), " "),
            ),
          )
        : null;
    return h(
      "div",
      { id: "sample-page" },
      crumbs(
        [exp, paths.experiment(exp)],
        [trial, paths.trial(exp, trial)],
        [`${inert(id)} #${sample}`, null],
      ),
      h("h1", {}, `${inert(id)} · sample ${sample}`),
      others,
      sampleBody(d),
      h(
        "p",
        { class: "note" },
        "Raw rows: ",
        ...["prompts", "predictions", "executions", "scores"].map((f) =>
          h("span", {}, h("a", { href: `/raw/${enc(exp)}/${enc(trial)}/${f}.jsonl` }, `${f}.jsonl`), " "),
        ),
      ),
    );
  }

  async function comparePage(exp: string, a: string, b: string, q: URLSearchParams): Promise<HTMLElement> {
    document.title = `${a} vs ${b} · benchline`;
    const per = 50;
    const pageNo = Math.max(0, Number(q.get("page") ?? 0) || 0);
    const d: Any = await get(
      `/api/e/${enc(exp)}/compare/${enc(a)}/${enc(b)}?offset=${pageNo * per}&limit=${per}`,
    );
    const cell = (r: Any) => h("span", {}, badge(r.status), ` ${num(r.score)}`);
    const base = paths.compare(exp, a, b);
    return h(
      "div",
      { id: "compare" },
      crumbs([exp, paths.experiment(exp)], [`${a} vs ${b}`, null]),
      h("h1", {}, "Where two trials disagree"),
      h(
        "p",
        { class: "note", id: "compare-info" },
        `${d.total} of ${d.shared} shared samples differ (status or ${"score"}). A = ${a}, B = ${b}.`,
      ),
      table(
        ["item", "sample", "A", "B", ""],
        d.rows.map((r: Any) => [
          inert(r.id),
          String(r.sample),
          cell(r.a),
          cell(r.b),
          link(paths.pair(exp, a, b, r.id, r.sample), "side by side →"),
        ]),
        { id: "disagreements" },
      ),
      h(
        "div",
        { class: "pager" },
        pageNo > 0 ? link(`${base}?page=${pageNo - 1}`, "← previous") : null,
        " ",
        (pageNo + 1) * per < d.total ? link(`${base}?page=${pageNo + 1}`, "next →") : null,
      ),
    );
  }

  async function pairPage(
    exp: string,
    a: string,
    b: string,
    id: string,
    sample: number,
  ): Promise<HTMLElement> {
    document.title = `${id}: ${a} vs ${b} · benchline`;
    const [da, db] = await Promise.all(
      [a, b].map((t) => get(`/api/e/${enc(exp)}/t/${enc(t)}/s/${enc(id)}/${sample}`).catch(() => null)),
    );
    const side = (t: string, d: Any, key: string) =>
      h(
        "div",
        { class: "side", id: `side-${key}` },
        h("h2", {}, link(paths.trial(exp, t), t)),
        d ? sampleBody(d, true) : h("p", { class: "note" }, "this trial has no such sample"),
      );
    return h(
      "div",
      { id: "pair" },
      crumbs(
        [exp, paths.experiment(exp)],
        [`${a} vs ${b}`, paths.compare(exp, a, b)],
        [`${inert(id)} #${sample}`, null],
      ),
      h("h1", {}, `${inert(id)} · sample ${sample}`),
      h("h2", {}, "Prompt"),
      messages((da ?? db)?.prompt),
      h("div", { class: "sides" }, side(a, da, "a"), side(b, db, "b")),
    );
  }

  void render();
}
