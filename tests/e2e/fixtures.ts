// Shared helpers: open the app with the fake Tauri shell, read recorded calls, take screenshots.
import { expect, type Page, test as base } from "@playwright/test";
import * as path from "node:path";
import type { MockConfig } from "./mock/tauri-mock";
import { MOCK_BUNDLE, SCREENSHOTS } from "./paths";

export { expect };

export interface RecordedCall {
  cmd: string;
  args: Record<string, unknown>;
}

export const test = base.extend<{ errors: string[] }>({
  // Fail any test whose page throws or logs an error.
  errors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(`console: ${m.text()}`);
      });
      await use(errors);
      expect(errors, "errors in the page").toEqual([]);
    },
    { auto: true },
  ],
});

export async function openApp(page: Page, config: MockConfig = {}) {
  await page.addInitScript((cfg) => {
    (window as unknown as { __LOOKAHEAD_MOCK_CONFIG__: unknown }).__LOOKAHEAD_MOCK_CONFIG__ = cfg;
  }, config);
  await page.addInitScript({ path: MOCK_BUNDLE });
  await page.goto("/");
}

export async function calls(page: Page, cmd?: string): Promise<RecordedCall[]> {
  const all = await page.evaluate(() => (window as unknown as { __LOOKAHEAD_MOCK__: { calls: RecordedCall[] } }).__LOOKAHEAD_MOCK__.calls);
  return cmd ? all.filter((c) => c.cmd === cmd) : all;
}

export async function savedFiles(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() => (window as unknown as { __LOOKAHEAD_MOCK__: { files: Record<string, string> } }).__LOOKAHEAD_MOCK__.files);
}

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

/** Modifier for shortcuts (the app accepts Ctrl or ⌘). */
export const MOD = "Control";
