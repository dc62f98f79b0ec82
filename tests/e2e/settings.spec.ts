import { calls, expect, openApp, shot, test } from "./fixtures";

test.describe("settings", () => {
  test("every setting has one line of plain help, and saving sends them all", async ({ page }) => {
    await openApp(page);
    await page.getByRole("button", { name: "Settings" }).click();
    await expect(page.getByRole("heading", { name: "Settings", level: 1 })).toBeVisible();
    await expect(page.getByText("All changes saved.")).toBeVisible();

    // Models
    await expect(page.getByTestId("draft_model_path-value")).toHaveText("Qwen2.5-Coder 0.5B Instruct (Q4_K_M) (default)");
    await expect(page.getByText("The small, quick model that writes reasoning steps ahead.")).toBeVisible();
    await page.getByRole("button", { name: "Choose a file for the helper model" }).click();
    await expect(page.getByTestId("draft_model_path-value")).toHaveText("my-helper-model.gguf");
    // The shell opened the dialog; the page asked for no dialog itself.
    expect(await calls(page, "model_file_pick")).toHaveLength(1);
    expect(await calls(page, "plugin:dialog|open")).toHaveLength(0);

    // Mode
    await page.getByRole("radio", { name: /Step drafting/ }).check();
    await expect(page.getByText("The helper writes whole steps ahead; a checker keeps those that agree.")).toBeVisible();

    // γ with the keyboard (4 → 6)
    const gamma = page.getByRole("slider", { name: "Steps drafted ahead (γ)" });
    await gamma.focus();
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    await expect(gamma).toHaveValue("6");
    await expect(gamma).toHaveAccessibleDescription(/How far the helper runs ahead/);
    const proposer = page.getByRole("combobox", { name: "How word drafting guesses" });
    await expect(proposer).toHaveValue("ngram");
    await expect(proposer).toHaveAccessibleDescription(/costs almost nothing/);
    await proposer.selectOption("draft");

    // Judge and budgets live under Advanced, closed at first.
    await expect(page.getByRole("slider", { name: "How close in meaning a draft must be" })).toBeHidden();
    await page.getByTestId("settings-advanced").locator("summary").click();

    // Judge: embed threshold, then switch to a model judge
    const threshold = page.getByRole("slider", { name: "How close in meaning a draft must be" });
    await expect(threshold).toHaveValue("0.95");
    await expect(threshold).toHaveAccessibleDescription(/Higher is stricter/);
    await page.getByText("A model reads it").click();
    await expect(threshold).toHaveCount(0);
    await page.getByRole("combobox", { name: "Checking model" }).selectOption("draft");

    // Budgets
    await page.getByRole("spinbutton", { name: "Longest step (tokens)" }).fill("300");
    await page.getByRole("spinbutton", { name: "Longest answer (tokens)" }).fill("4096");
    await page.getByRole("spinbutton", { name: "Longest answer (tokens)" }).blur();
    const calculator = page.getByRole("checkbox", { name: "Fix wrong sums as they are written" });
    // On by default (it measured better on the GSM8K bench); this user turns it off.
    await expect(calculator).toBeChecked();
    await expect(calculator).toHaveAccessibleDescription(/puts the right result in before the model goes on/);
    await calculator.uncheck();
    await expect(page.getByRole("spinbutton", { name: "Longest step (tokens)" })).toHaveAccessibleDescription(/A token is about ¾ of a word/);

    await expect(page.getByText("You have unsaved changes.")).toBeVisible();
    // The window itself never scrolls away: only the settings pane does.
    expect(await page.evaluate(() => document.documentElement.scrollTop + document.body.scrollTop)).toBe(0);
    await page.getByTestId("settings-form").evaluate((f) => (f.scrollTop = 0));
    await shot(page, "11-settings");
    await page.getByRole("button", { name: "Save changes" }).click();
    await expect(page.getByTestId("toast").filter({ hasText: "Settings saved" })).toBeVisible();
    await expect(page.getByText("All changes saved.")).toBeVisible();

    const [set] = await calls(page, "settings_set");
    expect(set.args).toEqual({
      settings: {
        draft_model_path: "/home/alex/Models/my-helper-model.gguf",
        target_model_path: null,
        judge_model: "draft",
        mode: "lr",
        gamma: 6,
        sd_proposer: "draft",
        judge_kind: "llm",
        embed_threshold: 0.95,
        step_token_budget: 300,
        max_answer_tokens: 4096,
        calculator: false,
        theme: "system",
        font_scale: 1,
        models_location: "this_computer",
        server_url: "",
        server_model: "",
        server_draft_model: "",
        server_key: "",
        server_key_saved: false,
      },
    });

    // The next question uses the saved settings.
    await page.getByRole("button", { name: "Chat", exact: true }).click();
    await expect(page.getByRole("button", { name: /Speed-up: Step drafting/ })).toBeVisible();
  });

  test("a cleared number field takes the value typed next", async ({ page }) => {
    await openApp(page);
    await page.getByRole("button", { name: "Settings" }).click();
    await page.getByTestId("settings-advanced").locator("summary").click();
    const longest = page.getByRole("spinbutton", { name: "Longest answer (tokens)" });
    // Emptying the field must not snap it to the minimum (typing after
    // that would append to "16").
    await longest.fill("");
    await longest.blur();
    await longest.pressSequentially("160");
    await longest.blur();
    await expect(longest).toHaveValue("160");
    await page.getByRole("button", { name: "Save changes" }).click();
    await expect(page.getByText("All changes saved.")).toBeVisible();
    const [set] = await calls(page, "settings_set");
    expect((set.args as { settings: { max_answer_tokens: number } }).settings.max_answer_tokens).toBe(160);
  });

  test("Discard puts the saved values back", async ({ page }) => {
    await openApp(page);
    await page.getByRole("button", { name: "Settings" }).click();
    await page.getByRole("radio", { name: /^Plain/ }).check();
    await page.getByRole("button", { name: "Discard" }).click();
    await expect(page.getByRole("radio", { name: /Automatic/ })).toBeChecked();
    await expect(page.getByRole("button", { name: "Save changes" })).toBeDisabled();
  });

  test("text size changes the whole window", async ({ page }) => {
    await openApp(page, { settings: { font_scale: 1.25 } });
    await expect(page.locator("html")).toHaveCSS("font-size", "20px");
    await page.getByRole("button", { name: "Settings" }).click();
    const size = page.getByRole("slider", { name: "Text size" });
    await expect(size).toHaveValue("1.25");
    await size.focus();
    await page.keyboard.press("ArrowLeft");
    await expect(page.locator("html")).toHaveCSS("font-size", "19.2px");
  });

  test("appearance comes first, and leaving with unsaved changes asks first", async ({ page }) => {
    await openApp(page);
    await page.getByRole("button", { name: "Settings" }).click();
    const legends = await page.locator(".settings-card > legend").allTextContents();
    expect(legends[0]).toBe("Appearance");
    await page.getByRole("radio", { name: /Step drafting/ }).check();
    await page.getByRole("button", { name: "Dashboard" }).click();
    const dialog = page.getByTestId("unsaved-dialog");
    await expect(dialog).toBeVisible();
    await expect(dialog).toContainText("You changed some settings and have not saved them.");
    await dialog.getByRole("button", { name: "Keep editing" }).click();
    await expect(page.getByRole("heading", { name: "Settings", level: 1 })).toBeVisible();
    await expect(page.getByRole("radio", { name: /Step drafting/ })).toBeChecked();
    await page.getByRole("button", { name: "Dashboard" }).click();
    await page.getByTestId("unsaved-dialog").getByRole("button", { name: "Discard changes" }).click();
    await expect(page.getByRole("heading", { name: "Dashboard", level: 1 })).toBeVisible();
    expect(await calls(page, "settings_set")).toEqual([]);
    // Nothing changed: no question asked.
    await page.getByRole("button", { name: "Settings" }).click();
    await page.getByRole("button", { name: "Chat", exact: true }).click();
    await expect(page.getByTestId("unsaved-dialog")).toHaveCount(0);
  });

  test("a change followed at once by leaving still asks, and Discard undoes the preview", async ({ page }) => {
    // Found in the real app (tests/app/e2e.mjs): a click on "Chat" right
    // after a change left without asking, and the previewed dark colours
    // stayed after "Discard changes" — WebKitGTK under Xvfb paints late, so
    // effects that wait for a frame had not run. Chromium paints in time,
    // so here this checks the same path, each click its own task as real
    // input is; the real-app test is the one that failed before the fix.
    await openApp(page);
    await page.getByRole("button", { name: "Settings" }).click();
    await expect(page.locator("input[name=theme][value=dark]")).toHaveCount(1);
    await page.evaluate(() => (document.querySelector("input[name=theme][value=dark]") as HTMLInputElement).click());
    await page.evaluate(() =>
      [...document.querySelectorAll<HTMLButtonElement>(".nav-item")].find((b) => b.textContent?.includes("Chat"))?.click(),
    );
    const dialog = page.getByTestId("unsaved-dialog");
    await expect(dialog).toBeVisible();
    await dialog.getByRole("button", { name: "Discard changes" }).click();
    await expect(dialog).toHaveCount(0);
    await expect(page.locator("html")).not.toHaveAttribute("data-theme", "dark");
  });

  test("a choice made the moment Settings opens stays chosen", async ({ page }) => {
    await openApp(page);
    // Open Settings and choose the server as soon as its choice is on the
    // page, before the next frame: the screen must not reset its form after
    // the first click (the real app lost the choice this way under load).
    const checked = await page.evaluate(async () => {
      const nav = [...document.querySelectorAll<HTMLButtonElement>(".nav-item")].find((b) => b.textContent?.includes("Settings"));
      nav?.click();
      let radio: HTMLInputElement | null = null;
      for (let i = 0; i < 100 && !radio; i++) {
        await Promise.resolve();
        radio = document.querySelector<HTMLInputElement>("input[name=models_location][value=server]");
      }
      if (!radio) return "no server choice";
      radio.click();
      // Two frames and a pause: any effect waiting for a frame has run.
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      await new Promise((r) => setTimeout(r, 200));
      return document.querySelector<HTMLInputElement>("input[name=models_location][value=server]")?.checked ? "server" : "undone";
    });
    expect(checked).toBe("server");
    await expect(page.getByLabel("Server address")).toBeVisible();
    await expect(page.getByText("All changes saved.")).toHaveCount(0);
  });

  test("the models can run on a server: address, names, a key kept apart, and a connection test", async ({ page }) => {
    await openApp(page, { serverModels: ["qwen2.5-32b-instruct", "qwen2.5-1.5b-instruct"] });
    await page.getByRole("button", { name: "Settings" }).click();
    const section = page.getByTestId("models-location");
    await expect(page.getByRole("button", { name: "Choose a file for the main model" })).toBeVisible();
    await section.getByRole("radio", { name: "A server on your network" }).check();
    // The main model's file here is not used any more: the form says so.
    await expect(page.getByTestId("target-on-server")).toBeVisible();
    await expect(page.getByRole("button", { name: "Choose a file for the main model" })).toHaveCount(0);
    await expect(page.getByRole("button", { name: "Choose a file for the helper model" })).toBeVisible();
    await page.getByLabel("Server address").fill("gpu-box:8000");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByRole("alert")).toContainText("must start with http:// or https://");

    await page.getByLabel("Server address").fill("http://gpu-box:8000");
    await page.getByLabel("Main model’s name on the server").fill("qwen-72b");
    await page.getByRole("button", { name: "Test connection" }).click();
    await expect(section.getByRole("alert")).toContainText('has no model called "qwen-72b". It offers: qwen2.5-32b-instruct, qwen2.5-1.5b-instruct.');

    await page.getByLabel("Main model’s name on the server").fill("qwen2.5-32b-instruct");
    await page.getByLabel("Helper model’s name on the server").fill("qwen2.5-1.5b-instruct");
    await expect(page.getByTestId("draft-on-server")).toBeVisible();
    await expect(page.getByRole("button", { name: "Choose a file for the helper model" })).toHaveCount(0);
    await page.getByLabel("Key (only if the server needs one)").fill("s3cret");
    await page.getByRole("button", { name: "Test connection" }).click();
    await expect(page.getByTestId("server-test-result")).toHaveText(
      "Connected: qwen2.5-32b-instruct (32,768 tokens of context); helper: qwen2.5-1.5b-instruct.",
    );
    await shot(page, "settings-server");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByText("All changes saved.")).toBeVisible();
    const [saved] = (await calls(page, "settings_set")).slice(-1);
    expect(saved.args.settings).toMatchObject({
      models_location: "server",
      server_url: "http://gpu-box:8000",
      server_model: "qwen2.5-32b-instruct",
      server_draft_model: "qwen2.5-1.5b-instruct",
      server_key: "s3cret",
    });
    // The key is never shown again; the form says one is kept.
    await expect(page.getByLabel("Key (only if the server needs one)")).toHaveValue("");
    await expect(page.getByText("A key is kept (in its own file, not with your history).")).toBeVisible();
    // Saved means saved: leaving asks nothing.
    await page.getByRole("button", { name: "Chat", exact: true }).click();
    await expect(page.getByTestId("unsaved-dialog")).toHaveCount(0);
  });
});
