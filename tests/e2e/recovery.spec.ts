// Hardening (issue 14): a damaged history is not a dead end in the app.
import { calls, expect, openApp, test } from "./fixtures";

test.describe("recovery", () => {
  test("a damaged history can be moved aside from the start screen", async ({ page }) => {
    await openApp(page, {
      storeError: {
        code: "store_corrupt",
        message:
          "The history file is damaged. Lookahead can move it aside (it is kept, not deleted, next to /home/alex/.local/share/lookahead/history.sqlite) and start a fresh history.",
      },
    });
    await expect(page.getByText("Lookahead could not start")).toBeVisible();
    await page.getByRole("button", { name: "Move the damaged file aside and start fresh" }).click();
    await expect(page.getByRole("textbox", { name: "Your question" })).toBeVisible();
    await expect(page.getByText(/The old file was kept as .*history\.sqlite\.corrupt-/)).toBeVisible();
    expect((await calls(page, "store_reset")).length).toBe(1);
  });

  test("a history from a newer version is not offered for moving aside", async ({ page }) => {
    await openApp(page, {
      storeError: {
        code: "store_newer_schema",
        message: "This history was saved by a newer version of Lookahead. Update Lookahead to open it; the file has not been changed.",
      },
    });
    await expect(page.getByText("Update Lookahead to open it")).toBeVisible();
    await expect(page.getByRole("button", { name: "Try again" })).toBeVisible();
    await expect(page.getByRole("button", { name: /Move the damaged file aside/ })).toHaveCount(0);
  });
});
