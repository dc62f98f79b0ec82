import { calls, expect, openApp, shot, test } from "./fixtures";

test.describe("first run", () => {
  test("gets the default models with a real progress bar", async ({ page }) => {
    await openApp(page, { modelsReady: false, fetchStepMs: 120 });
    await expect(page.getByRole("heading", { name: "Welcome! Let’s get Lookahead ready" })).toBeVisible();
    await expect(page.getByTestId("model-target")).toContainText("Not on this computer yet");
    // Friendly names first; the file's name behind Details; sizes before anything is downloaded.
    await expect(page.getByTestId("model-target")).toContainText("Main model");
    await expect(page.getByTestId("model-target").locator("details")).not.toHaveAttribute("open", "");
    await expect(page.getByTestId("model-target")).toContainText("1.1 GB");
    await expect(page.getByText("about 1.7 GB, downloaded once")).toBeVisible();
    await shot(page, "01-first-run");

    await page.getByRole("button", { name: "Get the default models" }).click();
    const bar = page.getByRole("progressbar", { name: "Helper model download" });
    // The bar moves with the on_progress channel messages.
    await expect
      .poll(async () => Number(await bar.getAttribute("aria-valuenow")), { timeout: 10_000 })
      .toBeGreaterThanOrEqual(30);
    await expect(page.getByTestId("fetch-status")).toContainText("Downloading Qwen2.5-Coder 0.5B");
    await expect(page.getByTestId("model-draft")).toContainText(/Downloading · [\d.]+ MB of 491 MB/);
    // The total over all models, and (once there is a rate) the time left.
    await expect(page.getByTestId("fetch-total")).toContainText(/ of 1\.7 GB/);
    await expect(page.getByTestId("fetch-total")).toContainText(/left$/, { timeout: 10_000 });
    await shot(page, "02-first-run-progress");

    // When every model is in place the app opens on an empty chat.
    await expect(page.getByRole("heading", { name: "New chat" })).toBeVisible({ timeout: 15_000 });
    expect((await calls(page, "models_fetch_default"))[0].args.on_progress).toMatch(/^__CHANNEL__:\d+$/);
  });

  test("uses a GGUF file the user already has", async ({ page }) => {
    await openApp(page, { modelsReady: false });
    await page.getByRole("button", { name: "Use a model file I have" }).click();
    await page.getByRole("button", { name: "Choose a file for the main model" }).click();
    await expect(page.getByRole("heading", { name: "New chat" })).toBeVisible();

    // The shell opens the file dialog itself: the page names the role, never a path.
    const [imp] = await calls(page, "models_import");
    expect(imp.args).toEqual({ role: "target" });
    expect(await calls(page, "plugin:dialog|open")).toHaveLength(0);
  });

  test("installs the models from a folder IT copied", async ({ page }) => {
    await openApp(page, { modelsReady: false, folderHolds: ["draft", "target", "embedding"] });
    await page.getByRole("button", { name: "Use a model file I have" }).click();
    await page.getByRole("button", { name: "Choose a folder…" }).click();
    await expect(page.getByRole("heading", { name: "New chat" })).toBeVisible();
    const [imp] = await calls(page, "models_import_folder");
    expect(imp.args).toEqual({});
  });

  test("a folder without the models says what it should hold", async ({ page }) => {
    await openApp(page, { modelsReady: false, folderHolds: [] });
    await page.getByRole("button", { name: "Use a model file I have" }).click();
    await page.getByRole("button", { name: "Choose a folder…" }).click();
    await expect(page.getByRole("alert")).toContainText("No Lookahead model files were found in /media/alex/USB/lookahead-models.");
    await expect(page.getByRole("alert")).toContainText("recognised by their contents");
    await expect(page.getByRole("heading", { name: "Welcome! Let’s get Lookahead ready" })).toBeVisible();
  });

  test("a folder with only the helper model adds it and says so", async ({ page }) => {
    await openApp(page, { modelsReady: false, folderHolds: ["draft"] });
    await page.getByRole("button", { name: "Use a model file I have" }).click();
    await page.getByRole("button", { name: "Choose a folder…" }).click();
    await expect(page.getByTestId("import-added")).toHaveText("Added from the folder: Helper model.");
    await expect(page.getByTestId("model-draft")).toContainText("Ready");
    await expect(page.getByRole("heading", { name: "Welcome! Let’s get Lookahead ready" })).toBeVisible();
  });

  test("says in plain words when a file is not a model", async ({ page }) => {
    await openApp(page, { modelsReady: false, openPath: "/home/alex/notes.txt" });
    await page.getByRole("button", { name: "Use a model file I have" }).click();
    await page.getByRole("button", { name: "Choose a file for the helper model" }).click();
    await expect(page.getByRole("alert")).toContainText("The model file /home/alex/notes.txt is damaged or incomplete.");
    await expect(page.getByRole("heading", { name: "Welcome! Let’s get Lookahead ready" })).toBeVisible();
  });

  test("a download can be cancelled, and started again", async ({ page }) => {
    await openApp(page, { modelsReady: false, fetchStepMs: 150 });
    await page.getByRole("button", { name: "Get the default models" }).click();
    await expect(page.getByTestId("fetch-status")).toBeVisible();
    await page.getByTestId("fetch-cancel").click();
    await expect(page.getByTestId("fetch-stopped")).toContainText("Download stopped.");
    await expect(page.getByRole("alert")).toHaveCount(0);
    expect((await calls(page, "models_fetch_cancel")).length).toBe(1);
    await page.getByRole("button", { name: "Get the default models" }).click();
    await expect(page.getByTestId("fetch-cancel")).toBeVisible();
  });
});
