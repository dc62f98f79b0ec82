import { calls, expect, openApp, savedFiles, shot, test } from "./fixtures";

test.describe("history sidebar", () => {
  test("lists conversations grouped by date", async ({ page }) => {
    await openApp(page);
    const list = page.getByRole("navigation", { name: "Conversations" });
    await expect(list.getByTestId("conversation")).toHaveCount(5);
    await expect(list.getByRole("heading", { name: "Pinned" })).toBeVisible();
    await expect(list.getByRole("heading", { name: "Today" })).toBeVisible();
  });

  test("search filters the list", async ({ page }) => {
    await openApp(page);
    const search = page.getByRole("searchbox", { name: "Search conversations" });
    await search.fill("printer");
    const list = page.getByRole("navigation", { name: "Conversations" });
    await expect(list.getByTestId("conversation")).toHaveCount(1);
    await expect(list).toContainText("Printer cartridge costs");
    expect((await calls(page, "conversations_list")).at(-1)!.args).toEqual({ query: "printer" });

    await search.fill("zebra crossing");
    await expect(list).toContainText("No chats match “zebra crossing”.");
    await search.press("Escape");
    await expect(list.getByTestId("conversation")).toHaveCount(5);
  });

  test("renames a conversation", async ({ page }) => {
    await openApp(page);
    await page.getByRole("button", { name: "More actions for Meeting room schedule for Thursday" }).click();
    await expect(page.getByRole("menu")).toBeVisible();
    await shot(page, "08-history-menu");
    await page.getByRole("menuitem", { name: "Rename" }).click();
    const input = page.getByRole("textbox", { name: "New name for this chat" });
    await expect(input).toBeFocused();
    await input.fill("Thursday room plan");
    await input.press("Enter");
    await expect(page.getByRole("button", { name: /^Thursday room plan/ })).toBeVisible();
    const [rename] = await calls(page, "conversation_rename");
    expect(rename.args).toEqual({ id: 2, title: "Thursday room plan" });
  });

  test("Escape cancels a rename", async ({ page }) => {
    await openApp(page);
    await page.getByRole("button", { name: "More actions for Meeting room schedule for Thursday" }).click();
    await page.getByRole("menuitem", { name: "Rename" }).click();
    await page.getByRole("textbox", { name: "New name for this chat" }).fill("Oops");
    await page.keyboard.press("Escape");
    await expect(page.getByRole("button", { name: /^Meeting room schedule for Thursday/ })).toBeVisible();
    expect(await calls(page, "conversation_rename")).toHaveLength(0);
  });

  test("deletes with Undo", async ({ page }) => {
    await openApp(page);
    const item = page.getByRole("button", { name: /^Printer cartridge costs/ });
    await page.getByRole("button", { name: "More actions for Printer cartridge costs" }).click();
    await page.getByRole("menuitem", { name: "Delete" }).click();
    await expect(item).toHaveCount(0);
    const toast = page.getByTestId("toast").filter({ hasText: "Deleted “Printer cartridge costs”" });
    await expect(toast).toBeVisible();
    await shot(page, "09-history-undo");
    expect((await calls(page, "conversation_delete"))[0].args).toEqual({ id: 3 });

    await toast.getByRole("button", { name: "Undo" }).click();
    await expect(item).toBeVisible();
    expect((await calls(page, "conversation_restore"))[0].args).toEqual({ id: 3 });
    await expect(page.getByTestId("toast").filter({ hasText: "Conversation restored" })).toBeVisible();
  });

  test("deleting the open conversation goes back to a new chat", async ({ page }) => {
    await openApp(page);
    await page.getByRole("button", { name: /^Printer cartridge costs/ }).click();
    await expect(page.getByRole("heading", { name: "Printer cartridge costs" })).toBeVisible();
    await page.getByRole("button", { name: "More actions for Printer cartridge costs" }).click();
    await page.getByRole("menuitem", { name: "Delete" }).click();
    await expect(page.getByRole("heading", { name: "New chat" })).toBeVisible();
  });

  for (const [format, label, ext, start] of [
    ["md", "Export as Markdown (.md)", "md", "# Printer cartridge costs"],
    ["json", "Export as data (.json)", "json", "{"],
  ] as const) {
    test(`exports as ${format}`, async ({ page }) => {
      await openApp(page);
      await page.getByRole("button", { name: "More actions for Printer cartridge costs" }).click();
      await page.getByRole("menuitem", { name: label }).click();
      const path = `/home/alex/Documents/Printer cartridge costs.${ext}`;
      await expect(page.getByTestId("toast").filter({ hasText: `Saved to ${path}` })).toBeVisible();
      // The shell opens the save dialog and writes the file: the page never names a path.
      expect((await calls(page, "conversation_export_to_file"))[0].args).toEqual({ id: 3, format });
      expect(await calls(page, "save_text_file")).toEqual([]);
      const files = await savedFiles(page);
      expect(files[path].startsWith(start)).toBe(true);
      if (format === "json") expect(JSON.parse(files[path]).title).toBe("Printer cartridge costs");
    });
  }

  test("a conversation can be pinned to the top and unpinned", async ({ page }) => {
    await openApp(page);
    await page.getByRole("button", { name: "More actions for Catering order for 40 guests" }).click();
    await page.getByRole("menuitem", { name: "Pin to the top" }).click();
    const pinned = page.locator("nav[aria-label='Conversations'] h2", { hasText: "Pinned" }).locator("xpath=following-sibling::ul[1]");
    await expect(pinned).toContainText("Catering order for 40 guests");
    expect((await calls(page, "conversation_pin"))[0].args).toEqual({ id: 5, pinned: true });
    await page.getByRole("button", { name: "More actions for Catering order for 40 guests" }).click();
    await page.getByRole("menuitem", { name: "Unpin" }).click();
    await expect(pinned).not.toContainText("Catering order for 40 guests");
  });
});
