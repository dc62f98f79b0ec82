import { expect, MOD, openApp, shot, test } from "./fixtures";

test.describe("keyboard shortcuts", () => {
  test("Ctrl+K searches, Ctrl+, opens settings, Ctrl+N starts a new chat", async ({ page }) => {
    await openApp(page);
    await expect(page.getByRole("heading", { name: "New chat" })).toBeVisible();

    await page.keyboard.press(`${MOD}+k`);
    await expect(page.getByRole("searchbox", { name: "Search conversations" })).toBeFocused();

    await page.keyboard.press(`${MOD}+Comma`);
    await expect(page.getByRole("heading", { name: "Settings", level: 1 })).toBeVisible();

    await page.getByRole("button", { name: /^Printer cartridge costs/ }).click();
    await expect(page.getByRole("heading", { name: "Printer cartridge costs" })).toBeVisible();
    await page.keyboard.press(`${MOD}+n`);
    await expect(page.getByRole("heading", { name: "New chat" })).toBeVisible();
    await expect(page.getByRole("textbox", { name: "Your question" })).toBeFocused();
  });

  test("menus close with Escape and are reachable by keyboard", async ({ page }) => {
    await openApp(page);
    const more = page.getByRole("button", { name: "More actions for Printer cartridge costs" });
    await more.focus();
    await page.keyboard.press("Enter");
    await expect(page.getByRole("menuitem", { name: "Rename" })).toBeFocused();
    await page.keyboard.press("ArrowDown");
    await expect(page.getByRole("menuitem", { name: "Pin to the top" })).toBeFocused();
    await page.keyboard.press("ArrowDown");
    await expect(page.getByRole("menuitem", { name: "Export as Markdown (.md)" })).toBeFocused();
    await page.keyboard.press("Escape");
    await expect(page.getByRole("menu")).toHaveCount(0);
  });
});

test.describe("light and dark", () => {
  test("follows the system by default", async ({ page }) => {
    await page.emulateMedia({ colorScheme: "dark" });
    await openApp(page);
    await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
    await page.getByRole("button", { name: /^Training budget split/ }).click();
    await page.getByTestId("steps-summary").click();
    await expect(page.getByTestId("final-answer")).toBeVisible();
    await shot(page, "12-chat-dark");

    await page.emulateMedia({ colorScheme: "light" });
    await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
  });

  test("can be overridden in settings", async ({ page }) => {
    await page.emulateMedia({ colorScheme: "dark" });
    await openApp(page, { settings: { theme: "light" } });
    await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
    const bg = await page.locator("html").evaluate((b) => getComputedStyle(b).backgroundColor);

    await page.getByRole("button", { name: "Settings" }).click();
    await page.getByText("Dark", { exact: true }).click();
    await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
    expect(await page.locator("html").evaluate((b) => getComputedStyle(b).backgroundColor)).not.toBe(bg);
    await page.getByRole("button", { name: "Save changes" }).click();
    await expect(page.getByText("All changes saved.")).toBeVisible();

    await page.getByRole("button", { name: "Dashboard" }).click();
    await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
    await expect(page.getByTestId("chart-speedup")).toBeVisible();
    await shot(page, "13-dashboard-dark");
  });

  test("an unsaved theme is undone when leaving settings", async ({ page }) => {
    await openApp(page);
    await page.getByRole("button", { name: "Settings" }).click();
    await page.getByText("Dark", { exact: true }).click();
    await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
    await page.getByRole("button", { name: "Chat", exact: true }).click();
    // Leaving asks first; discarding puts the saved theme back.
    await page.getByTestId("unsaved-dialog").getByRole("button", { name: "Discard changes" }).click();
    await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
  });
});
