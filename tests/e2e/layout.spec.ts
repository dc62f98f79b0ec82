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
