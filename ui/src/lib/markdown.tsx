// Model text as people expect to read it: paragraphs, lists, bold, code,
// simple tables, and maths written in LaTeX (\frac, \times, \boxed, ^2 …)
// shown as readable symbols. Built from Preact elements and text nodes
// only: no HTML string from the model is ever parsed, so nothing it writes
// can become markup or script (the XSS tests hold by construction).

import type { ComponentChildren, VNode } from "preact";

// ------------------------------------------------------------------ maths

const SYMBOLS: Record<string, string> = {
  times: "×",
  cdot: "·",
  div: "÷",
  pm: "±",
  mp: "∓",
  le: "≤",
  leq: "≤",
  ge: "≥",
  geq: "≥",
  neq: "≠",
  ne: "≠",
  approx: "≈",
  sim: "∼",
  equiv: "≡",
  infty: "∞",
  pi: "π",
  theta: "θ",
  alpha: "α",
  beta: "β",
  gamma: "γ",
  delta: "δ",
  Delta: "Δ",
  mu: "μ",
  sigma: "σ",
  Sigma: "Σ",
  sum: "∑",
  prod: "∏",
  rightarrow: "→",
  to: "→",
  Rightarrow: "⇒",
  leftarrow: "←",
  implies: "⟹",
  therefore: "∴",
  degree: "°",
  circ: "°",
  percent: "%",
  ldots: "…",
  dots: "…",
  cdots: "⋯",
  quad: "\u2003",
  qquad: "\u2003\u2003",
  ",": "\u2009",
  ";": "\u2005",
  ":": "\u2005",
  "!": "",
  " ": " ",
  $: "$",
  "%": "%",
  "&": "&",
  "#": "#",
  _: "_",
  "{": "{",
  "}": "}",
  left: "",
  right: "",
  big: "",
  Big: "",
  displaystyle: "",
  textstyle: "",
};

/** Reads one `{…}` group (or a single character) starting at `i`. */
function group(src: string, i: number): [string, number] {
  while (src[i] === " ") i++;
  if (src[i] !== "{") return [src[i] ?? "", i + 1];
  let depth = 0;
  for (let j = i; j < src.length; j++) {
    if (src[j] === "{") depth++;
    else if (src[j] === "}" && --depth === 0) return [src.slice(i + 1, j), j + 1];
  }
  return [src.slice(i + 1), src.length];
}

/** LaTeX maths as elements: fractions, powers, roots, boxed answers, symbols. */
export function renderMath(src: string): ComponentChildren[] {
  const out: ComponentChildren[] = [];
  let text = "";
  const flush = () => {
    if (text) out.push(text);
    text = "";
  };
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === "\\") {
      const m = /^\\([A-Za-z]+|.)/.exec(src.slice(i));
      const name = m ? m[1] : "";
      i += 1 + name.length;
      if (name === "frac" || name === "dfrac" || name === "tfrac") {
        const [num, a] = group(src, i);
        const [den, b] = group(src, a);
        i = b;
        flush();
        out.push(
          <span class="md-frac" role="math" aria-label={`${plain(num)} over ${plain(den)}`}>
            <span class="md-num">{renderMath(num)}</span>
            <span class="md-den">{renderMath(den)}</span>
          </span>,
        );
      } else if (name === "sqrt") {
        const [arg, a] = group(src, i);
        i = a;
        flush();
        out.push(<span class="md-sqrt">√({renderMath(arg)})</span>);
      } else if (name === "boxed" || name === "fbox") {
        const [arg, a] = group(src, i);
        i = a;
        flush();
        out.push(<span class="md-boxed">{renderMath(arg)}</span>);
      } else if (["text", "textbf", "mathrm", "mathbf", "operatorname", "textit", "mbox"].includes(name)) {
        const [arg, a] = group(src, i);
        i = a;
        text += arg.replace(/\\([$%&#_{}])/g, "$1");
      } else if (name in SYMBOLS) {
        text += SYMBOLS[name];
      } else {
        text += name;
      }
    } else if (c === "^" || c === "_") {
      const [arg, a] = group(src, i + 1);
      i = a;
      flush();
      out.push(c === "^" ? <sup>{renderMath(arg)}</sup> : <sub>{renderMath(arg)}</sub>);
    } else if (c === "{" || c === "}") {
      i++;
    } else {
      text += c;
      i++;
    }
  }
  flush();
  return out;
}

/** Maths as plain words for a screen reader label. */
function plain(src: string): string {
  return src
    .replace(/\\(?:text|mathrm)\{([^}]*)\}/g, "$1")
    .replace(/\\([A-Za-z]+)/g, (_, n: string) => SYMBOLS[n] ?? n)
    .replace(/[{}]/g, "");
}

// ------------------------------------------------------------------ inline

/** Inline Markdown and maths inside one block of text. */
export function renderInline(src: string): ComponentChildren[] {
  const out: ComponentChildren[] = [];
  // Order matters: code first (nothing inside it is special), then maths,
  // then emphasis (`**bold**`, `*italic*` only where CommonMark would see
  // it: not around spaces, not inside words; underscores stay underscores).
  const pattern =
    /(`+)([\s\S]*?)\1|\\\(([\s\S]*?)\\\)|\\\[([\s\S]*?)\\\]|\$\$([\s\S]*?)\$\$|\$([^$\n]*?[^\s$\\])\$(?!\d)|\\boxed\{|\*\*(?=\S)([\s\S]+?)(?<=\S)\*\*|(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=\S)\*(?![\w*])/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = pattern.exec(src))) {
    if (m.index > last) out.push(src.slice(last, m.index));
    if (m[1]) out.push(<code>{m[2]}</code>);
    else if (m[3] != null || m[5] != null || m[6] != null) out.push(<span class="md-math">{renderMath(m[3] ?? m[5] ?? m[6])}</span>);
    else if (m[4] != null) out.push(<span class="md-math md-math--display">{renderMath(m[4])}</span>);
    else if (m[0] === "\\boxed{") {
      // A boxed answer outside maths delimiters.
      const [arg, end] = group(src, m.index + "\\boxed".length);
      out.push(<span class="md-boxed">{renderMath(arg)}</span>);
      pattern.lastIndex = end;
      last = end;
      continue;
    } else if (m[7] != null) out.push(<strong>{renderInline(m[7])}</strong>);
    else if (m[8] != null) out.push(<em>{renderInline(m[8])}</em>);
    last = pattern.lastIndex;
  }
  if (last < src.length) out.push(src.slice(last));
  return out;
}

// ------------------------------------------------------------------ blocks

const LIST_ITEM = /^(\s*)([-*+]|\d+[.)])\s+(.*)$/;
const TABLE_RULE = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;

function cells(row: string): string[] {
  return row
    .trim()
    .replace(/^\||\|$/g, "")
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, "|"));
}

/** A whole text (an answer, a step) as blocks. */
export function Markdown(props: { text: string; class?: string }): VNode {
  const lines = props.text.replace(/\r\n?/g, "\n").split("\n");
  const blocks: VNode[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    // Fenced code.
    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i++;
      blocks.push(
        <pre class="md-code">
          <code>{body.join("\n")}</code>
        </pre>,
      );
      continue;
    }
    // Display maths on its own lines.
    if (/^\s*(\\\[|\$\$)\s*$/.test(line)) {
      const close = line.trim() === "$$" ? "$$" : "\\]";
      const body: string[] = [];
      i++;
      while (i < lines.length && lines[i].trim() !== close) body.push(lines[i++]);
      i++;
      blocks.push(<p class="md-math md-math--display">{renderMath(body.join(" "))}</p>);
      continue;
    }
    // Headings.
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      const level = Math.min(heading[1].length + 2, 6);
      const H = `h${level}` as "h3" | "h4" | "h5" | "h6";
      blocks.push(<H class="md-heading">{renderInline(heading[2])}</H>);
      i++;
      continue;
    }
    // Tables: a header row, a rule, then rows.
    if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])) {
      const head = cells(line);
      const rows: string[][] = [];
      i += 2;
      while (i < lines.length && lines[i].includes("|") && lines[i].trim()) rows.push(cells(lines[i++]));
      blocks.push(
        <div class="md-table-wrap">
          <table class="md-table">
            <thead>
              <tr>
                {head.map((h) => (
                  <th scope="col">{renderInline(h)}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr>
                  {head.map((_, c) => (
                    <td>{renderInline(r[c] ?? "")}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>,
      );
      continue;
    }
    // Lists (one level; deeper items join their parent's list).
    if (LIST_ITEM.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const items: string[] = [];
      while (i < lines.length) {
        const item = LIST_ITEM.exec(lines[i]);
        if (item) items.push(item[3]);
        else if (lines[i].trim() && /^\s+/.test(lines[i]) && items.length) items[items.length - 1] += ` ${lines[i].trim()}`;
        else break;
        i++;
      }
      const start = ordered ? Number.parseInt(line.trim(), 10) : undefined;
      const List = ordered ? "ol" : "ul";
      blocks.push(
        <List class="md-list" start={start !== 1 ? start : undefined}>
          {items.map((t) => (
            <li>{renderInline(t)}</li>
          ))}
        </List>,
      );
      continue;
    }
    // A paragraph: lines up to a blank line or another block.
    const para: string[] = [];
    while (
      i < lines.length &&
      lines[i].trim() &&
      !LIST_ITEM.test(lines[i]) &&
      !/^(#{1,6})\s/.test(lines[i]) &&
      !/^\s*(```|~~~)/.test(lines[i]) &&
      !/^\s*(\\\[|\$\$)\s*$/.test(lines[i])
    )
      para.push(lines[i++]);
    if (para.length === 0) {
      // A line no rule took (e.g. a lone table row): as text.
      para.push(lines[i++]);
    }
    const parts: ComponentChildren[] = [];
    para.forEach((p, n) => {
      if (n > 0) parts.push(<br />);
      parts.push(...renderInline(p));
    });
    blocks.push(<p>{parts}</p>);
  }
  return <div class={`md${props.class ? ` ${props.class}` : ""}`}>{blocks}</div>;
}
