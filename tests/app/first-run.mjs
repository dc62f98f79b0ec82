// The real app's first run on a computer with no main or helper model and no
// network (tests/app-e2e.sh runs it before importing any model): what is
// missing, how big it is and what it is for, in plain names; a download
// that fails says what to do; the way to add files IT copied. Screenshots
// in light and dark colours at 1366×768.
import { Session, Steps } from "./driver.mjs";

let app = await Session.start();
const steps = new Steps(() => app);

/** Light and dark screenshots; returns the page's background in dark. */
async function shots(name) {
  await app.shots(name);
  await app.paint("dark");
  const bg = await app.run("return getComputedStyle(document.querySelector('.firstrun') ?? document.body).backgroundColor");
  await app.paint("light");
  return bg;
}

function expect(ok, what) {
  if (!ok) throw new Error(what);
}

try {
  await steps.step("first run: what is missing, how big, what it is for", async () => {
    await app.waitFor("#firstrun-title", 90, "the first-run screen");
    await app.paint("light");
    const text = String(await app.pageText());
    for (const want of ["Main model", "Helper model", "Meaning checker", "downloaded once"]) {
      expect(text.includes(want), `"${want}" is not on the first-run screen:\n${text}`);
    }
    // The size of each missing model comes from the catalog, beside it.
    for (const role of ["target", "draft"]) {
      const row = await app.textOf(`[data-testid="model-${role}"]`);
      expect(/\d\s?(GB|MB)/.test(row), `no size beside the ${role} model: ${row}`);
      expect(/Not on this computer yet/.test(row), `the ${role} model is not shown as missing: ${row}`);
    }
    // The meaning checker (linked in by the test) is there already.
    expect(/Ready/.test(await app.textOf('[data-testid="model-embedding"]')), "the meaning checker is not ready");
    // File names and quantisation codes only under Details (closed).
    expect(!/q4_k_m|\.gguf|MiniLM|Coder/i.test(text), `a technical name is shown:\n${text}`);
    const dark = await shots("app-first-run");
    // Dark colours apply here too (a dark page behind the card).
    const [r, g, b] = String(dark).match(/\d+/g).map(Number);
    expect(r + g + b < 200, `the first-run page is not dark in dark colours: ${dark}`);
  });

  await steps.step("first run offline: the failed download says what to do, in plain words", async () => {
    const [get] = await app.findXPath("//button[contains(., 'Get the default models')]");
    expect(get, "no 'Get the default models' button");
    await app.click(get);
    await app.waitFor('.error-box[role="alert"]', 120, "the error box");
    // What the box says; the technical reason waits behind its Details.
    const message = await app.textOf('.error-box[role="alert"] .error-message');
    expect(/could not be downloaded/.test(message), `unexpected message: ${message}`);
    expect(/Use a model file I have/.test(message), `the message does not say what else to do: ${message}`);
    expect(!/pip|pandas|wheel|python/i.test(message), `a technical message: ${message}`);
    expect((await app.find(".error-box")).length === 1, "more than one error box");
    const again = await app.findXPath("//button[contains(., 'Try again')]");
    expect(again.length === 1, "no 'Try again' button");
    await app.run("document.querySelector('.firstrun-actions').scrollIntoView({ block: 'end' })");
    await shots("app-first-run-offline");
  });

  await steps.step("first run: model files IT copied can be added from a folder", async () => {
    const [use] = await app.findXPath("//button[contains(., 'Use a model file I have')]");
    await app.click(use);
    await app.waitFor('[data-testid="import-panel"]', 30, "the import panel");
    const panel = await app.textOf('[data-testid="import-panel"]');
    expect(/Choose a folder/.test(panel), `no folder choice: ${panel}`);
    expect(/main model/i.test(panel) && /helper model/i.test(panel), `the missing models are not listed: ${panel}`);
    await shots("app-first-run-import");
  });
} finally {
  await app.end();
}

steps.finish();
