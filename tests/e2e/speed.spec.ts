// Speed people feel (issue 12): the models load before the first question with visible progress,
// the live answer says what the engine is doing and for how long, and every answer says how its
// speed compares with this computer's usual speed.
import { calls, expect, openApp, shot, test } from "./fixtures";

const QUESTION = "How many sandwich platters for 40 guests if each serves 6?";

test.describe("speed", () => {
  test("the models get ready before the first question, with progress", async ({ page }) => {
    await openApp(page, { emptyHistory: true, holdPrepare: true, prepareStepMs: 20 });
    const status = page.getByTestId("engine-status");
    await expect(status).toContainText("Getting the models ready… timing this computer once");
    await shot(page, "12-engine-preparing");
    const [prepare] = await calls(page, "engine_prepare");
    expect(prepare.args).toMatchObject({ settings: { mode: "auto" } });
    expect(prepare.args.on_event).toMatch(/^__CHANNEL__:\d+$/);
    // Typing is not blocked meanwhile.
    await page.getByRole("textbox", { name: "Your question" }).fill(QUESTION);
    await page.evaluate(() => window.__LOOKAHEAD_MOCK__!.releasePrepare!());
    await expect(status).toHaveCount(0);

    // Saved settings may need other models: they are prepared again.
    await page.getByRole("button", { name: "Settings" }).click();
    await page.getByRole("radio", { name: /Step drafting/ }).check();
    await page.getByRole("button", { name: "Save changes" }).click();
    await expect.poll(async () => (await calls(page, "engine_prepare")).length).toBe(2);
    const again = (await calls(page, "engine_prepare"))[1];
    expect(again.args).toMatchObject({ settings: { mode: "lr" } });
  });

  test("a failed load says so in plain words and asking still works", async ({ page }) => {
    await openApp(page, { emptyHistory: true, prepareFails: "The main model file is damaged." });
    await expect(page.getByTestId("engine-status")).toContainText(
      "The models could not be loaded in advance: The main model file is damaged. Asking a question tries again.",
    );
    await page.getByRole("textbox", { name: "Your question" }).fill(QUESTION);
    await page.keyboard.press("Enter");
    await expect(page.getByTestId("answer")).toBeVisible({ timeout: 15_000 });
  });

  test("the live answer shows its stage and the time so far; every answer gets a verdict", async ({ page }) => {
    await openApp(page, { emptyHistory: true, eventDelayMs: 120, settings: { mode: "plain" } });
    await page.getByRole("textbox", { name: "Your question" }).fill(QUESTION);
    await page.keyboard.press("Enter");
    const stage = page.getByTestId("live-stage");
    await expect(stage).toHaveText("Writing step 1…");
    await expect(stage).toHaveText("Writing step 2…", { timeout: 10_000 });
    await expect(page.getByTestId("live-elapsed")).toHaveText(/^\d+ s$/, { timeout: 5_000 });
    await shot(page, "13-live-stage");
    await expect(page.getByTestId("speed-line")).toHaveText(
      "Plain decoding (no speed-up) · About as fast as usual · 12.3 tokens a second",
      { timeout: 20_000 },
    );
  });

  test("without a known usual speed the line says only what it knows", async ({ page }) => {
    await openApp(page, { emptyHistory: true, eventDelayMs: 1, noUsualSpeed: true });
    await page.getByRole("textbox", { name: "Your question" }).fill(QUESTION);
    await page.keyboard.press("Enter");
    await expect(page.getByTestId("speed-line")).toHaveText("4 of 5 drafted steps kept · 82% of drafted tokens kept");
  });
});
