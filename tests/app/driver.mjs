// A small WebDriver client for the real Lookahead app (WebKitWebDriver's
// HTTP protocol; no client library needed), shared by the real-app scripts.
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const DRIVER = "http://127.0.0.1:4444";
const APP = process.env.APP_BINARY;
const SHOTS = process.env.SCREENSHOTS;
export async function wd(method, path, body) {
  const res = await fetch(DRIVER + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok || (json.value && json.value.error)) {
    throw new Error(`${method} ${path}: ${JSON.stringify(json.value)}`);
  }
  return json.value;
}

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

export class Session {
  static async start() {
    const value = await wd("POST", "/session", {
      capabilities: {
        alwaysMatch: { "webkitgtk:browserOptions": { binary: APP, args: [] } },
      },
    });
    const s = new Session();
    s.id = value.sessionId;
    // The screen the office review used: 1366×768.
    await wd("POST", `/session/${s.id}/window/rect`, { width: 1366, height: 768 }).catch(() => {});
    return s;
  }
  async find(css) {
    const found = await wd("POST", `/session/${this.id}/elements`, { using: "css selector", value: css });
    return found.map((e) => e[ELEMENT]);
  }
  async findXPath(xpath) {
    const found = await wd("POST", `/session/${this.id}/elements`, { using: "xpath", value: xpath });
    return found.map((e) => e[ELEMENT]);
  }
  async waitFor(css, timeoutS, what = css) {
    const until = Date.now() + timeoutS * 1000;
    while (Date.now() < until) {
      const els = await this.find(css).catch(() => []);
      if (els.length) return els;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`timed out after ${timeoutS}s waiting for ${what}`);
  }
  text(el) {
    return wd("GET", `/session/${this.id}/element/${el}/text`);
  }
  /** The text of the first element matching `css`, found again if the
   * page re-rendered it between finding and reading. */
  async textOf(css) {
    for (let tries = 0; ; tries++) {
      try {
        const [el] = await this.find(css);
        if (!el) throw new Error(`nothing matches ${css}`);
        return await this.text(el);
      } catch (e) {
        if (tries >= 4 || !/stale element/.test(e.message)) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  /** Clicks through the page's own click(): for controls a toast or the
   * sticky save bar may cover at the moment of a WebDriver click. */
  jsClick(el) {
    return wd("POST", `/session/${this.id}/execute/sync`, { script: "arguments[0].click();", args: [{ [ELEMENT]: el }] });
  }
  clear(el) {
    return wd("POST", `/session/${this.id}/element/${el}/clear`, {});
  }
  click(el) {
    return wd("POST", `/session/${this.id}/element/${el}/click`, {});
  }
  type(el, text) {
    return wd("POST", `/session/${this.id}/element/${el}/value`, { text });
  }
  /** Puts `text` into a text box at once, as a paste would (typing
   * thousands of characters key by key takes minutes). */
  setValue(el, text) {
    return wd("POST", `/session/${this.id}/execute/sync`, {
      script:
        "const el = arguments[0]; const set = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(el), 'value').set; set.call(el, arguments[1]); el.dispatchEvent(new Event('input', { bubbles: true }));",
      args: [{ [ELEMENT]: el }, text],
    });
  }
  /** Runs `script` in the page and returns its value. */
  run(script, args = []) {
    return wd("POST", `/session/${this.id}/execute/sync`, { script, args });
  }
  /** Paints the page in `theme` as the app's own theme switch does. */
  paint(theme) {
    return this.run(
      "const r = document.documentElement; r.dataset.theme = arguments[0]; r.style.colorScheme = arguments[0]; return r.dataset.theme;",
      [theme],
    );
  }
  /** Screenshots `name` (light colours) and `name-dark`, whichever the
   * page shows now first, then puts its colours back. WebKitGTK under Xvfb
   * paints late: each shot waits for it. */
  async shots(name) {
    const painted = () => new Promise((r) => setTimeout(r, 400));
    const shown = (await this.run("return document.documentElement.dataset.theme")) === "dark" ? "dark" : "light";
    const file = (theme) => (theme === "dark" ? `${name}-dark` : name);
    await painted();
    await this.screenshot(file(shown));
    const other = shown === "dark" ? "light" : "dark";
    await this.paint(other);
    await painted();
    await this.screenshot(file(other));
    await this.paint(shown);
    await painted();
  }
  async screenshot(name) {
    const png = await wd("GET", `/session/${this.id}/screenshot`);
    writeFileSync(join(SHOTS, `${name}.png`), Buffer.from(png, "base64"));
  }
  async pageText() {
    return wd("POST", `/session/${this.id}/execute/sync`, {
      script: "return document.body.innerText",
      args: [],
    });
  }
  /** Runs an async script; its last argument is the callback to return with. */
  executeAsync(script, args = []) {
    return wd("POST", `/session/${this.id}/execute/async`, { script, args });
  }
  async end() {
    await wd("DELETE", `/session/${this.id}`).catch(() => {});
  }
}

/** Named test steps against one app session: a failing step is reported
 * with a screenshot and what the window showed, and the run goes on. */
export class Steps {
  /** `currentApp()` returns the session to look at when a step fails. */
  constructor(currentApp) {
    this.passed = 0;
    this.failed = 0;
    this.currentApp = currentApp;
  }
  async step(name, fn) {
    const started = Date.now();
    try {
      await fn();
      this.passed++;
      console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (e) {
      this.failed++;
      console.log(`FAIL ${name}: ${e.message}`);
      const app = this.currentApp();
      // What the window showed, to see why.
      await app.screenshot(`failed-${name.replace(/[^a-z0-9]+/gi, "-").slice(0, 40)}`).catch(() => {});
      const text = await app.pageText().catch((err) => `(no page text: ${err.message})`);
      console.log(`     the window showed:\n${String(text).slice(0, 2000).replace(/^/gm, "       ")}`);
    }
  }
  /** Prints the tally and exits with its verdict. */
  finish() {
    console.log(`${this.passed} passed, ${this.failed} failed`);
    process.exit(this.failed ? 1 : 0);
  }
}
