import { type Page } from "@playwright/test";
import { calls, expect, openApp, savedFiles, shot, test } from "./fixtures";

function ymd(d: Date) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** Number of painted pixels on a chart canvas. */
function painted(page: Page, testId: string) {
  return page.getByTestId(testId).evaluate((c: HTMLCanvasElement) => {
    const ctx = c.getContext("2d")!;
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
    return n;
  });
}

test.describe("dashboard", () => {
  test("shows totals, three charts and the table by configuration", async ({ page }) => {
    await openApp(page);
    await page.getByRole("button", { name: "Dashboard" }).click();
    await expect(page.getByRole("heading", { name: "Dashboard", level: 1 })).toBeVisible();

    await expect(page.getByTestId("stat-answers")).toContainText(/Answers\s*\d+/);
    await expect(page.getByTestId("stat-speedup")).toContainText(/\d\.\d×/);
    await expect(page.getByTestId("stat-steps")).toContainText(/\d+%/);

    for (const id of ["chart-over-time", "chart-speedup", "chart-position"]) {
      const canvas = page.getByTestId(id);
      await expect(canvas).toBeVisible();
      await expect(canvas).toHaveAttribute("aria-label", /chart/);
      await expect.poll(() => painted(page, id)).toBeGreaterThan(500);
    }
    await expect(page.getByTestId("chart-position")).toHaveAttribute("aria-label", /1st step ahead 88%/);

    const table = page.getByTestId("config-table");
    await expect(table.locator("tbody tr")).toHaveCount(3);
    // Friendly names for what the shell records ("….gguf", "embed@0.95"), the key columns first.
    const first = table.locator("tbody tr").first();
    await expect(first.locator("td").nth(0)).toHaveText("Qwen2.5-Coder 1.5B");
    await expect(first.locator("td").nth(1)).toHaveText("1.8×");
    await expect(first.locator("td").nth(3)).toHaveText("Qwen2.5-Coder 0.5B");
    await expect(first.locator("td").nth(4)).toHaveText("Meaning match ≥ 0.95");
    await expect(table).not.toContainText(".gguf");
    await expect(table).not.toContainText("embed@");
    await expect(table.locator("tbody tr").first()).toContainText("1.8×");
    await shot(page, "10-dashboard");
  });

  test("filters by date", async ({ page }) => {
    await openApp(page);
    await page.getByRole("button", { name: "Dashboard" }).click();
    const today = new Date();
    const weekAgo = new Date(today);
    weekAgo.setDate(today.getDate() - 6);
    await expect.poll(async () => (await calls(page, "stats_query")).at(-1)?.args.until).toBe(ymd(today));

    await page.getByRole("button", { name: "Last 7 days" }).click();
    await expect(page.getByRole("button", { name: "Last 7 days" })).toHaveAttribute("aria-pressed", "true");
    await expect.poll(async () => (await calls(page, "stats_query")).at(-1)!.args).toEqual({ since: ymd(weekAgo), until: ymd(today) });

    await page.getByRole("button", { name: "All time" }).click();
    await expect.poll(async () => (await calls(page, "stats_query")).at(-1)!.args).toEqual({ since: null, until: null });

    await page.getByLabel("From").fill(ymd(weekAgo));
    await expect.poll(async () => (await calls(page, "stats_query")).at(-1)!.args).toEqual({ since: ymd(weekAgo), until: null });
  });

  test("exports CSV", async ({ page }) => {
    await openApp(page);
    await page.getByRole("button", { name: "Dashboard" }).click();
    await page.getByRole("button", { name: "All time" }).click();
    await page.getByRole("button", { name: "Export CSV" }).click();
    await expect(page.getByTestId("toast").filter({ hasText: "Saved to /home/alex/Documents/lookahead-stats-start-to-" })).toBeVisible();
    expect((await calls(page, "stats_csv_to_file"))[0].args).toEqual({ since: null, until: null });
    const files = Object.values(await savedFiles(page));
    expect(files[0].split("\n")[0]).toBe("day,answers,step_acceptance_rate,token_acceptance_rate,mean_speedup");
  });

  test("explains an empty period", async ({ page }) => {
    await openApp(page, { emptyStats: true });
    await page.getByRole("button", { name: "Dashboard" }).click();
    await expect(page.getByRole("heading", { name: "No answers in this period" })).toBeVisible();
    await expect(page.getByRole("button", { name: "Export CSV" })).toBeDisabled();
  });

  test("an empty chart says why it is empty", async ({ page }) => {
    await openApp(page, { plainStats: true });
    await page.getByRole("button", { name: "Dashboard" }).click();
    await expect(page.getByTestId("chart-over-time-empty")).toHaveText(
      "Nothing drafted in this period yet: drafting shows here once answers use a speed-up mode.",
    );
    await expect(page.getByTestId("chart-speedup-empty")).toContainText("No speed-up figures yet");
    await expect(page.getByTestId("chart-position-empty")).toContainText("No drafted steps yet");
    await expect(page.locator("canvas")).toHaveCount(0);
  });
});
