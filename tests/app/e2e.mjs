// Drives the real Lookahead app through WebKitWebDriver's HTTP protocol
// (no client library needed). Run by tests/app-e2e.sh.
import { Session, Steps } from "./driver.mjs";

const QUESTION =
  "Sara buys 3 notebooks at 4 dollars each and a pen for 2 dollars. How much does she spend?";

const steps = new Steps(() => app);
const step = (name, fn) => steps.step(name, fn);

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
    await app.run("const d = document.querySelector('[data-testid=settings-advanced]'); d.open = true; d.scrollIntoView({block: 'center'});");
    // The models get ready in the background meanwhile, and a re-render in
    // the moment between clearing the field and typing puts the saved
    // value back ("1024" + "160", saved as the 4096 ceiling). The field
    // takes its value when it loses focus; what counts is what it holds
    // then: type again until it reads 160.
    for (let tries = 0; ; tries++) {
      const [limit] = await app.waitFor("#max_answer_tokens", 30, "the answer length field");
      await app.clear(limit);
      await app.type(limit, "160");
      const typed = await app.run("const f = document.querySelector('#max_answer_tokens'); f.blur(); return f.value");
      if (typed === "160") break;
      if (tries >= 4) throw new Error(`the answer length field reads ${typed} after typing 160`);
      console.log(`     (the field read ${typed} after typing; typing again)`);
    }
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
  await step("the answer's actions and its steps, as office staff read them", async () => {
    // The conversation the restart step opened.
    for (const id of ["copy-answer", "copy-with-steps", "regenerate", "edit-question"]) {
      if ((await app.find(`[data-testid="${id}"]`)).length !== 1) throw new Error(`no ${id} button on the answer`);
    }
    // A real click: the clipboard takes text only from a person's gesture.
    await app.click((await app.find('[data-testid="copy-answer"]'))[0]);
    let said = [];
    for (let tries = 0; !said.some((t) => /cop/i.test(t)); tries++) {
      if (tries > 40) throw new Error(`no toast after copying: ${JSON.stringify(said)}`);
      await new Promise((r) => setTimeout(r, 250));
      said = await app.run("return [...document.querySelectorAll('[data-testid=toast]')].map((t) => t.textContent.trim())");
    }
    if (!said.includes("Answer copied")) throw new Error(`copying the answer said ${JSON.stringify(said)}`);
    // Open the steps: who wrote them is explained in words, numbers start
    // at 1, and scores and timings wait behind each step's Details.
    await app.run("document.querySelector('[data-testid=steps]').open = true;");
    const explain = await app.textOf('[data-testid="steps-explain"]');
    if (!/helper/.test(explain) || !/main model/.test(explain)) throw new Error(`no explanation of who wrote the steps: ${explain}`);
    const counts = await app.textOf('[data-testid="verdict-counts"]');
    if (!/\d/.test(counts)) throw new Error(`no counts beside the strip: "${counts}"`);
    const first = await app.textOf('[data-testid="step"]');
    if (!first.includes("Step 1")) throw new Error(`the first step reads: ${first}`);
    // Scores and timings only inside the step's Details, which is closed.
    const [outside, inside, open] = await app.run("const step = document.querySelector('[data-testid=step]'); const d = step.querySelector('[data-testid=step-details]'); const rest = step.cloneNode(true); rest.querySelectorAll('details').forEach((x) => x.remove()); return [rest.textContent, d ? d.textContent : '', d ? d.open : null];");
    if (/meaning match|main model \d|helper \d|check \d/.test(outside)) throw new Error(`scores shown outside Details: ${outside}`);
    if (!/main model \d/.test(inside) || open !== false) throw new Error(`no closed Details with the timings: ${inside} (open: ${open})`);
    await app.shots("app-answer-steps");
  });
  await step("a question too long for the model keeps its text, with one error", async () => {
    const [newChat] = await app.findXPath("//button[contains(., 'New chat')]");
    if (!newChat) throw new Error("no New chat button");
    await app.click(newChat);
    const [input] = await app.waitFor("#composer-input", 30, "the question box");
    // Far past the tiny model's context; put in as a paste would.
    const long = "Please add up these figures: " + "12 ".repeat(12000).trim();
    await app.setValue(input, long);
    await app.type(input, "\uE007");
    const [box] = await app.waitFor('.error-box[role="alert"]', 60, "the error box");
    const message = await app.text(box);
    if (!/too long|shorten/i.test(message)) throw new Error(`unexpected error: ${message}`);
    const kept = await app.run("return document.querySelector('#composer-input').value.length");
    if (kept !== long.length) throw new Error(`the question box holds ${kept} characters, not the ${long.length} typed`);
    if ((await app.find(".error-box")).length !== 1) throw new Error("more than one error box");
    await app.shots("app-error-kept");
    // Leave the box empty for what follows.
    await app.setValue((await app.find("#composer-input"))[0], "");
  });
  await step("a chat can be pinned, and the sidebar hidden and shown", async () => {
    const [more] = await app.findXPath("//button[starts-with(@aria-label, 'More actions for Sara buys')]");
    if (!more) throw new Error("no actions menu on the chat");
    await app.click(more);
    const [pin] = await app.waitFor('[role="menuitem"]', 10, "the chat's menu");
    const [pinItem] = await app.findXPath("//button[@role='menuitem' and contains(., 'Pin to the top')]");
    await app.click(pinItem ?? pin);
    for (let tries = 0; !(await app.findXPath("//h2[contains(@class, 'history-heading') and normalize-space(.)='Pinned']")).length; tries++) {
      if (tries > 40) throw new Error("no Pinned group after pinning");
      await new Promise((r) => setTimeout(r, 250));
    }
    await app.click((await app.find('[data-testid="sidebar-hide"]'))[0]);
    await app.waitFor('[data-testid="sidebar-show"]', 10, "the button that shows the sidebar again");
    if ((await app.find("aside.sidebar")).length) throw new Error("the sidebar is still there");
    await app.shots("app-sidebar-hidden");
    await app.click((await app.find('[data-testid="sidebar-show"]'))[0]);
    await app.waitFor("aside.sidebar", 10, "the sidebar");
    await app.shots("app-pinned");
  });
  await step("leaving Settings with unsaved changes asks first", async () => {
    const [nav] = await app.findXPath("//div[@aria-label='Main']//button[contains(., 'Settings')]");
    await app.click(nav);
    // Appearance comes first, for people.
    const order = await app.run("return [...document.querySelectorAll('section.settings fieldset > legend')].map((l) => l.textContent.trim())");
    if (!/Appearance/.test(String(order[0]))) throw new Error(`the first settings section is ${JSON.stringify(order)}`);
    const [dark] = await app.waitFor("input[name=theme][value=dark]", 30, "the Dark choice");
    await app.click(dark);
    // At once, as a quick hand or a shortcut would: the question must come.
    const [chat] = await app.findXPath("//div[@aria-label='Main']//button[contains(., 'Chat')]");
    await app.click(chat);
    await app.waitFor('[data-testid="unsaved-dialog"]', 10, "the unsaved-changes question");
    await app.shots("app-settings-unsaved");
    const [discard] = await app.findXPath("//button[contains(., 'Discard changes')]");
    await app.click(discard);
    await app.waitFor("#composer-input", 30, "the chat after discarding");
    const theme = await app.run("return document.documentElement.dataset.theme");
    if (theme === "dark") throw new Error("the discarded theme was applied");
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
  await step("dates follow this computer's language and region", async () => {
    // tests/app-e2e.sh starts the app in British English (APP_LOCALE): the
    // web view takes the process locale, and the app formats every date
    // with it (day first here; "Dec 2" would be the US order).
    const want = process.env.APP_LOCALE;
    if (!want) throw new Error("APP_LOCALE is not set");
    const [language, locale, day] = await app.run("return [navigator.language, Intl.DateTimeFormat().resolvedOptions().locale, new Date(2026, 11, 2).toLocaleDateString(undefined, { day: 'numeric', month: 'short' })]");
    console.log(`     navigator.language ${language}, dates in ${locale}: ${day}`);
    if (!String(locale).toLowerCase().startsWith(want.toLowerCase())) {
      throw new Error(`the web view formats dates in ${locale}, not ${want}`);
    }
    if (day !== "2 Dec") throw new Error(`2 December reads "${day}"`);
    const fields = await app.find('.date-range input[type="date"]');
    if (fields.length !== 2) throw new Error("no date range fields on the dashboard");
  });
  await step("dark colours, saved in Settings, at 1366×768", async () => {
    const [nav] = await app.findXPath("//div[@aria-label='Main']//button[contains(., 'Settings')]");
    await app.click(nav);
    const [dark] = await app.waitFor("input[name=theme][value=dark]", 30, "the Dark choice");
    await app.click(dark);
    const [save] = await app.findXPath("//button[@type='submit' and contains(., 'Save')]");
    await app.click(save);
    const theme = await app.run("return document.documentElement.dataset.theme || getComputedStyle(document.documentElement).colorScheme");
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
    // The main model's file on this computer is not offered any more.
    await app.waitFor('[data-testid="target-on-server"]', 10, "the note that the main model runs on the server");
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

steps.finish();
