import { calls, expect, openApp, shot, test } from "./fixtures";

const QUESTION =
  "A team of 5 shares a £1,200 training budget. Two of them need twice as much as each of the others. How much does each person get?";

test.describe("chat", () => {
  test("streams reasoning steps and the answer", async ({ page }) => {
    await openApp(page, { emptyHistory: true, eventDelayMs: 45 });
    await expect(page.getByRole("heading", { name: "What would you like to work out?" })).toBeVisible();
    await shot(page, "03-chat-empty");

    const box = page.getByRole("textbox", { name: "Your question" });
    await expect(box).toBeFocused();
    await box.fill(QUESTION);
    await box.press("Enter");

    await expect(page.getByTestId("user-message")).toContainText(QUESTION);
    await expect(box).toHaveValue("");
    const live = page.getByTestId("live-answer");
    await expect(live).toBeVisible();
    // Tokens stream into the step being written; settled steps appear one by one.
    await expect(page.getByTestId("live-tail")).toBeVisible();
    await expect(live.getByTestId("step")).toHaveCount(2, { timeout: 10_000 });
    // The stage in plain words: the helper drafts ahead, the main model checks.
    await expect(live.getByTestId("live-stage")).toHaveText(/^(Drafting steps \d+–\d+ ahead|Checking 4 drafted steps)…$/);
    // Titled from the question's first line, as the shell titles a new conversation.
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("A team of 5 shares a £1,200 training budget. Two of them…");
    await expect(page.getByTestId("stop")).toBeVisible();
    await shot(page, "04-chat-streaming");

    const answer = page.getByTestId("answer");
    await expect(answer).toBeVisible({ timeout: 15_000 });
    await expect(page.getByTestId("final-answer")).toContainText("Three people get £171.43 each");
    await expect(page.getByTestId("speed-line")).toHaveText(
      "1.8× faster than usual · 4 of 5 drafted steps kept · 82% of drafted tokens kept",
    );
    await expect(page.getByTestId("steps-summary")).toContainText("Worked through 6 steps in 12 s");
    await expect(page.getByTestId("send")).toBeVisible();

    // The new conversation appears in the sidebar, selected.
    const current = page.locator(".conv.is-current");
    await expect(current).toContainText("A team of 5 shares a £1,200 training budget. Two of them…");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("A team of 5 shares a £1,200 training budget. Two of them…");

    const [ask] = await calls(page, "ask");
    expect(ask.args).toMatchObject({ conversation_id: null, question: QUESTION, settings: { mode: "auto", gamma: 4 } });
    expect(ask.args.on_event).toMatch(/^__CHANNEL__:\d+$/);

    await shot(page, "05-chat-answer");
    await page.getByTestId("steps-summary").click();
    await expect(page.getByRole("img", { name: "Step 1: drafted ahead and accepted" })).toBeVisible();
    await shot(page, "05b-chat-steps");
  });

  test("labels every step with how it was written", async ({ page }) => {
    await openApp(page, { emptyHistory: true, eventDelayMs: 1 });
    await page.getByRole("textbox", { name: "Your question" }).fill(QUESTION);
    await page.keyboard.press("Enter");
    await page.getByTestId("steps-summary").click();

    const expected: Array<[number, string, string]> = [
      [1, "drafted ahead and accepted", "accepted"],
      [2, "drafted ahead and accepted", "accepted"],
      [3, "drafted ahead but rejected, rewritten by the main model", "rejected"],
      [4, "drafted ahead and accepted", "accepted"],
      [5, "drafted ahead and accepted", "accepted"],
      [6, "written by the main model", "target_only"],
    ];
    const items = page.getByTestId("answer").getByTestId("step");
    await expect(items).toHaveCount(6);
    for (const [i, label, verdict] of expected) {
      const item = items.nth(i - 1);
      await expect(item.getByRole("img", { name: `Step ${i}: ${label}` })).toBeVisible();
      await expect(item).toHaveAttribute("data-verdict", verdict);
    }
    // Colour differs by verdict (not the only cue: icon and label differ too).
    const colour = (n: number) => items.nth(n).locator(".step-marker").evaluate((el) => getComputedStyle(el).borderColor);
    expect(await colour(0)).not.toEqual(await colour(2));
    expect(await colour(2)).not.toEqual(await colour(5));
    // The replaced draft can be read.
    await items.nth(2).getByText("See the draft that was replaced").click();
    await expect(items.nth(2)).toContainText("One share is £1,200 ÷ 5 = £240.");
  });

  test("Shift+Enter makes a new line and Enter sends", async ({ page }) => {
    await openApp(page, { emptyHistory: true, eventDelayMs: 1 });
    const box = page.getByRole("textbox", { name: "Your question" });
    await box.click();
    await page.keyboard.type("First line");
    await page.keyboard.press("Shift+Enter");
    await page.keyboard.type("Second line");
    await expect(box).toHaveValue("First line\nSecond line");
    expect(await calls(page, "ask")).toHaveLength(0);
    await page.keyboard.press("Enter");
    await expect(page.getByTestId("user-message")).toContainText("First line\nSecond line");
    await expect.poll(async () => (await calls(page, "ask")).length).toBe(1);
  });

  test("Stop cancels the answer that is streaming", async ({ page }) => {
    await openApp(page, { emptyHistory: true, eventDelayMs: 80 });
    await page.getByRole("textbox", { name: "Your question" }).fill(QUESTION);
    await page.getByRole("button", { name: "Send" }).click();
    await expect(page.getByTestId("live-answer").getByTestId("step")).toHaveCount(1, { timeout: 10_000 });
    await page.getByRole("button", { name: "Stop" }).click();

    await expect(page.getByTestId("cancelled-note")).toHaveText(/You stopped this answer/);
    await expect(page.getByTestId("steps-summary")).toContainText(/Stopped after \d steps?/);
    await expect(page.getByTestId("send")).toBeVisible();
    const [cancel] = await calls(page, "cancel");
    expect(cancel.args).toEqual({ request_id: "req-1" });
    await shot(page, "06-chat-stopped");
  });

  test("plain mode gets a plain speed line", async ({ page }) => {
    await openApp(page, { emptyHistory: true, eventDelayMs: 1, settings: { mode: "plain" } });
    await expect(page.getByRole("button", { name: /Speed-up: Plain/ })).toBeVisible();
    await page.getByRole("textbox", { name: "Your question" }).fill("How many weeks are in 91 days?");
    await page.keyboard.press("Enter");
    await expect(page.getByTestId("speed-line")).toHaveText("Plain decoding (no speed-up) · About as fast as usual · 12.3 tokens a second");
    await page.getByTestId("steps-summary").click();
    await expect(page.getByRole("img", { name: "Step 1: written by the main model" })).toBeVisible();
  });

  test("says when step drafting was switched off for being slower than plain", async ({ page }) => {
    await openApp(page, {
      emptyHistory: true,
      eventDelayMs: 5,
      speculationStopped: "slowdown guard: step speculation ran at 4.1 tokens/s, below plain decoding's 9.8 tokens/s",
    });
    const box = page.getByRole("textbox", { name: "Your question" });
    await box.fill(QUESTION);
    await box.press("Enter");
    await expect(page.getByTestId("answer")).toBeVisible({ timeout: 15_000 });
    await expect(page.getByTestId("speed-line")).toHaveText(
      "A little slower than usual · 4 of 5 drafted steps kept · 82% of drafted tokens kept · Step drafting switched off partway: it was slower than plain",
    );
  });

  test("says when step drafting was paused because it lost time in recent answers", async ({ page }) => {
    await openApp(page, { emptyHistory: true, eventDelayMs: 5, stepDraftingPaused: true });
    const box = page.getByRole("textbox", { name: "Your question" });
    await box.fill(QUESTION);
    await box.press("Enter");
    await expect(page.getByTestId("answer")).toBeVisible({ timeout: 15_000 });
    await expect(page.getByTestId("speed-line")).toHaveText(
      "1.3× faster than usual · 82% of drafted tokens kept · Step drafting paused: it was slower than plain in recent answers",
    );
    await page.getByTestId("steps-summary").click();
    await expect(page.getByRole("img", { name: "Step 1: written by the main model" })).toBeVisible();
  });

  test("says when step drafting was switched off after a problem", async ({ page }) => {
    await openApp(page, { emptyHistory: true, eventDelayMs: 5, speculationStopped: "the draft model failed: out of memory" });
    const box = page.getByRole("textbox", { name: "Your question" });
    await box.fill(QUESTION);
    await box.press("Enter");
    await expect(page.getByTestId("answer")).toBeVisible({ timeout: 15_000 });
    await expect(page.getByTestId("speed-line")).toContainText("Step drafting switched off partway after a problem");
  });

  test("shows errors in plain words and can try again", async ({ page }) => {
    await openApp(page, { emptyHistory: true, eventDelayMs: 1, answer: "error" });
    await page.getByRole("textbox", { name: "Your question" }).fill(QUESTION);
    await page.keyboard.press("Enter");
    const alert = page.getByRole("alert");
    await expect(alert).toContainText("The answer could not be finished");
    await expect(alert).toContainText("Something went wrong while writing the answer. Please try again.");
    await shot(page, "07-chat-error");
    // One error box; the question is back in the box; the steps written before the failure stay.
    await expect(alert).toHaveCount(1);
    await expect(page.getByRole("textbox", { name: "Your question" })).toHaveValue(QUESTION);
    await expect(page.getByTestId("failed-kept-note")).toBeVisible();
    await page.getByTestId("answer").getByTestId("steps-summary").click();
    await expect(page.getByTestId("answer").getByTestId("step")).toHaveCount(2);
    await alert.getByRole("button", { name: "Try again" }).click();
    await expect.poll(async () => (await calls(page, "ask")).length).toBe(2);
    // The same question was sent again; it fails again here, so it is back
    // in the box once more, under one error box.
    expect((await calls(page, "ask"))[1].args.question).toBe(QUESTION);
    await expect(page.getByRole("textbox", { name: "Your question" })).toHaveValue(QUESTION);
    await expect(page.getByRole("alert")).toHaveCount(1);
  });

  test("after a restart an interrupted answer says so, and a failed one says why", async ({ page }) => {
    await openApp(page, { brokenAnswers: true });
    await page.getByRole("button", { name: /Desks in the small office/ }).first().click();
    await expect(page.getByTestId("interrupted-note")).toContainText("Lookahead was closed while it wrote this answer.");
    await expect(page.getByRole("alert")).toHaveCount(0);
    await page.getByRole("button", { name: /Team budget by headcount/ }).first().click();
    await expect(page.getByTestId("past-error")).toContainText(
      "This answer could not be finished. The model could not be loaded. It may be damaged, or the computer may not have enough free memory.",
    );
    // Something that went wrong days ago is not announced as happening now.
    await expect(page.getByRole("alert")).toHaveCount(0);
    await expect(page.getByTestId("interrupted-note")).toHaveCount(0);
  });

  test("a question too long to answer comes back to the box to shorten, not to resend", async ({ page }) => {
    await openApp(page, { emptyHistory: true, eventDelayMs: 1, answer: "too_long" });
    await page.getByRole("textbox", { name: "Your question" }).fill(QUESTION);
    await page.keyboard.press("Enter");
    const alert = page.getByRole("alert");
    await expect(alert).toContainText("Please shorten it.");
    await expect(alert).toHaveCount(1);
    await expect(alert.getByRole("button", { name: "Try again" })).toHaveCount(0);
    await expect(page.getByTestId("shorten-hint")).toBeVisible();
    await expect(page.getByRole("textbox", { name: "Your question" })).toHaveValue(QUESTION);
  });

  test("opens an earlier conversation from the sidebar", async ({ page }) => {
    await openApp(page);
    await page.getByRole("button", { name: /^Printer cartridge costs/ }).click();
    await expect(page.getByRole("heading", { name: "Printer cartridge costs" })).toBeVisible();
    await expect(page.getByTestId("user-message")).toContainText("Which printer cartridge is cheaper over a year?");
    await expect(page.getByTestId("final-answer")).toBeVisible();
    const [get] = await calls(page, "conversation_get");
    expect(get.args).toEqual({ id: 3 });
  });

  test("says when sums were wrong or corrected, older turns left out, and an answer cut off", async ({ page }) => {
    await openApp(page, { emptyHistory: true, eventDelayMs: 1, answer: "sums" });
    await page.getByRole("textbox", { name: "Your question" }).fill("How many pens are in two boxes of 13 × 4?");
    await page.keyboard.press("Enter");
    const answer = page.getByTestId("answer");
    await expect(answer).toBeVisible();
    await expect(page.getByTestId("cut-off-note")).toContainText("reached the length limit before the model finished, so it has no final answer");
    await expect(page.getByTestId("turns-left-out-note")).toContainText("the 2 oldest messages did not fit");
    // No stray number or last paragraph posing as the answer.
    await expect(page.getByTestId("final-answer")).toHaveCount(0);
    await page.getByTestId("steps-summary").click();
    const checks = page.getByTestId("arith-check");
    await expect(checks).toHaveCount(2);
    await expect(checks.nth(0)).toHaveText("Check the sum: 13 × 4 = 54 — it is 52");
    await expect(checks.nth(1)).toContainText("corrected 106 → 104");
    // People count steps from 1 (the engine and the shell from 0).
    await expect(page.getByRole("img", { name: "Step 1: written by the main model" })).toBeVisible();
    await expect(page.getByRole("img", { name: "Step 0: written by the main model" })).toHaveCount(0);
    await shot(page, "05c-chat-sums-cut-off");
  });
});
