import { expect, openApp, shot, test } from "./fixtures";

test.use({ viewport: { width: 800, height: 600 } });

test("fits a small window without sideways scrolling", async ({ page }) => {
  await openApp(page);
  const noOverflow = () =>
    page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth && document.documentElement.scrollHeight <= document.documentElement.clientHeight);

  await page.getByRole("button", { name: /^Training budget split/ }).click();
  await expect(page.getByTestId("final-answer")).toBeVisible();
  expect(await noOverflow()).toBe(true);
  await shot(page, "15-small-window-chat");

  await page.getByRole("button", { name: "Dashboard" }).click();
  await expect(page.getByTestId("config-table")).toBeVisible();
  expect(await noOverflow()).toBe(true);

  await page.getByRole("button", { name: "Settings" }).click();
  await expect(page.getByRole("heading", { name: "Settings", level: 1 })).toBeVisible();
  expect(await noOverflow()).toBe(true);
});

test("the sidebar can be hidden for more room, and stays hidden", async ({ page }) => {
  await openApp(page);
  await page.getByRole("button", { name: /^Training budget split/ }).click();
  const chatWidth = () => page.locator("main").evaluate((m) => m.getBoundingClientRect().width);
  const before = await chatWidth();
  await page.getByTestId("sidebar-hide").click();
  await expect(page.getByRole("complementary", { name: "Conversations and navigation" })).toHaveCount(0);
  expect(await chatWidth()).toBeGreaterThan(before + 150);
  await expect(page.getByTestId("final-answer")).toBeVisible();
  await shot(page, "16-sidebar-hidden");
  await page.reload();
  await expect(page.getByTestId("sidebar-show")).toBeVisible();
  await page.getByTestId("sidebar-show").click();
  await expect(page.getByRole("complementary", { name: "Conversations and navigation" })).toBeVisible();
  // Ctrl+B toggles it too.
  await page.keyboard.press("Control+b");
  await expect(page.getByRole("complementary", { name: "Conversations and navigation" })).toHaveCount(0);
});
