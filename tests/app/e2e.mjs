// Drives the real Lookahead app through WebKitWebDriver's HTTP protocol
// (no client library needed). Run by tests/app-e2e.sh.
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const DRIVER = "http://127.0.0.1:4444";
const APP = process.env.APP_BINARY;
const SHOTS = process.env.SCREENSHOTS;
const QUESTION =
  "Sara buys 3 notebooks at 4 dollars each and a pen for 2 dollars. How much does she spend?";

let passed = 0;
let failed = 0;

async function wd(method, path, body) {
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

class Session {
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

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message}`);
    // What the window showed, to see why.
    await app.screenshot(`failed-${name.replace(/[^a-z0-9]+/gi, "-").slice(0, 40)}`).catch(() => {});
    const text = await app.pageText().catch((err) => `(no page text: ${err.message})`);
    console.log(`     the window showed:\n${String(text).slice(0, 2000).replace(/^/gm, "       ")}`);
  }
}

let app = await Session.start();
try {
  // A short answer keeps the run quick on a 2-core CI machine; it also
  // proves the settings screen saves through the real shell.
  await step("settings: a shorter answer limit is saved", async () => {
    await app.waitFor("#composer-input", 60, "the app's first screen");
    const [nav] = await app.findXPath("//div[@aria-label='Main']//button[contains(., 'Settings')]");
    if (!nav) throw new Error("no Settings button");
    await app.click(nav);
    // The length limit is under Advanced.
    await app.waitFor('[data-testid="settings-advanced"] > summary', 30, "the Advanced section");
    await wd("POST", `/session/${app.id}/execute/sync`, {
      script: "const d = document.querySelector('[data-testid=settings-advanced]'); d.open = true; d.scrollIntoView({block: 'center'});",
      args: [],
    });
    const [limit] = await app.waitFor("#max_answer_tokens", 30, "the answer length field");
    await app.clear(limit);
    await app.type(limit, "160");
    const [save] = await app.findXPath("//button[@type='submit' and contains(., 'Save')]");
    await app.click(save);
    const until = Date.now() + 15000;
    while (!/All changes saved/.test(await app.text((await app.find(".save-bar"))[0]))) {
      if (Date.now() > until) throw new Error("settings were not saved");
      await new Promise((r) => setTimeout(r, 250));
    }
    await app.screenshot("app-settings");
    const [chat] = await app.findXPath("//div[@aria-label='Main']//button[contains(., 'Chat')]");
    await app.click(chat);
  });
  await step("the page can call only the commands its UI uses", async () => {
    // Granted: answers normally. Not granted (the UI never calls it, and it
    // would return the history as text): refused by Tauri's ACL.
    const call = (cmd, args) =>
      app.executeAsync(
        "const done = arguments[arguments.length - 1];" +
          "window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1])" +
          ".then(() => done('allowed'), (e) => done('refused: ' + JSON.stringify(e)));",
        [cmd, args],
      );
    const granted = await call("settings_get", {});
    if (granted !== "allowed") throw new Error(`settings_get: ${granted}`);
    const refused = await call("stats_csv", { since: null, until: null });
    if (!/^refused: .*not allowed/i.test(refused)) throw new Error(`stats_csv was not refused: ${refused}`);
    const gone = await call("save_text_file", { path: "/tmp/x", contents: "x" });
    if (!/^refused/.test(gone)) throw new Error(`save_text_file: ${gone}`);
    // No file dialog for the page either: the shell opens them itself.
    const dialog = await call("plugin:dialog|open", { options: { directory: false, multiple: false } });
    if (!/^refused: .*not allowed/i.test(dialog)) throw new Error(`plugin:dialog|open was not refused: ${dialog}`);
    console.log(`     stats_csv: ${refused.slice(0, 120)}`);
  });
  await step("the models get ready in the background before the question", async () => {
    // engine_prepare runs at start and again after the settings were saved:
    // the status line goes away once the model is loaded and timed.
    await app.waitFor("#composer-input", 60, "the question box");
    const until = Date.now() + 120_000;
    while ((await app.find('[data-testid="engine-status"]')).length) {
      const [status] = await app.find('[data-testid="engine-status"]');
      const text = status ? await app.text(status).catch(() => "") : "";
      if (/could not be loaded/.test(text)) throw new Error(text);
      if (Date.now() > until) throw new Error(`still getting ready: ${text}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  });
  await step("asks a real question and shows steps with verdicts and the speed line", async () => {
    const [input] = await app.waitFor("#composer-input", 60, "the question box");
    await app.type(input, QUESTION);
    await app.type(input, "\uE007"); // Enter sends
    // While it is written, the live answer says what the engine is doing.
    const [stage] = await app.waitFor('[data-testid="live-stage"]', 60, "the live answer's stage");
    const said = await app.text(stage).catch(() => "");
    if (!/^(Reading your question|Writing step \d+|Drafting steps? \d+|Checking|Loading the)/.test(said)) {
      throw new Error(`odd live stage: ${said}`);
    }
    console.log(`     live stage: ${said}`);
    await app.screenshot("app-live-stage");
    await app.waitFor('[data-testid="speed-line"]', Number(process.env.E2E_ANSWER_TIMEOUT ?? 600), "the finished answer's speed line");
    const steps = await app.find('[data-testid="step"]');
    if (steps.length < 1) throw new Error("no steps shown");
    const speed = await app.textOf('[data-testid="speed-line"]');
    // The first answer already compares itself with this computer's usual
    // speed (timed when the model was loaded).
    if (!/(faster than usual|as fast as usual|slower than usual|the usual speed)/.test(speed)) {
      throw new Error(`the speed line has no verdict: ${speed}`);
    }
    const summary = await app.textOf('[data-testid="steps-summary"]');
    if (!/step/i.test(summary)) throw new Error(`odd steps summary: ${summary}`);
    // Steps are numbered from 1 for people (the engine counts from 0).
    await app.click((await app.find('[data-testid="steps-summary"]'))[0]);
    const first = await app.textOf(".step-num");
    if (first.trim() !== "Step 1") throw new Error(`the first step reads "${first}", not "Step 1"`);
    console.log(`     speed line: ${speed}`);
    console.log(`     summary: ${summary}`);
    await app.screenshot("app-chat");
  });
} finally {
  await app.end();
}

app = await Session.start();
try {
  await step("after a restart the answer is in history", async () => {
    const items = await app.waitFor('[data-testid="conversation"]', 60, "a conversation in history");
    const listed = await app.text(items[0]);
    const page = await app.pageText();
    if (!page.includes("Sara buys")) throw new Error(`history shows "${listed}"`);
    await app.click((await app.findXPath("//*[@data-testid='conversation']//button[1]"))[0] ?? items[0]);
    await app.waitFor('[data-testid="step"]', 30, "the stored steps");
    await app.screenshot("app-history");
  });
  await step("the dashboard shows the answer", async () => {
    const [nav] = await app.findXPath("//button[contains(., 'Dashboard')] | //a[contains(., 'Dashboard')]");
    if (!nav) throw new Error("no Dashboard button");
    await app.click(nav);
    await app.waitFor('[data-testid="config-table"]', 30, "the dashboard table");
    const table = await app.text((await app.find('[data-testid="config-table"]'))[0]);
    if (!/SmolLM2 135M/i.test(table)) throw new Error(`dashboard table lacks the model: ${table}`);
    // Friendly names, not what the shell records ("….gguf", "embed@0.95").
    if (/\.gguf|embed@/.test(table)) throw new Error(`dashboard table shows file names or codes: ${table}`);
    const card = await app.text((await app.find('[data-testid="stat-speedup"]'))[0]);
    if (!/\d+(\.\d+)?×/.test(card)) throw new Error(`the average speed-up is not a number: ${card}`);
    console.log(`     average speed-up card: ${card.replace(/\s+/g, " ")}`);
    await app.screenshot("app-dashboard");
  });
  await step("dark colours, saved in Settings, at 1366×768", async () => {
    const [nav] = await app.findXPath("//div[@aria-label='Main']//button[contains(., 'Settings')]");
    await app.click(nav);
    const [dark] = await app.waitFor("input[name=theme][value=dark]", 30, "the Dark choice");
    await app.click(dark);
    const [save] = await app.findXPath("//button[@type='submit' and contains(., 'Save')]");
    await app.click(save);
    const theme = await wd("POST", `/session/${app.id}/execute/sync`, {
      script: "return document.documentElement.dataset.theme || getComputedStyle(document.documentElement).colorScheme",
      args: [],
    });
    if (!/dark/.test(String(theme))) throw new Error(`the window is not dark: ${theme}`);
    await app.screenshot("app-settings-dark");
    const [dash] = await app.findXPath("//button[contains(., 'Dashboard')] | //a[contains(., 'Dashboard')]");
    await app.click(dash);
    await app.waitFor('[data-testid="config-table"]', 30, "the dashboard table");
    await app.screenshot("app-dashboard-dark");
    const [chat] = await app.findXPath("//div[@aria-label='Main']//button[contains(., 'Chat')]");
    await app.click(chat);
    const items = await app.waitFor('[data-testid="conversation"]', 30, "a conversation in history");
    await app.click((await app.findXPath("//*[@data-testid='conversation']//button[1]"))[0] ?? items[0]);
    await app.waitFor('[data-testid="step"]', 30, "the stored steps");
    await app.screenshot("app-history-dark");
  });
  await step("the models can be switched to a server in Settings, and answer from it", async () => {
    const url = process.env.LLAMA_SERVER_URL;
    if (!url) throw new Error("LLAMA_SERVER_URL is not set (tests/app-e2e.sh starts llama-server)");
    const [nav] = await app.findXPath("//div[@aria-label='Main']//button[contains(., 'Settings')]");
    await app.click(nav);
    await app.waitFor("input[name=models_location][value=server]", 30, "the server choice");
    const [server] = await app.findXPath("//fieldset[@data-testid='models-location']//input[@value='server']");
    await app.jsClick(server);
    const [address] = await app.waitFor("#server_url", 30, "the server address field");
    await app.type(address, url);
    const [test] = await app.findXPath("//button[contains(., 'Test connection')]");
    await app.jsClick(test);
    const [found] = await app.waitFor('[data-testid="server-test-result"]', 60, "the connection test's result");
    const said = await app.text(found);
    if (!/^Connected: SmolLM2/.test(said)) throw new Error(`connection test said: ${said}`);
    console.log(`     ${said}`);
    await app.screenshot("app-settings-server");
    const [save] = await app.findXPath("//button[@type='submit' and contains(., 'Save')]");
    await app.jsClick(save);
    const saved = Date.now() + 15000;
    while (!/All changes saved/.test(await app.textOf(".save-bar"))) {
      if (Date.now() > saved) throw new Error("the server settings were not saved");
      await new Promise((r) => setTimeout(r, 250));
    }
    const [chat] = await app.findXPath("//div[@aria-label='Main']//button[contains(., 'Chat')]");
    await app.jsClick(chat);
    await new Promise((r) => setTimeout(r, 500));
    // Seen once under load: the unsaved-changes question right after a
    // completed save (under investigation). The saved settings are what
    // counts here: the server's own counter below proves they were used.
    const [discard] = await app.findXPath("//div[@data-testid='unsaved-dialog']//button[contains(., 'Discard')]");
    if (discard) {
      console.log("     (the unsaved-changes dialog appeared after the save; discarded)");
      await app.jsClick(discard);
    }
    const [fresh] = await app.findXPath("//button[contains(., 'New chat')]");
    await app.jsClick(fresh);
    const [input] = await app.waitFor("#composer-input", 60, "the question box");
    await app.type(input, "What is 7 + 5?");
    await app.type(input, "\uE007");
    await app.waitFor('[data-testid="speed-line"]', Number(process.env.E2E_ANSWER_TIMEOUT ?? 600), "the server's answer");
    const alerts = await app.find('[role="alert"], [role="alertdialog"]');
    if (alerts.length) throw new Error(`the answer failed: ${await app.text(alerts[0]).catch(() => "?")}`);
    // The server wrote it: its counters moved (the app's own model would not move them).
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const predicted = Number(/llamacpp:tokens_predicted_total\s+([0-9.e+]+)/.exec(metrics)?.[1] ?? 0);
    if (!(predicted > 0)) throw new Error(`the server wrote no tokens: ${metrics.slice(0, 300)}`);
    console.log(`     the server wrote ${predicted} tokens`);
    await app.screenshot("app-chat-server");
  });
} finally {
  await app.end();
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
