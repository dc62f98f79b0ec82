import { expect, openApp, shot, test } from "./fixtures";

// Without the CSP that `vite preview` sends, so that only the rendering keeps the payload inert.
test.use({ bypassCSP: true });

const PAYLOAD = `<img src=x onerror="window.__xss = 'img'"><script>window.__xss = 'script'</script>`;

test("model text with HTML is shown as text and never runs", async ({ page }) => {
  await openApp(page, { emptyHistory: true, eventDelayMs: 1, answer: "xss" });
  await page.getByRole("textbox", { name: "Your question" }).fill(`Please repeat ${PAYLOAD}`);
  await page.keyboard.press("Enter");

  const answer = page.getByTestId("answer");
  await expect(page.getByTestId("final-answer")).toHaveText(`Answer: ${PAYLOAD}`);
  await answer.getByTestId("steps-summary").click();
  await expect(answer.getByTestId("step").first()).toContainText(`The user wrote ${PAYLOAD} which is just text.`);
  await expect(answer.getByTestId("step").nth(1)).toContainText(`<a href="javascript:window.__xss='link'">click me</a>`);
  await expect(page.getByTestId("user-message")).toContainText(PAYLOAD);
  // The conversation title (the question's first line, as the shell titles it) is literal too.
  const title = /^Please repeat <img src=x onerror="window.__xss =…$/;
  await expect(page.locator(".conv.is-current .conv-title")).toHaveText(title);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(title);

  // No element was created from the text, and nothing ran.
  const main = page.locator("main");
  await expect(main.locator("img")).toHaveCount(0);
  await expect(main.locator("script")).toHaveCount(0);
  await expect(main.locator("a")).toHaveCount(0);
  await expect(page.locator("aside b")).toHaveCount(0);
  await page.waitForTimeout(300); // give a broken image's onerror time to fire
  expect(await page.evaluate(() => (window as unknown as { __xss?: string }).__xss)).toBeUndefined();
  await shot(page, "14-xss-as-text");
});
