// The app for office staff (issue 15): answers read as formatted text with maths, and the
// everyday actions on an answer — copy it (with or without its steps), ask again, edit the question.
import { calls, expect, openApp, shot, test } from "./fixtures";

const QUESTION = "A team of 6 shares 3 pizzas, each cut into 8 slices. How many slices does each person get?";

test.describe("answers", () => {
  test("Markdown and maths are shown formatted, as text only", async ({ page }) => {
    await openApp(page, { emptyHistory: true, eventDelayMs: 1, answer: "markdown" });
    await page.getByRole("textbox", { name: "Your question" }).fill(QUESTION);
    await page.keyboard.press("Enter");
    const final = page.getByTestId("final-answer");
    await expect(final).toBeVisible();
    // \frac{24}{6} as a fraction, **none** in bold, no LaTeX left to read.
    await expect(final.locator(".md-frac")).toHaveCount(1);
    await expect(final.locator(".md-num")).toHaveText("24");
    await expect(final.locator("strong")).toHaveText("none");
    await expect(final).not.toContainText("\\frac");
    await page.getByTestId("steps-summary").click();
    const steps = page.getByTestId("step");
    await expect(steps.nth(0).locator("li")).toHaveText(["6 people", "3 pizzas of 8 slices"]);
    await expect(steps.nth(1)).toContainText("3 × 8");
    await expect(steps.nth(2).locator("table th")).toHaveText(["Item", "Count"]);
    await expect(steps.nth(2).locator("table td")).toHaveText(["Slices", "24", "People", "6"]);
    // Scores and timings wait behind Details; the strip has its counts in words.
    await expect(steps.nth(1).getByTestId("step-details")).not.toHaveAttribute("open", "");
    await expect(page.getByTestId("verdict-counts")).toHaveText("1 drafted and kept, 2 by the main model");
    await expect(page.getByTestId("steps-explain")).toContainText("The helper is a small, quick model");
    await shot(page, "14-answer-markdown");
  });

  test("copy, copy with steps, ask again and edit the question", async ({ page, context }) => {
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    await openApp(page, { emptyHistory: true, eventDelayMs: 1, answer: "markdown" });
    const box = page.getByRole("textbox", { name: "Your question" });
    await box.fill(QUESTION);
    await page.keyboard.press("Enter");
    await expect(page.getByTestId("answer")).toBeVisible();

    await page.getByTestId("copy-answer").click();
    await expect(page.getByTestId("toast").filter({ hasText: "Answer copied" })).toBeVisible();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(
      "So each person gets \\( \\frac{24}{6} = 4 \\) slices, and **none** are left over.",
    );
    await page.getByTestId("copy-with-steps").click();
    const withSteps = await page.evaluate(() => navigator.clipboard.readText());
    expect(withSteps.startsWith("Step 1: We know:")).toBe(true);
    expect(withSteps).toContain("Step 3: | Item | Count |");
    expect(withSteps.endsWith("Answer: So each person gets \\( \\frac{24}{6} = 4 \\) slices, and **none** are left over.")).toBe(true);

    await page.getByTestId("regenerate").click();
    await expect(page.getByTestId("answer")).toHaveCount(2);
    const asks = await calls(page, "ask");
    expect(asks).toHaveLength(2);
    expect(asks[1].args).toMatchObject({ question: QUESTION, conversation_id: asks[0].args.conversation_id ?? 1 });

    await page.getByTestId("edit-question").first().click();
    await expect(box).toHaveValue(QUESTION);
    await expect(box).toBeFocused();
  });
});
