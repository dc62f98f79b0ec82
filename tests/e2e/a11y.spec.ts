import AxeBuilder from "@axe-core/playwright";
import { type Page } from "@playwright/test";
import { expect, openApp, test } from "./fixtures";

/** Accessibility problems (any impact) that axe finds on the current screen. */
async function problems(page: Page) {
  const r = await new AxeBuilder({ page }).analyze();
  return r.violations
    .map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

test.describe("accessibility (axe)", () => {
  for (const scheme of ["light", "dark"] as const) {
    test(`every screen, ${scheme}`, async ({ page }) => {
      await page.emulateMedia({ colorScheme: scheme });
      await openApp(page, { eventDelayMs: 1 });
      await page.getByRole("button", { name: /^Training budget split/ }).click();
      await page.getByTestId("steps-summary").click();
      await expect(page.getByTestId("final-answer")).toBeVisible();
      expect(await problems(page), "chat").toEqual([]);

      await page.getByRole("button", { name: "Dashboard" }).click();
      await expect(page.getByTestId("config-table")).toBeVisible();
      expect(await problems(page), "dashboard").toEqual([]);

      await page.getByRole("button", { name: "Settings" }).click();
      await expect(page.getByRole("heading", { name: "Settings", level: 1 })).toBeVisible();
      expect(await problems(page), "settings").toEqual([]);
    });
  }

  test("first run", async ({ page }) => {
    await openApp(page, { modelsReady: false });
    await expect(page.getByRole("heading", { name: "Welcome! Let’s get Lookahead ready" })).toBeVisible();
    expect(await problems(page)).toEqual([]);
  });
});
