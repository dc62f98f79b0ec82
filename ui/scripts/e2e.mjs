// Runs the Playwright suite in ../tests/e2e with the packages from this folder.
// The specs live outside ui/, so Node is told where ui/node_modules is (NODE_PATH).
// Extra arguments go to `playwright test`, e.g. `npm run test:e2e:only -- chat.spec.ts`.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ui = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const config = join(ui, "..", "tests", "e2e", "playwright.config.ts");
if (!existsSync(join(ui, "dist", "index.html"))) {
  console.error("ui/dist is missing: run `npm run build` first (or `npm run test:e2e`).");
  process.exit(1);
}
const nodePath = [join(ui, "node_modules"), process.env.NODE_PATH].filter(Boolean).join(delimiter);
const cli = join(ui, "node_modules", "@playwright", "test", "cli.js");
const r = spawnSync(process.execPath, [cli, "test", "-c", config, ...process.argv.slice(2)], {
  cwd: ui,
  stdio: "inherit",
  env: { ...process.env, NODE_PATH: nodePath },
});
process.exit(r.status ?? 1);
